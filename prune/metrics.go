package prune

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Metrics are ShrinkBench's measures of a pruned model (Blalock et al.
// 2020, "What is the State of Neural Network Pruning?") plus measured
// time. Params and MACs are those of graph.Stats: trainable elements, and
// multiply-accumulates of Conv, Gemm and MatMul for one image.
type Metrics struct {
	Params        int     `json:"params"`         // dense model before pruning
	Nonzero       int     `json:"nonzero_params"` // non-zero params after pruning (masked model)
	Compression   float64 `json:"compression"`    // Params / Nonzero
	MACs          int     `json:"macs"`           // dense model before pruning
	EffectiveMACs int     `json:"effective_macs"` // MACs of non-zero weights after pruning
	Speedup       float64 `json:"speedup"`        // theoretical: MACs / EffectiveMACs
	// Slimmed model (structured granularities only).
	SlimParams int `json:"slim_params,omitempty"`
	SlimMACs   int `json:"slim_macs,omitempty"`
	// Top-1 accuracy on the test images, when data was given.
	AccuracyBefore    *float64 `json:"accuracy_before,omitempty"`
	AccuracyPruned    *float64 `json:"accuracy_pruned,omitempty"`
	AccuracyFinetuned *float64 `json:"accuracy_finetuned,omitempty"`
	AccuracyReinit    *float64 `json:"accuracy_reinit,omitempty"` // lottery ticket's random re-initialisation control
	// Median forward time in milliseconds, per model ("dense", "masked",
	// "slim") and batch size ("1", "64"), on the path `shears run` deploys
	// (cpu.CompileInference, the same threads and random inputs), the
	// models timed taking turns (Latencies).
	LatencyMS map[string]map[string]float64 `json:"latency_ms,omitempty"`
	Layers    []LayerMetrics                `json:"layers"`
}

// LayerMetrics is one conv or linear layer's row of the per-layer table.
type LayerMetrics struct {
	Name          string  `json:"name"`
	Op            string  `json:"op"`
	Params        int     `json:"params"`
	Nonzero       int     `json:"nonzero_params"`
	Sparsity      float64 `json:"sparsity"`
	MACs          int     `json:"macs"`
	EffectiveMACs int     `json:"effective_macs"`
	SlimParams    int     `json:"slim_params,omitempty"`
	SlimMACs      int     `json:"slim_macs,omitempty"`
}

// Measure compares a dense model with its masked version and, when slim
// is not nil, its slimmed one.
func Measure(dense, masked, slim *graph.Graph) (*Metrics, error) {
	_, td, err := graph.Stats(dense)
	if err != nil {
		return nil, err
	}
	rows, tm, err := graph.Stats(masked)
	if err != nil {
		return nil, err
	}
	m := &Metrics{Params: td.Params, Nonzero: tm.Nonzero, MACs: td.MACs}
	slimRows := map[string]graph.NodeStats{}
	if slim != nil {
		rs, ts, err := graph.Stats(slim)
		if err != nil {
			return nil, err
		}
		m.SlimParams, m.SlimMACs = ts.Params, ts.MACs
		for _, r := range rs {
			slimRows[r.Name] = r
		}
	}
	params := masked.ParamMap()
	for i, r := range rows {
		if r.MACs == 0 && r.Params == 0 {
			continue
		}
		n := masked.Nodes[i]
		eff := r.MACs
		if len(n.Inputs) > 1 {
			if w := params[n.Inputs[1]]; w != nil {
				eff = int(float64(r.MACs) * float64(nonzero(w.Value.Data)) / float64(max(w.Value.Len(), 1)))
			}
		}
		m.EffectiveMACs += eff
		if r.MACs == 0 {
			continue // BatchNorm and the like: counted in the totals only
		}
		lm := LayerMetrics{Name: r.Name, Op: r.Op, Params: r.Params, Nonzero: r.Nonzero, MACs: r.MACs, EffectiveMACs: eff}
		if r.Params > 0 {
			lm.Sparsity = 1 - float64(r.Nonzero)/float64(r.Params)
		}
		if s, ok := slimRows[r.Name]; ok {
			lm.SlimParams, lm.SlimMACs = s.Params, s.MACs
		}
		m.Layers = append(m.Layers, lm)
	}
	if m.Nonzero > 0 {
		m.Compression = float64(m.Params) / float64(m.Nonzero)
	}
	if m.EffectiveMACs > 0 {
		m.Speedup = float64(m.MACs) / float64(m.EffectiveMACs)
	}
	return m, nil
}

func nonzero(x []float32) int {
	n := 0
	for _, v := range x {
		if v != 0 {
			n++
		}
	}
	return n
}

// Lines prints the metrics as a few human-readable lines.
func (m *Metrics) Lines() []string {
	lines := []string{
		fmt.Sprintf("params %d, nonzero %d (compression %.2f×); MACs %d, effective %d (theoretical speedup %.2f×)",
			m.Params, m.Nonzero, m.Compression, m.MACs, m.EffectiveMACs, m.Speedup),
	}
	if m.SlimParams > 0 {
		lines = append(lines, fmt.Sprintf("slimmed: params %d (%s), MACs %d (%s)", m.SlimParams, percent(m.Params, m.SlimParams), m.SlimMACs, percent(m.MACs, m.SlimMACs)))
	}
	acc := ""
	for _, a := range []struct {
		name string
		v    *float64
	}{{"before", m.AccuracyBefore}, {"pruned", m.AccuracyPruned}, {"fine-tuned", m.AccuracyFinetuned}, {"random re-init", m.AccuracyReinit}} {
		if a.v != nil {
			acc += fmt.Sprintf(", %s %.2f%%", a.name, 100**a.v)
		}
	}
	if acc != "" {
		lines = append(lines, "top-1"+acc[1:])
	}
	for _, model := range []string{"dense", "masked", "slim"} {
		if l, ok := m.LatencyMS[model]; ok {
			lines = append(lines, fmt.Sprintf("latency %s (as shears run runs it): %.3f ms at batch 1, %.3f ms at batch 64", model, l["1"], l["64"]))
		}
	}
	return lines
}

