package onnx

import (
	"slices"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// TestRangeFolded: positional ids up to a sequence length read from the
// input's shape, Range(0, Shape(x)[1], 1), are folded into a param at
// import, and the model computes x + ids; a Range of three constants is
// folded too.
func TestRangeFolded(t *testing.T) {
	m := modelProto(13, &onnxpb.GraphProto{
		Name: ptr("range"),
		Node: []*onnxpb.NodeProto{
			node("shape", "Shape", []string{"x"}, []string{"s"}),
			constNode("i1", int64Init("", nil, 1)),
			node("len", "Gather", []string{"s", "i1"}, []string{"n"}, attrInt("axis", 0)),
			node("lenf", "Cast", []string{"n"}, []string{"nf"}, attrInt("to", int64(floatT))),
			node("ids", "Range", []string{"start", "nf", "one"}, []string{"r"}),
			node("add", "Add", []string{"x", "r"}, []string{"a"}),
			node("steps", "Range", []string{"start", "four", "one"}, []string{"q"}),
			node("mul", "Mul", []string{"a", "q"}, []string{"y"}),
		},
		Initializer: []*onnxpb.TensorProto{floatInit("start", nil, 0), floatInit("one", nil, 1), floatInit("four", nil, 4)},
		Input:       []*onnxpb.ValueInfoProto{vinfo("x", "batch", 4)},
		Output:      []*onnxpb.ValueInfoProto{vinfo("y", "batch", 4)},
	})
	h, err := Decode(mustMarshal(t, m), "range")
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(h.Nodes, func(n *graph.Node) bool { return n.Op == "Range" }) {
		t.Errorf("a Range is still in the graph after import: %v", h.Nodes)
	}
	p, err := cpu.Compile(h)
	if err != nil {
		t.Fatal(err)
	}
	x := &tensor.Tensor{Shape: []int{2, 4}, Data: []float32{1, 1, 1, 1, 2, 2, 2, 2}}
	outs, err := p.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	// (x + [0 1 2 3]) · [0 1 2 3]
	if want := []float32{0, 2, 6, 12, 0, 3, 8, 15}; !slices.Equal(outs[0].Data, want) {
		t.Errorf("(x + ids)·ids = %v, want %v", outs[0].Data, want)
	}
}
