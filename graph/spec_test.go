package graph

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// trainGraph has one node per case of the trainability rules: x is a graph
// input, h an activation.
func trainGraph() *Graph {
	r := rand.New(rand.NewPCG(1, 2))
	g := &Graph{Name: "train", Inputs: []ValueInfo{{Name: "x", Shape: []int{-1, 4, 3, 3}}}}
	add := func(name string, shape ...int) { g.AddParam(name, randT(r, shape...), false) }
	add("conv.w", 4, 4, 1, 1)
	add("slope", 4, 1, 1)
	add("gamma", 4, 1, 1)
	add("gamma.4d", 1, 4, 1, 1)
	add("half", 1)
	add("norm", 1, 4, 1, 1)
	add("plane", 1, 4, 3, 1)
	add("bn.s", 4)
	add("bn.b", 4)
	add("bn.m", 4)
	add("bn.v", 4)
	add("fc.w", 6, 36)
	add("fc.c", 1, 6)
	node := func(name, op string, attrs Attrs, out string, in ...string) {
		g.Nodes = append(g.Nodes, &Node{Name: name, Op: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
	}
	node("scaled", "Mul", nil, "x1", "x", "norm") // input normalisation: constant
	node("conv", "Conv", Attrs{"kernel_shape": []int{1, 1}}, "h", "x1", "conv.w")
	node("prelu", "PRelu", nil, "h1", "h", "slope")
	node("ls", "Mul", nil, "h2", "gamma", "h1") // layer scale, either operand order
	node("ls2", "Mul", nil, "h3", "h2", "gamma.4d")
	node("gelu", "Mul", nil, "h4", "h3", "half") // a scalar: constant
	node("map", "Mul", nil, "h5", "h4", "plane") // several axes: constant
	node("bn", "BatchNormalization", nil, "h6", "h5", "bn.s", "bn.b", "bn.m", "bn.v")
	node("flat", "Flatten", nil, "f", "h6")
	node("fc", "Gemm", Attrs{"transB": 1}, "y", "f", "fc.w", "fc.c")
	g.Outputs = []ValueInfo{{Name: "y", Shape: []int{-1, 6}}}
	LabelAxes(g)
	return g
}

func TestSetTrainable(t *testing.T) {
	g := trainGraph()
	if err := g.SetTrainable("plane", true); err != nil {
		t.Fatal(err)
	}
	if err := g.SetTrainable("conv.w", false); err != nil {
		t.Fatal(err)
	}
	err := g.SetTrainable("conv.weight", true)
	if err == nil || !strings.Contains(err.Error(), `"conv.weight"`) {
		t.Errorf("SetTrainable of a missing param: error %v, want one naming it", err)
	}
	for _, h := range []*Graph{g, g.Clone()} {
		LabelAxes(h)
		if !h.Param("plane").Trainable || h.Param("conv.w").Trainable {
			t.Errorf("overrides lost: plane %v, conv.w %v", h.Param("plane").Trainable, h.Param("conv.w").Trainable)
		}
		if err := h.CheckTrainOverrides(); err != nil {
			t.Error(err)
		}
	}
	g.TrainOverrides["ghost"] = true
	if err := g.CheckTrainOverrides(); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("CheckTrainOverrides: %v, want an error naming the missing param", err)
	}
}

func TestWeightOf(t *testing.T) {
	g := trainGraph()
	params := g.ParamMap()
	for _, c := range []struct {
		node    string
		w       string
		out, in int
	}{
		{"conv", "conv.w", 0, 1},
		{"fc", "fc.w", 0, 1},
	} {
		w, use, ok := WeightOf(g, g.Node(c.node), params)
		if !ok || w.Name != c.w || use.Out != c.out || use.In != c.in {
			t.Errorf("%s: weight %v %+v %v, want %s out %d in %d", c.node, w, use, ok, c.w, c.out, c.in)
		}
	}
	n := g.Node("fc")
	n.Attrs["transB"] = 0
	if _, use, _ := WeightOf(g, n, params); use.Out != 1 || use.In != 0 {
		t.Errorf("Gemm transB=0: %+v, want out 1 in 0", use)
	}
	if _, _, ok := WeightOf(g, g.Node("prelu"), params); ok {
		t.Error("PRelu has a weight")
	}
}

func TestStatsMACs(t *testing.T) {
	g := trainGraph()
	rows, total, err := Stats(g)
	if err != nil {
		t.Fatal(err)
	}
	// conv: 4×3×3 outputs of 4 inputs; fc: 6 outputs of 36 inputs.
	want := map[string]int{"conv": 4 * 9 * 4, "fc": 6 * 36}
	sum := 0
	for _, r := range rows {
		if r.MACs != want[r.Name] {
			t.Errorf("%s: %d MACs, want %d", r.Name, r.MACs, want[r.Name])
		}
		sum += want[r.Name]
	}
	if total.MACs != sum {
		t.Errorf("total %d MACs, want %d", total.MACs, sum)
	}
	// MatMul: an N×K·K×M product; ConvTranspose: every input element
	// meets out/group×k kernels.
	mm := &Node{Name: "mm", Op: "MatMul", Inputs: []string{"a", "b"}, Outputs: []string{"c"}}
	if got := nodeMACs(mm, map[string][]int{"a": {1, 5, 7}, "b": {7, 3}, "c": {1, 5, 3}}); got != 5*3*7 {
		t.Errorf("MatMul: %d MACs, want %d", got, 5*3*7)
	}
	ct := &Node{Name: "ct", Op: "ConvTranspose", Inputs: []string{"a", "w"}, Outputs: []string{"c"}}
	if got := nodeMACs(ct, map[string][]int{"a": {1, 2, 4, 4}, "w": {2, 3, 2, 2}, "c": {1, 3, 8, 8}}); got != 32*12 {
		t.Errorf("ConvTranspose: %d MACs, want %d", got, 32*12)
	}
}
