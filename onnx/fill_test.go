package onnx

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// fillModel is what tf2onnx and PyTorch export for fills whose shape
// follows the batch: x[N,2,3,3] padded with two channels of 0.5
// (Concat(x, ConstantOfShape(Concat(Shape(x)[0:1], [2, 3, 3])))), and
// x · full_like(x, 2) (Mul(x, ConstantOfShape(Shape(x)))).
func fillModel() *onnxpb.ModelProto {
	value := func(v float32) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: ptr("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: floatInit("", []int64{1}, v)}
	}
	return modelProto(13, &onnxpb.GraphProto{
		Name: ptr("fills"),
		Node: []*onnxpb.NodeProto{
			node("", "Shape", []string{"x"}, []string{"s"}),
			node("", "Slice", []string{"s", "s0", "s1"}, []string{"nb"}),
			node("", "Concat", []string{"nb", "rest"}, []string{"zshape"}, attrInt("axis", 0)),
			node("zeros", "ConstantOfShape", []string{"zshape"}, []string{"z"}, value(0.5)),
			node("pad", "Concat", []string{"x", "z"}, []string{"y"}, attrInt("axis", 1)),
			node("full", "ConstantOfShape", []string{"s"}, []string{"f"}, value(2)),
			node("", "Mul", []string{"x", "f"}, []string{"w"}),
		},
		Initializer: []*onnxpb.TensorProto{int64Init("s0", []int64{1}, 0), int64Init("s1", []int64{1}, 1), int64Init("rest", []int64{3}, 2, 3, 3)},
		Input:       []*onnxpb.ValueInfoProto{vinfo("x", "N", 2, 3, 3)},
		Output:      []*onnxpb.ValueInfoProto{vinfo("y", "N", 4, 3, 3), vinfo("w", "N", 2, 3, 3)},
	})
}

// A ConstantOfShape whose shape follows the batch is imported as a Pad
// (concatenated) or a broadcast param (multiplied), which compute the
// same at every batch size.
func TestFoldFills(t *testing.T) {
	g, err := Decode(mustMarshal(t, fillModel()), "fills.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Op)
	}
	if want := []string{"Pad", "Mul"}; !slices.Equal(ops, want) {
		t.Fatalf("after folding the nodes are %v, want %v", ops, want)
	}
	if f := g.Param(g.Nodes[1].Inputs[1]); f == nil || !slices.Equal(f.Value.Shape, []int{1, 2, 3, 3}) {
		t.Errorf("Mul reads %q, want a 1×2×3×3 param", g.Nodes[1].Inputs[1])
	}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, batch := range []int{1, 3} {
		x := tensor.New(batch, 2, 3, 3)
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		out, err := p.Forward(false, x)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		y := tensor.New(batch, 4, 3, 3)
		y.Fill(0.5)
		w := tensor.New(batch, 2, 3, 3)
		for b := range batch {
			copy(y.Data[b*36:], x.Data[b*18:(b+1)*18])
		}
		for i, v := range x.Data {
			w.Data[i] = 2 * v
		}
		for k, want := range []*tensor.Tensor{y, w} {
			if !slices.Equal(out[k].Shape, want.Shape) || !slices.Equal(out[k].Data, want.Data) {
				t.Errorf("batch %d: output %d wrong (shape %v)", batch, k, out[k].Shape)
			}
		}
	}
}

// A fill that is a graph output, or read by an op that neither broadcasts
// nor concatenates it, stays (and the graph does not compile, as before).
func TestFoldFillsLeaveWhatTheyCannot(t *testing.T) {
	m := fillModel()
	m.Graph.Output = append(m.Graph.Output, vinfo("z", "N", 2, 3, 3))
	g, err := Decode(mustMarshal(t, m), "fills.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return n.Name == "zeros" }) {
		t.Error("the fill that is a graph output was removed")
	}
	m = fillModel()
	m.Graph.Node = append(m.Graph.Node, node("", "Relu", []string{"f"}, []string{"rf"}))
	m.Graph.Output = append(m.Graph.Output, vinfo("rf", "N", 2, 3, 3))
	if g, err = Decode(mustMarshal(t, m), "fills.onnx"); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return n.Name == "full" }) {
		t.Error("the fill read by a Relu was removed")
	}
}
