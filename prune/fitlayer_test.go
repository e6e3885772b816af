package prune

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
)

// The patch model of a layer matches its real output for strided,
// dilated, padded, auto-padded, grouped and 1-D convolutions and for a
// MatMul weight (in×out).
func TestFitLayerPatchModelMatchesOutput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []int
		attrs graph.Attrs
		w     []int
	}{
		{"stride2-pad1", []int{3, 9, 9}, graph.Attrs{"strides": []int{2, 2}, "pads": []int{1, 1, 1, 1}}, []int{4, 3, 3, 3}},
		{"dilated", []int{2, 10, 10}, graph.Attrs{"dilations": []int{2, 2}, "pads": []int{2, 1, 0, 1}}, []int{3, 2, 3, 3}},
		{"same-upper", []int{2, 7, 8}, graph.Attrs{"auto_pad": "SAME_UPPER", "strides": []int{2, 2}}, []int{3, 2, 4, 4}},
		{"grouped", []int{4, 6, 6}, graph.Attrs{"group": 2, "pads": []int{1, 1, 1, 1}}, []int{6, 2, 3, 3}},
		{"1-D", []int{3, 12}, graph.Attrs{"strides": []int{3}, "pads": []int{1, 1}}, []int{2, 3, 5}},
	} {
		b := newGB(tc.name, tc.in...)
		w := b.param("conv.weight", b.rand(0.5, tc.w...))
		bias := b.param("conv.bias", b.rand(0.5, tc.w[0]))
		g := b.done(b.op("conv", "Conv", tc.attrs, "x", w, bias))
		checkPatchModel(t, tc.name, g, "conv")
	}
	b := newGB("matmul", 5)
	y := b.op("mm", "MatMul", nil, "x", b.param("mm.weight", b.rand(1, 5, 3)))
	checkPatchModel(t, "matmul", b.done(y), "mm")
}

func checkPatchModel(t *testing.T, what string, g *graph.Graph, node string) {
	t.Helper()
	prog, err := cpu.Compile(g)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if _, err := prog.Forward(false, graph.RandomInputs(g, 2, rand.New(rand.NewPCG(1, 2)))...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	f, err := newFitLayer(g, g.Node(node), g.ParamMap())
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := f.checkDense(prog.Value(f.in), prog.Value(f.out)); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	// A wrong weight is caught.
	f.w.Value.Data[0] += 10
	if err := f.checkDense(prog.Value(f.in), prog.Value(f.out)); err == nil {
		t.Errorf("%s: a changed weight passes the check", what)
	}
}
