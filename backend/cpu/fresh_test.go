package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// freshTestGraph has values with several readers (a residual add, a
// concat), a node that reads a value twice, an output nobody reads,
// BatchNorm, depthwise and strided convolutions and pooling.
// newTestGraph starts a graph with one input "x" of the given shape and
// returns helpers that add a random trainable param and a one-output node
// (named after its output), each returning the name.
func newTestGraph(name string, input []int, r *rand.Rand) (g *graph.Graph, param func(name string, shape ...int) string, node func(name, op string, attrs graph.Attrs, in ...string) string) {
	g = &graph.Graph{Name: name}
	g.Inputs = []graph.ValueInfo{{Name: "x", Shape: input}}
	param = func(name string, shape ...int) string {
		g.AddParam(name, testutil.UniformTensor(r, shape...), true)
		return name
	}
	node = func(name, op string, attrs graph.Attrs, in ...string) string {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Attrs: attrs, Inputs: in, Outputs: []string{name}})
		return name
	}
	return g, param, node
}

func freshTestGraph() *graph.Graph {
	r := rand.New(rand.NewPCG(81, 82))
	g, param, node := newTestGraph("fresh", []int{-1, 3, 8, 8}, r)
	bn := func(name, x string, c int) string {
		s := param(name+".s", c)
		b := param(name+".b", c)
		g.AddParam(name+".m", tensor.New(c), false)
		v := tensor.New(c)
		v.Fill(1)
		g.AddParam(name+".v", v, false)
		return node(name, "BatchNormalization", nil, x, s, b, name+".m", name+".v")
	}
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	a := node("relu0", "Relu", nil, bn("bn0", node("conv0", "Conv", pad1, "x", param("w0", 8, 3, 3, 3)), 8))
	// A value nobody reads, early in the graph: its gradient is never
	// written, so its producer must read it as zero (with shared buffers
	// it would otherwise hold another value's gradient).
	node("dead", "Relu", nil, node("deadconv", "Conv", pad1, a, param("wdead", 8, 8, 3, 3)))
	b := node("relu1", "Relu", nil, bn("bn1", node("conv1", "Conv", pad1, a, param("w1", 8, 8, 3, 3)), 8))
	sum := node("add", "Add", nil, a, b)   // a read twice (residual)
	sq := node("sq", "Mul", nil, sum, sum) // one node reads sum twice
	dw := node("dw", "Conv", graph.Attrs{"pads": []int{1, 1, 1, 1}, "group": 8}, sq, param("wd", 8, 1, 3, 3))
	down := node("down", "Conv", graph.Attrs{"strides": []int{2, 2}}, node("relu2", "Relu", nil, dw), param("w2", 4, 8, 1, 1))
	// Split with an output nobody reads: its gradient must read as zero.
	g.Nodes = append(g.Nodes, &graph.Node{Name: "split", Op: "Split", Attrs: graph.Attrs{"axis": 1, "split": []int{4, 4}}, Inputs: []string{a}, Outputs: []string{"sp0", "sp1"}})
	cat := node("cat", "Concat", graph.Attrs{"axis": 1}, down, node("mp", "MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, "sp0"))
	out := node("gap", "GlobalAveragePool", nil, cat)
	g.Outputs = []graph.ValueInfo{{Name: out}}
	return g
}

// TestFreshGrads: ops that overwrite fresh input gradients
// (FreshGradWriter) must give exactly the gradients of the clear-then-add
// scheme, in a graph where values have several readers, one node reads a
// value twice, and buffers hold the previous step's gradients.
func TestFreshGrads(t *testing.T) {
	r := rand.New(rand.NewPCG(85, 86))
	g := freshTestGraph()
	x := testutil.UniformTensor(r, 2, 3, 8, 8)
	seed := testutil.UniformTensor(r, 2, 8, 1, 1)
	run := func(fresh bool) map[string][]float32 {
		noFreshGrads = !fresh
		defer func() { noFreshGrads = false }()
		p, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		p.Threads = 2
		p.SetInputGrad(true)
		grads := map[string][]float32{}
		for step := 0; step < 2; step++ { // the second step starts from stale buffers
			if _, err := p.Forward(true, x); err != nil {
				t.Fatal(err)
			}
			if err := p.Backward(seed); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"x", "relu0", "add", "sum", "sq", "dw", "cat"} {
			if v := p.ValueGrad(name); v != nil {
				grads[name] = append([]float32(nil), v.Data...)
			}
		}
		for _, prm := range g.Params {
			if gr := p.Grad(prm.Name); gr != nil {
				grads[prm.Name] = append([]float32(nil), gr.Data...)
			}
		}
		return grads
	}
	want, got := run(false), run(true)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d gradients, want %d", len(got), len(want))
	}
	for name, w := range want {
		gv := got[name]
		for i := range w {
			if gv[i] != w[i] {
				t.Fatalf("gradient of %s [%d] = %g with fresh writes, %g without", name, i, gv[i], w[i])
			}
		}
	}
}

// TestShareGradients: with activation gradients in shared buffers
// (Program.ShareGradients), parameter gradients are bit-identical to
// unshared ones, over several steps and a batch-size change, and the
// buffers really are shared.
func TestShareGradients(t *testing.T) {
	for _, build := range []func() *graph.Graph{freshTestGraph} {
		g := build()
		run := func(share bool) (map[string][]float32, *Program) {
			p, err := Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			p.Threads = 2
			p.ShareGradients(share)
			grads := map[string][]float32{}
			for step, batch := range []int{2, 2, 3, 2} {
				rs := rand.New(rand.NewPCG(uint64(step), 1))
				x := testutil.UniformTensor(rs, append([]int{batch}, g.Inputs[0].Shape[1:]...)...)
				outs, err := p.Forward(true, x)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Backward(testutil.UniformTensor(rs, outs[0].Shape...)); err != nil {
					t.Fatal(err)
				}
				for _, prm := range g.Params {
					if gr := p.Grad(prm.Name); gr != nil {
						grads[fmt.Sprint(prm.Name, step)] = append([]float32(nil), gr.Data...)
					}
				}
			}
			return grads, p
		}
		want, _ := run(false)
		got, p := run(true)
		for name, w := range want {
			for i := range w {
				if got[name][i] != w[i] {
					t.Fatalf("%s: gradient of %s [%d] = %g with shared buffers, %g without", g.Name, name, i, got[name][i], w[i])
				}
			}
		}
		backing := map[*float32]bool{}
		n := 0
		for _, s := range p.slots {
			if s.needGrad && s.param == nil {
				backing[&s.grad.Data[:1][0]] = true
				n++
			}
		}
		if len(backing) >= n {
			t.Errorf("%s: %d activation gradients in %d buffers: nothing shared", g.Name, n, len(backing))
		}
		if p.ValueGrad(g.Nodes[0].Outputs[0]) != nil {
			t.Errorf("%s: ValueGrad of an activation with shared buffers is not nil", g.Name)
		}
	}
}
