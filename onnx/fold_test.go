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

func int64Init(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: ptr(name), Dims: dims, DataType: ptr(int32(int64T)), Int64Data: v}
}

func constNode(out string, t *onnxpb.TensorProto) *onnxpb.NodeProto {
	return node("", "Constant", nil, []string{out}, &onnxpb.AttributeProto{Name: ptr("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t})
}

// shapeSubgraphModel is what PyTorch exports for
//
//	b, c, h, w = x.size()
//	y = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, -1, h, w)   # channel shuffle
//	z = y.view(y.size(0), -1)                                              # flatten
//
// with a dynamic batch: Shape → Gather → (Div) → Unsqueeze → Concat →
// Reshape, constants as Constant nodes.
func shapeSubgraphModel() *onnxpb.ModelProto {
	scalar := func(name string, v int64) *onnxpb.TensorProto { return int64Init(name, nil, v) }
	nodes := []*onnxpb.NodeProto{
		node("", "Shape", []string{"x"}, []string{"s"}),
		constNode("i0", scalar("", 0)),
		constNode("i1", scalar("", 1)),
		constNode("i2", scalar("", 2)),
		constNode("i3", scalar("", 3)),
		constNode("two", scalar("", 2)),
		constNode("ax0", int64Init("", []int64{1}, 0)),
		constNode("minus1", int64Init("", []int64{1}, -1)),
		node("", "Gather", []string{"s", "i0"}, []string{"b"}, attrInt("axis", 0)),
		node("", "Gather", []string{"s", "i1"}, []string{"c"}, attrInt("axis", 0)),
		node("", "Gather", []string{"s", "i2"}, []string{"h"}, attrInt("axis", 0)),
		node("", "Gather", []string{"s", "i3"}, []string{"w"}, attrInt("axis", 0)),
		node("", "Div", []string{"c", "two"}, []string{"half"}),
		node("", "Unsqueeze", []string{"b", "ax0"}, []string{"ub"}),
		node("", "Unsqueeze", []string{"half", "ax0"}, []string{"uhalf"}),
		node("", "Unsqueeze", []string{"h", "ax0"}, []string{"uh"}),
		node("", "Unsqueeze", []string{"w", "ax0"}, []string{"uw"}),
		constNode("k2", int64Init("", []int64{1}, 2)),
		node("", "Concat", []string{"ub", "k2", "uhalf", "uh", "uw"}, []string{"shape5"}, attrInt("axis", 0)),
		node("", "Reshape", []string{"x", "shape5"}, []string{"x5"}),
		node("", "Transpose", []string{"x5"}, []string{"t5"}, attrInts("perm", 0, 2, 1, 3, 4)),
		node("", "Concat", []string{"ub", "minus1", "uh", "uw"}, []string{"shape4"}, attrInt("axis", 0)),
		node("", "Reshape", []string{"t5", "shape4"}, []string{"y"}),
		node("", "Shape", []string{"y"}, []string{"sy"}),
		node("", "Gather", []string{"sy", "i0"}, []string{"by"}, attrInt("axis", 0)),
		node("", "Unsqueeze", []string{"by", "ax0"}, []string{"uby"}),
		node("", "Concat", []string{"uby", "minus1"}, []string{"shape2"}, attrInt("axis", 0)),
		node("", "Reshape", []string{"y", "shape2"}, []string{"z"}),
	}
	return modelProto(13, &onnxpb.GraphProto{
		Name:   ptr("shuffle"),
		Node:   nodes,
		Input:  []*onnxpb.ValueInfoProto{vinfo("x", "batch", 6, 2, 3)},
		Output: []*onnxpb.ValueInfoProto{vinfo("z", "batch", 36)},
	})
}

// channelShuffle computes the reference for shapeSubgraphModel.
func channelShuffle(x *tensor.Tensor) *tensor.Tensor {
	n, c, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	y := tensor.New(n, c*hw)
	for b := range n {
		for g := range 2 {
			for k := range c / 2 {
				src := x.Data[(b*c+g*(c/2)+k)*hw : (b*c+g*(c/2)+k+1)*hw]
				copy(y.Data[b*c*hw+(k*2+g)*hw:], src)
			}
		}
	}
	return y
}

func TestFoldShapeSubgraphs(t *testing.T) {
	g, err := Decode(mustMarshal(t, shapeSubgraphModel()), "shuffle.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Op)
	}
	if want := []string{"Reshape", "Transpose", "Reshape", "Reshape"}; !slices.Equal(ops, want) {
		t.Fatalf("after folding the nodes are %v, want %v", ops, want)
	}
	for _, n := range g.Nodes {
		if n.Op == "Reshape" && g.Param(n.Inputs[1]) == nil {
			t.Errorf("node %s: shape %q is not a param", n.Name, n.Inputs[1])
		}
	}
	for _, p := range g.Params {
		if p.Value.Len() > 5 {
			t.Errorf("param %s %v left over", p.Name, p.Value.Shape)
		}
	}
	if len(g.Params) != 3 {
		t.Errorf("%d params, want the 3 reshape shapes", len(g.Params))
	}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, batch := range []int{1, 3} {
		x := tensor.New(batch, 6, 2, 3)
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		out, err := p.Forward(false, x)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if want := channelShuffle(x); !slices.Equal(out[0].Shape, want.Shape) || !slices.Equal(out[0].Data, want.Data) {
			t.Fatalf("batch %d: wrong result, shape %v", batch, out[0].Shape)
		}
	}
	// Folding is idempotent: the export comes back as it is.
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Decode(b, "again.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(g, h); d != "" {
		t.Errorf("re-import differs:\n%s", d)
	}
}

// A Shape-derived value that is a graph output, or a Reshape whose shape
// cannot be expressed with 0 and −1, is left alone.
func TestFoldLeavesWhatItCannot(t *testing.T) {
	m := modelProto(13, &onnxpb.GraphProto{
		Name: ptr("keep"),
		Node: []*onnxpb.NodeProto{
			node("", "Shape", []string{"x"}, []string{"s"}),
			node("", "Relu", []string{"x"}, []string{"y"}),
		},
		Input:  []*onnxpb.ValueInfoProto{vinfo("x", "N", 3)},
		Output: []*onnxpb.ValueInfoProto{vinfo("s", 2), vinfo("y", "N", 3)},
	})
	g, err := Decode(mustMarshal(t, m), "keep.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 {
		t.Fatalf("%d nodes, want Shape and Relu kept", len(g.Nodes))
	}
	// A static Shape output feeding only a graph output is not folded either.
	m.Graph.Input[0] = vinfo("x", 2, 3)
	if g, err = Decode(mustMarshal(t, m), "keep.onnx"); err != nil || len(g.Nodes) != 2 {
		t.Fatalf("static: %v, %d nodes", err, len(g.Nodes))
	}
}

func TestInputConventions(t *testing.T) {
	m := reluModel()
	m.Graph.Input[0] = vinfo("x", "batch", "features")
	decodeErr(t, mustMarshal(t, m), `graph input "x"`, "dimension 1", `"features"`, "only dimension 0")
	m = reluModel()
	m.Graph.Input[0].Type.GetTensorType().ElemType = ptr(int32(onnxpb.TensorProto_DOUBLE))
	decodeErr(t, mustMarshal(t, m), `graph input "x"`, "DOUBLE", "FLOAT, integer or BOOL")
	// Integer and boolean inputs keep their type, held as float32.
	m = reluModel()
	m.Graph.Input[0].Type.GetTensorType().ElemType = ptr(int32(int64T))
	if g, err := Decode(mustMarshal(t, m), "m.onnx"); err != nil || g.Inputs[0].Type != graph.Int64 {
		t.Fatalf("INT64 input: %v, type %v", err, g.Inputs[0].Type)
	}
	m = reluModel()
	m.Graph.Input[0] = vinfo("x", 2, 4) // a fixed batch is fine
	if _, err := Decode(mustMarshal(t, m), "m.onnx"); err != nil {
		t.Fatal(err)
	}
}
