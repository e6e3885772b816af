package prune

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// cliInputs are the inputs `shears run MODEL --random-input --batch B`
// feeds at its default --seed 1 (randomInputs in cmd/shears/cmd_run.go),
// written out here so that a change on either side fails
// TestLatenciesDeployedPath.
func cliInputs(g *graph.Graph, batch int) []*tensor.Tensor {
	return graph.RandomInputs(g, batch, rand.New(rand.NewPCG(1, 0x1a9)))
}

// withTimedTurn installs the timedTurn hook for one test.
func withTimedTurn(t *testing.T, hook func(model int, p *cpu.Program, inputs []*tensor.Tensor)) {
	t.Helper()
	timedTurn = hook
	t.Cleanup(func() { timedTurn = nil })
}

// TestLatenciesDeployedPath: the programs Latencies times are the ones
// `shears run` times — compiled with CompileInference (inference only, its
// graph the BatchNorm-folded copy), on the CLI's threads and random inputs,
// computing bit for bit what the CLI's program computes — and each model
// gets runs turns, taken in turn.
func TestLatenciesDeployedPath(t *testing.T) {
	var gs []*graph.Graph
	for _, name := range []string{"resnet20", "lenet5"} { // BatchNorm, residual Adds, ReLUs; two input signatures
		m, err := zoo.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, m.Build(1))
	}
	const batch, runs = 2, 3
	var order []int
	withTimedTurn(t, func(model int, p *cpu.Program, inputs []*tensor.Tensor) {
		order = append(order, model)
		g := gs[model]
		if _, err := p.Forward(true, inputs...); err == nil {
			t.Errorf("model %d: the timed program runs a training step: not compiled with CompileInference", model)
		}
		hasBN := func(g *graph.Graph) bool {
			return slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return n.Op == "BatchNormalization" })
		}
		if hasBN(g) && hasBN(p.Graph) {
			t.Errorf("model %d: the timed program kept its BatchNormalization nodes", model)
		}
		if p.Threads != 0 {
			t.Errorf("model %d: program threads %d, want 0 (parallel.Threads(), as shears run)", model, p.Threads)
		}
		want := cliInputs(g, batch)
		if len(inputs) != len(want) {
			t.Fatalf("model %d: %d inputs, the CLI feeds %d", model, len(inputs), len(want))
		}
		for k := range want {
			if !slices.Equal(inputs[k].Shape, want[k].Shape) || !slices.Equal(inputs[k].Data, want[k].Data) {
				t.Errorf("model %d: input %d differs from shears run --random-input's", model, k)
			}
		}
		cli, err := cpu.CompileInference(g)
		if err != nil {
			t.Fatal(err)
		}
		wantOut, err := cli.Forward(false, want...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Forward(false, inputs...)
		if err != nil {
			t.Fatal(err)
		}
		for k := range wantOut {
			if !slices.Equal(got[k].Data, wantOut[k].Data) {
				t.Errorf("model %d: output %d differs from the CLI's program's", model, k)
			}
		}
	})
	ds, err := Latencies(context.Background(), gs, batch, runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(gs) || slices.ContainsFunc(ds, func(d time.Duration) bool { return d <= 0 }) {
		t.Errorf("latencies %v", ds)
	}
	if want := []int{0, 1, 0, 1, 0, 1}; !slices.Equal(order, want) {
		t.Errorf("turns %v, want %v (models alternating, %d passes each)", order, want, runs)
	}
}

// wideGraph is a stack of 1×1 convolutions and ReLUs on 8 channels of
// 64×64: megabytes of activations per image for a few hundred weights.
func wideGraph(seed int) *graph.Graph {
	b := newGB(fmt.Sprint("wide", seed), 8, 64, 64)
	x := "x"
	for i := range 12 {
		x = b.op(fmt.Sprint("relu", i), "Relu", nil, b.conv(fmt.Sprint("conv", i), x, 8, 8, 1, 1))
	}
	return b.head(x, 8)
}

