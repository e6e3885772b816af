//go:build cgo

package onnx

import (
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// interpolateModel is F.interpolate(l, size=h.shape[2:]) as PyTorch
// exports it, on an input of any size: Conv → h; strided Conv → l;
// Resize(l, sizes = Concat(Shape(l)[0:2], Shape(h)[2:4])); Concat(u, h).
func interpolateModel() *onnxpb.ModelProto {
	r := testutil.NewRand(5, 5)
	weight := func(name string, dims ...int64) *onnxpb.TensorProto {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()) * 0.3
		}
		return floatInit(name, dims, v...)
	}
	return modelProto(13, &onnxpb.GraphProto{
		Name: ptr("interpolate"),
		Node: []*onnxpb.NodeProto{
			node("c1", "Conv", []string{"x", "w1"}, []string{"h"}, attrInts("pads", 1, 1, 1, 1)),
			node("c2", "Conv", []string{"h", "w2"}, []string{"l"}, attrInts("pads", 1, 1, 1, 1), attrInts("strides", 2, 2)),
			node("", "Shape", []string{"l"}, []string{"sl"}),
			node("", "Slice", []string{"sl", "zero", "two"}, []string{"nc"}),
			node("", "Shape", []string{"h"}, []string{"sh"}),
			node("", "Slice", []string{"sh", "two", "four"}, []string{"hw"}),
			node("", "Concat", []string{"nc", "hw"}, []string{"sizes"}, attrInt("axis", 0)),
			node("up", "Resize", []string{"l", "", "", "sizes"}, []string{"u"}, attrStr("mode", "nearest")),
			node("cat", "Concat", []string{"u", "h"}, []string{"y"}, attrInt("axis", 1)),
		},
		Initializer: []*onnxpb.TensorProto{weight("w1", 4, 3, 3, 3), weight("w2", 4, 4, 3, 3),
			int64Vec("zero", 0), int64Vec("two", 2), int64Vec("four", 4)},
		Input:  []*onnxpb.ValueInfoProto{vinfo("x", "N", 3, "H", "W")},
		Output: []*onnxpb.ValueInfoProto{vinfo("y", "N", 8, "H", "W")},
	})
}

// TestBindORT binds a model for any image size to one size and checks
// that the shape subgraph folded and that the graph computes what ONNX
// Runtime computes with the unbound file, at two batch sizes.
func TestBindORT(t *testing.T) {
	needORT(t)
	b := mustMarshal(t, interpolateModel())
	g, err := LoadOptions{InputShapes: map[string][]int{"x": {graph.KeepBatch, 3, 9, 11}}}.Decode(b, "interpolate.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Op == "Shape" || n.Op == "Slice" {
			t.Errorf("node %s (%s) is left: the shape subgraph did not fold", n.Name, n.Op)
		}
	}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ortref.Open(b, ortref.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, batch := range []int{1, 3} {
		x := testutil.NormalTensor(testutil.NewRand(6, uint64(batch)), batch, 3, 9, 11)
		got, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.SameShape(got[0].Shape, want[0].Shape) {
			t.Fatalf("batch %d: shape %v, ORT gives %v", batch, got[0].Shape, want[0].Shape)
		}
		if d := tensor.RelDiff(got[0], want[0]); d > 1e-4 {
			t.Errorf("batch %d: relative difference %.2g from ORT", batch, d)
		}
	}
}
