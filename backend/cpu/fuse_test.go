package cpu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// foldedZoo builds a zoo model with BatchNorm folded, as exported for
// inference.
func foldedZoo(tb testing.TB, name string) *graph.Graph {
	tb.Helper()
	m, err := zoo.Get(name)
	if err != nil {
		tb.Fatal(err)
	}
	g, _, err := graph.FoldBatchNorm(m.Build(1))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// TestBlockedSegments: where the machine has the blocked kernels,
// CompileInference runs the convolutions of every zoo model with any (all
// but the MLPs) in blocked segments, and the outputs match the plain
// program's within float rounding, at batch 1 and 5, on one and two
// threads, over repeated runs (buffers are reused).
func TestBlockedSegments(t *testing.T) {
	if !cpu.SetBlocked(true) {
		t.Skip("no AVX-512: blocked segments are not used on this machine")
	}
	for _, name := range zoo.Names() {
		g := foldedZoo(t, name)
		ref, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := cpu.CompileInference(g)
		if err != nil {
			t.Fatal(err)
		}
		convs := 0
		for _, n := range g.Nodes {
			if n.Op == "Conv" {
				convs++
			}
		}
		if got := cpu.BlockedNodes(fast); convs > 0 && got < convs-1 {
			t.Errorf("%s: %d nodes in blocked segments, %d convolutions", name, got, convs)
		}
		for _, threads := range []int{1, 2} {
			ref.Threads, fast.Threads = threads, threads
			for _, batch := range []int{1, 5, 1} {
				xs := graph.RandomInputs(g, batch, rand.New(rand.NewPCG(uint64(batch), 3)))
				want, err := ref.Forward(false, xs...)
				if err != nil {
					t.Fatal(err)
				}
				got, err := fast.Forward(false, xs...)
				if err != nil {
					t.Fatal(err)
				}
				if d := tensor.RelDiff(got[0], want[0]); d > 1e-5 {
					t.Fatalf("%s batch %d threads %d: relative difference %.2g", name, batch, threads, d)
				}
			}
		}
	}
}

// TestCompileInference: with activations fused into the convolutions and
// residual additions before them, and residual additions into the
// convolutions before them, every zoo model (BatchNorm folded, as exported for
// inference) gives bit-identical outputs to the unfused program, at batch
// 1 and 5 and on one and two threads, and the fusion really happened
// where a Relu or Clip is a convolution's or an Add's only reader.
func TestCompileInference(t *testing.T) {
	// The NCHW program: the blocked one sums in another order (below).
	defer cpu.SetBlocked(cpu.SetBlocked(false))
	for _, name := range zoo.Names() {
		g := foldedZoo(t, name)
		ref, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		fused, err := cpu.CompileInference(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{1, 2} {
			ref.Threads, fused.Threads = threads, threads
			for _, batch := range []int{1, 5} {
				xs := graph.RandomInputs(g, batch, rand.New(rand.NewPCG(uint64(batch), 3)))
				want, err := ref.Forward(false, xs...)
				if err != nil {
					t.Fatal(err)
				}
				wantData := append([]float32(nil), want[0].Data...)
				got, err := fused.Forward(false, xs...)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range got[0].Data {
					if v != wantData[i] {
						t.Fatalf("%s batch %d threads %d: output[%d] = %g fused, %g unfused", name, batch, threads, i, v, wantData[i])
					}
				}
			}
		}
		// Fused values are one tensor: seen with a buffer per value.
		fused.KeepValues(true)
		if _, err := fused.Forward(false, graph.RandomInputs(g, 1, rand.New(rand.NewPCG(1, 3)))...); err != nil {
			t.Fatal(err)
		}
		fusedPairs, fusedAdds := 0, 0
		readers, producer := g.Consumers(), g.Producers()
		for _, n := range g.Nodes {
			if n.Op != "Relu" && n.Op != "Clip" {
				continue
			}
			src := n.Inputs[0]
			if p := producer[src]; p == nil || (p.Op != "Conv" && p.Op != "Add") || len(readers[src]) != 1 {
				continue
			}
			if fused.Value(src) != fused.Value(n.Outputs[0]) {
				t.Errorf("%s: %s after %s not fused", name, n.Name, producer[src].Name)
			}
			fusedPairs++
			if producer[src].Op == "Add" {
				fusedAdds++
			}
		}
		if name != "lenet5" && name != "lenet300" && fusedPairs == 0 {
			t.Errorf("%s: no Conv+activation pair fused", name)
		}
		if name == "resnet20" && fusedAdds == 0 {
			t.Errorf("%s: no Add+Relu pair fused", name)
		}
		// Residual Adds taken into the convolution before them: the Add's
		// output is then that convolution's output tensor.
		residuals := 0
		for _, n := range g.Nodes {
			if n.Op != "Add" {
				continue
			}
			for _, in := range n.Inputs {
				if p := producer[in]; p != nil && p.Op == "Conv" && fused.Value(in) == fused.Value(n.Outputs[0]) {
					residuals++
				}
			}
		}
		if want := map[string]int{"resnet20": 9, "mobilenetv2-s": 5}[name]; residuals != want {
			t.Errorf("%s: %d residual Adds fused into convolutions, want %d", name, residuals, want)
		}
		if _, err := fused.Forward(true, graph.RandomInputs(g, 2, rand.New(rand.NewPCG(1, 1)))...); err == nil {
			t.Errorf("%s: a training Forward on an inference-only program did not fail", name)
		}
	}
}