// programHeap is how much the heap grows by while one inference program
// for g, with its inputs, has run once at a batch.
func programHeap(t *testing.T, g *graph.Graph, batch int) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	p, err := cpu.CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Forward(false, cliInputs(g, batch)...); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(p)
	return ms.HeapAlloc - min(ms.HeapAlloc, before)
}

// TestLatenciesOneProgramAtATime: while a model is timed, the heap holds
// its program's buffers and not the other models' (they are compiled per
// turn and collected between turns), even when a large live heap would
// let the collector wait.
func TestLatenciesOneProgramAtATime(t *testing.T) {
	gs := []*graph.Graph{wideGraph(1), wideGraph(2), wideGraph(3)}
	const batch = 16
	one := programHeap(t, gs[0], batch)
	// Live ballast raises the collector's next target well above three
	// programs' buffers: without a collection between turns, the earlier
	// turns' programs would still be counted.
	ballast := make([]byte, 4*one)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	withTimedTurn(t, func(int, *cpu.Program, []*tensor.Tensor) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc-min(ms.HeapAlloc, base))
	})
	if _, err := Latencies(context.Background(), gs, batch, 2); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(ballast)
	t.Logf("one program: %.1f MB; heap above the start while timing: %.1f MB", float64(one)/1e6, float64(peak)/1e6)
	if peak == 0 || peak > one*3/2 {
		t.Errorf("heap grew by %.1f MB while timing, one program takes %.1f MB: programs outlive their turn",
			float64(peak)/1e6, float64(one)/1e6)
	}
}

// blockOp is an identity that, in Forward, says it started and waits
// until released: a forward pass that takes as long as the test wants.
type blockOp struct {
	started chan<- struct{}
	release <-chan struct{}
}

func (blockOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) { return [][]int{in[0]}, nil }
func (o blockOp) Forward(_ *cpu.Ctx, in, out []*tensor.Tensor) error {
	select {
	case o.started <- struct{}{}:
	default:
	}
	<-o.release
	copy(out[0].Data, in[0].Data)
	return nil
}
func (blockOp) Backward(_ *cpu.Ctx, in, out, gout, gin []*tensor.Tensor) error { return nil }

// blockStarted and blockRelease are the channels of the blockOps compiled
// from here on (each test run makes its own).
var (
	registerBlockOp sync.Once
	blockStarted    chan struct{}
	blockRelease    chan struct{}
)

// TestLatenciesCancel: a cancelled context stops Latencies before it
// starts and in the middle of a pass that does not end by itself, with an
// error that says the timing was interrupted.
func TestLatenciesCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release) // lets the abandoned pass end
	blockStarted, blockRelease = started, release
	registerBlockOp.Do(func() {
		cpu.Register("ShearsTestBlock", func(*graph.Node) (cpu.Op, error) { return blockOp{blockStarted, blockRelease}, nil })
	})
	b := newGB("blocking", 4)
	g := b.done(b.op("block", "ShearsTestBlock", nil, "x"))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Latencies(ctx, []*graph.Graph{g}, 1, 3); !errors.Is(err, ErrTimingInterrupted) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := Latencies(ctx, []*graph.Graph{g, g}, 1, 3)
		errc <- err
	}()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("Latencies returned before its first pass blocked: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the first pass never started")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTimingInterrupted) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "model 1 of 2, pass 1 of 3") {
			t.Errorf("cancelled in a pass: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Latencies still running a second after the context was cancelled")
	}
}

// TestLatenciesBadInput: bad arguments are errors, not panics or zeros.
func TestLatenciesBadInput(t *testing.T) {
	m, _ := zoo.Get("lenet300")
	g := m.Build(1)
	for _, tc := range []struct {
		gs          []*graph.Graph
		batch, runs int
		want        string
	}{
		{[]*graph.Graph{g}, 0, 1, "batch 0"},
		{[]*graph.Graph{g}, 1, 0, "runs 0"},
		{[]*graph.Graph{g, nil}, 1, 1, "model 2 of 2: no graph"},
	} {
		if _, err := Latencies(context.Background(), tc.gs, tc.batch, tc.runs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("batch %d, runs %d: error %v, want %q", tc.batch, tc.runs, err, tc.want)
		}
	}
}