// ErrTimingInterrupted is returned (wrapped, with the context's error)
// when Latencies' context is cancelled.
var ErrTimingInterrupted = errors.New("latency timing interrupted")

// deployedInputSeed is the PCG stream `shears run --random-input` draws
// its inputs from at its default --seed 1 (cmd/shears randomInputs):
// latencies in reports are then timed on the very tensors the CLI feeds.
var deployedInputSeed = [2]uint64{1, 0x1a9}

// timedTurn, when set (tests only), sees each turn's program and inputs
// once the turn's pass is timed, before the program is released.
var timedTurn func(model int, p *cpu.Program, inputs []*tensor.Tensor)

// Latencies times several models at one batch size on the path `shears
// run` deploys them on: compiled with cpu.CompileInference (BatchNorm
// folded, residual Adds and activations fused, the blocked NCHW16c layout
// where the machine has its kernels), run with parallel.Threads() workers,
// on the standard-normal inputs `shears run --random-input` makes. It
// returns each model's median over runs timed passes.
//
// The models take turns, one pass at a time, so that all see the same
// machine conditions (a shared machine's load changes from second to
// second). A turn compiles its model, runs one untimed pass (the first
// pass allocates and first touches every buffer), times one pass and
// releases the program before the next model's turn: memory peaks at what
// `shears run` needs for the largest of the models at this batch, plus the
// graphs the caller holds and one set of inputs per input signature.
// Models that share the input shapes (dense, masked and slimmed versions
// of one network) share the inputs.
//
// Cancelling ctx stops the timing at once, even inside a pass: Latencies
// returns an error wrapping ErrTimingInterrupted and ctx.Err(); the pass in
// flight finishes in the background and its program is then freed.
func Latencies(ctx context.Context, gs []*graph.Graph, batch, runs int) ([]time.Duration, error) {
	if batch < 1 {
		return nil, fmt.Errorf("latency batch %d: must be ≥ 1", batch)
	}
	if runs < 1 {
		return nil, fmt.Errorf("latency runs %d: must be ≥ 1", runs)
	}
	inputs := make([][]*tensor.Tensor, len(gs))
	bySignature := map[string][]*tensor.Tensor{}
	for k, g := range gs {
		if g == nil {
			return nil, fmt.Errorf("model %d of %d: no graph", k+1, len(gs))
		}
		sig := inputSignature(g)
		if bySignature[sig] == nil {
			bySignature[sig] = graph.RandomInputs(g, batch, rand.New(rand.NewPCG(deployedInputSeed[0], deployedInputSeed[1])))
		}
		inputs[k] = bySignature[sig]
	}
	times := make([][]time.Duration, len(gs))
	for turn := range runs {
		for k, g := range gs {
			d, err := timeTurn(ctx, k, g, inputs[k])
			if cerr := ctx.Err(); cerr != nil {
				return nil, fmt.Errorf("%w (model %d of %d, pass %d of %d): %w", ErrTimingInterrupted, k+1, len(gs), turn+1, runs, cerr)
			}
			if err != nil {
				return nil, fmt.Errorf("model %d of %d: %w", k+1, len(gs), err)
			}
			// The turn's program, with every activation at this batch,
			// is garbage now: collecting it before the next turn
			// allocates its own keeps two programs' buffers from being
			// resident at once (the collector would otherwise wait for
			// the heap to double).
			runtime.GC()
			times[k] = append(times[k], d)
		}
	}
	med := make([]time.Duration, len(gs))
	for k, ts := range times {
		slices.Sort(ts)
		med[k] = ts[len(ts)/2]
	}
	return med, nil
}

// timeTurn is one model's turn of Latencies: compile, an untimed pass, a
// timed pass. It returns early, with no time, when ctx is cancelled.
func timeTurn(ctx context.Context, model int, g *graph.Graph, inputs []*tensor.Tensor) (time.Duration, error) {
	if ctx.Err() != nil {
		return 0, nil
	}
	prog, err := cpu.CompileInference(g)
	if err != nil {
		return 0, err
	}
	type result struct {
		d   time.Duration
		err error
	}
	// Forward cannot be stopped from outside; the passes run on their own
	// goroutine so that a cancelled ctx returns now, not after a pass that
	// may take seconds (a large model at batch 64).
	done := make(chan result, 1)
	go func(prog *cpu.Program) {
		if _, err := prog.Forward(false, inputs...); err != nil || ctx.Err() != nil {
			done <- result{err: err}
			return
		}
		t0 := time.Now()
		_, err := prog.Forward(false, inputs...)
		done <- result{time.Since(t0), err}
	}(prog)
	select {
	case r := <-done:
		if r.err == nil && ctx.Err() == nil && timedTurn != nil {
			timedTurn(model, prog, inputs)
		}
		return r.d, r.err
	case <-ctx.Done():
		return 0, nil
	}
}

// inputSignature names a graph's input shapes (dynamic dimensions as -1).
func inputSignature(g *graph.Graph) string {
	var b strings.Builder
	for _, in := range g.Inputs {
		fmt.Fprint(&b, in.Shape, ";")
	}
	return b.String()
}
