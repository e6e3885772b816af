package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func TestGeluMishValues(t *testing.T) {
	xs := []float32{-3, -1, -0.5, 0, 0.5, 1, 3}
	// Reference values: the defining formulas in float64 (Python math).
	cases := []struct {
		op    string
		attrs graph.Attrs
		want  []float32
	}{
		{"Gelu", nil, []float32{-0.0040497, -0.1586553, -0.1542688, 0, 0.3457312, 0.8413447, 2.9959503}},
		{"Gelu", graph.Attrs{"approximate": "tanh"}, []float32{-0.0036374, -0.1588080, -0.1542860, 0, 0.3457140, 0.8411920, 2.9963626}},
		{"Mish", nil, []float32{-0.1456475, -0.3034015, -0.2207438, 0, 0.3752452, 0.8650984, 2.9865350}},
	}
	for _, c := range cases {
		got := opsRun(t, c.op, c.attrs, []gcIn{in(opsT([]int{7}, xs...))}, 1, 1, false)[0]
		opsExpect(t, c.op, got, []int{7}, c.want, 2e-7)
	}
	if _, _, err := opsCompile("Gelu", graph.Attrs{"approximate": "erf"}, []gcIn{in(opsT([]int{1}, 0))}, 1); err == nil {
		t.Error("Gelu approximate=erf: no error")
	}
}

func TestGeluMishGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		op    string
		attrs graph.Attrs
	}{{"Gelu", nil}, {"Gelu", graph.Attrs{"approximate": "tanh"}}, {"Mish", nil}} {
		checkGrad(t, c.op, c.attrs, []gcIn{in(opsRand(r, -3, 3, nil, 0, 2, 3, 4))}, 1, false)
	}
}

// TestGeluMishDecomposed checks the single-node forms against the graphs
// older exporters write for them, which must keep running.
func TestGeluMishDecomposed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := opsRand(r, -4, 4, nil, 0, 3, 5)
	scalar := func(v float32) *tensor.Tensor { return opsT([]int{}, v) }
	run := func(g *graph.Graph) []float32 {
		t.Helper()
		p, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		outs, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		return outs[0].Clone().Data
	}
	chain := func(nodes ...*graph.Node) *graph.Graph {
		g := &graph.Graph{Name: "decomposed", Inputs: []graph.ValueInfo{{Name: "x", Shape: x.Shape}}, Nodes: nodes,
			Outputs: []graph.ValueInfo{{Name: nodes[len(nodes)-1].Outputs[0]}}}
		g.AddParam("sqrt2", scalar(1.4142135), false)
		g.AddParam("one", scalar(1), false)
		g.AddParam("half", scalar(0.5), false)
		return g
	}
	gelu := chain(
		&graph.Node{Name: "d", Op: "Div", Inputs: []string{"x", "sqrt2"}, Outputs: []string{"d"}},
		&graph.Node{Name: "e", Op: "Erf", Inputs: []string{"d"}, Outputs: []string{"e"}},
		&graph.Node{Name: "a", Op: "Add", Inputs: []string{"e", "one"}, Outputs: []string{"a"}},
		&graph.Node{Name: "m", Op: "Mul", Inputs: []string{"x", "a"}, Outputs: []string{"m"}},
		&graph.Node{Name: "h", Op: "Mul", Inputs: []string{"m", "half"}, Outputs: []string{"y"}},
	)
	mish := chain(
		&graph.Node{Name: "s", Op: "Softplus", Inputs: []string{"x"}, Outputs: []string{"s"}},
		&graph.Node{Name: "t", Op: "Tanh", Inputs: []string{"s"}, Outputs: []string{"t"}},
		&graph.Node{Name: "m", Op: "Mul", Inputs: []string{"x", "t"}, Outputs: []string{"y"}},
	)
	for _, c := range []struct {
		op  string
		dec *graph.Graph
	}{{"Gelu", gelu}, {"Mish", mish}} {
		want := run(c.dec)
		got := opsRun(t, c.op, nil, []gcIn{in(x)}, 1, 2, false)[0]
		opsExpect(t, c.op+" vs decomposed", got, x.Shape, want, 1e-6)
	}
}
