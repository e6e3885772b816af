package onnx

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// symbolicShuffle is shapeSubgraphModel exported with symbolic spatial
// dims, as a model for any image size is.
func symbolicShuffle() *onnxpb.ModelProto {
	m := shapeSubgraphModel()
	m.Graph.Input[0] = vinfo("x", "batch", 6, "H", "W")
	m.Graph.Output[0] = vinfo("z", "batch", "F")
	return m
}

func TestBindFoldsShapeSubgraphs(t *testing.T) {
	b := mustMarshal(t, symbolicShuffle())
	decodeErr(t, b, `graph input "x" has symbolic dims batch×6×H×W`, "--input-shape x=Nx6x<H>x<W>", `dimension 2 ("H"), dimension 3 ("W")`)
	for _, batch := range []int{graph.KeepBatch, 2} {
		g, err := LoadOptions{InputShapes: map[string][]int{"x": {batch, 6, 2, 3}}}.Decode(b, "m.onnx")
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{batch, 6, 2, 3}; !slices.Equal(g.Inputs[0].Shape, want) {
			t.Fatalf("input shape %v, want %v", g.Inputs[0].Shape, want)
		}
		var ops []string
		for _, n := range g.Nodes {
			ops = append(ops, n.Op)
		}
		// The Shape → Gather → Concat chains that read H and W are gone.
		if want := []string{"Reshape", "Transpose", "Reshape", "Reshape"}; !slices.Equal(ops, want) {
			t.Fatalf("after binding and folding the nodes are %v, want %v", ops, want)
		}
		p, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(max(batch, 3), 6, 2, 3) // any batch when it is kept
		if batch > 0 {
			x = tensor.New(batch, 6, 2, 3)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		out, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		if want := channelShuffle(x); !slices.Equal(out[0].Shape, want.Shape) || !slices.Equal(out[0].Data, want.Data) {
			t.Fatalf("batch %d: wrong result, shape %v", batch, out[0].Shape)
		}
	}
}

// maskModel multiplies an image by a mask of the same symbolic size.
func maskModel() *onnxpb.ModelProto {
	return modelProto(13, &onnxpb.GraphProto{
		Name:   ptr("mask"),
		Node:   []*onnxpb.NodeProto{node("mul", "Mul", []string{"x", "m"}, []string{"y"})},
		Input:  []*onnxpb.ValueInfoProto{vinfo("x", "N", 3, "H", "W"), vinfo("m", "N", 1, "H", "W")},
		Output: []*onnxpb.ValueInfoProto{vinfo("y", "N", 3, "H", "W")},
	})
}

// A symbolic dimension named in several inputs is bound once.
func TestBindSharedDims(t *testing.T) {
	b := mustMarshal(t, maskModel())
	g, err := LoadOptions{InputShapes: map[string][]int{"x": {-1, 3, 4, 5}}}.Decode(b, "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Inputs[1].Shape, []int{-1, 1, 4, 5}) {
		t.Fatalf("mask shape %v, want N×1×4×5 from x's H and W", g.Inputs[1].Shape)
	}
	// Binding both the same way is fine; differently is an error.
	if _, err := (LoadOptions{InputShapes: map[string][]int{"x": {-1, 3, 4, 5}, "m": {-1, 1, 4, 5}}}).Decode(b, "m.onnx"); err != nil {
		t.Fatal(err)
	}
	_, err = LoadOptions{InputShapes: map[string][]int{"x": {-1, 3, 4, 5}, "m": {-1, 1, 4, 6}}}.Decode(b, "m.onnx")
	var be *graph.BindError
	if !errors.As(err, &be) || be.Input != "m" {
		t.Fatalf("conflicting bindings: %v, want a BindError for m", err)
	}
	wantContains(t, err.Error(), "onnx: m.onnx: ", `"W"`, "6", "5")
}

func TestBindErrors(t *testing.T) {
	b := mustMarshal(t, maskModel())
	for _, c := range []struct {
		shapes map[string][]int
		input  string
		want   []string
	}{
		{map[string][]int{"y": {1, 3, 4, 5}}, "y", []string{`no input "y"`, "x, m"}},
		{map[string][]int{"x": {1, 3, 4}}, "x", []string{"rank 3", "rank 4"}},
		{map[string][]int{"x": {1, 4, 4, 5}}, "x", []string{"dimension 1 is 4", "fixes it to 3"}},
		{map[string][]int{"x": {1, 3, 0, 5}}, "x", []string{"dimension 2 is 0", "positive"}},
		{map[string][]int{"x": {1, 3, -1, 5}}, "x", []string{"dimension 2 is N", "only dimension 0"}},
		{map[string][]int{"x": {1, 3, 1 << 20, 1 << 20}}, "x", []string{"1048576x1048576"}},
	} {
		_, err := LoadOptions{InputShapes: c.shapes}.Decode(b, "m.onnx")
		var be *graph.BindError
		if !errors.As(err, &be) || be.Input != c.input {
			t.Errorf("%v: error %v, want a BindError for %q", c.shapes, err, c.input)
			continue
		}
		wantContains(t, err.Error(), c.want...)
	}
	// An initializer listed as an input is not something to bind.
	m := reluModel()
	m.Graph.Input = append(m.Graph.Input, vinfo("w", 4))
	m.Graph.Initializer = []*onnxpb.TensorProto{floatInit("w", []int64{4}, 1, 2, 3, 4)}
	_, err := LoadOptions{InputShapes: map[string][]int{"w": {4}}}.Decode(mustMarshal(t, m), "m.onnx")
	if err == nil {
		t.Fatal("binding an initializer: no error")
	}
	wantContains(t, err.Error(), `"w"`, "initializer")
}

func wantContains(t *testing.T, msg string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}
