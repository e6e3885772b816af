package graph

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/tensor"
)

// TestFreshGrads: ops that overwrite fresh input gradients
// (FreshGradWriter) must give exactly the gradients of the clear-then-add
// scheme, in a graph where values have several readers, one node reads a
// value twice, and buffers hold the previous step's gradients.
func TestFreshGrads(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	g := &Graph{Name: "fresh"}
	g.Inputs = []ValueInfo{{Name: "x", Shape: []int{-1, 3, 8, 8}}}
	param := func(name string, shape ...int) string {
		g.AddParam(name, randT(r, shape...), true)
		return name
	}
	node := func(name, op string, attrs Attrs, in ...string) string {
		g.Nodes = append(g.Nodes, &Node{Name: name, Op: op, Attrs: attrs, Inputs: in, Outputs: []string{name}})
		return name
	}
	bn := func(name, x string, c int) string {
		s := param(name+".s", c)
		b := param(name+".b", c)
		g.AddParam(name+".m", tensor.New(c), false)
		v := tensor.New(c)
		v.Fill(1)
		g.AddParam(name+".v", v, false)
		return node(name, "BatchNormalization", nil, x, s, b, name+".m", name+".v")
	}
	pad1 := Attrs{"pads": []int{1, 1, 1, 1}}
	a := node("relu0", "Relu", nil, bn("bn0", node("conv0", "Conv", pad1, "x", param("w0", 8, 3, 3, 3)), 8))
	b := node("relu1", "Relu", nil, bn("bn1", node("conv1", "Conv", pad1, a, param("w1", 8, 8, 3, 3)), 8))
	sum := node("add", "Add", nil, a, b)   // a read twice (residual)
	sq := node("sq", "Mul", nil, sum, sum) // one node reads sum twice
	dw := node("dw", "Conv", Attrs{"pads": []int{1, 1, 1, 1}, "group": 8}, sq, param("wd", 8, 1, 3, 3))
	down := node("down", "Conv", Attrs{"strides": []int{2, 2}}, node("relu2", "Relu", nil, dw), param("w2", 4, 8, 1, 1))
	cat := node("cat", "Concat", Attrs{"axis": 1}, down, node("mp", "MaxPool", Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, a))
	out := node("gap", "GlobalAveragePool", nil, cat)
	g.Outputs = []ValueInfo{{Name: out}}

	x := randT(r, 2, 3, 8, 8)
	seed := randT(r, 2, 12, 1, 1)
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
