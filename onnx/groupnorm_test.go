package onnx

import (
	"slices"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// TestGroupNormPerChannel: an opset-18 GroupNormalization's per-group
// scale and bias become per channel, and the graph computes the same.
func TestGroupNormPerChannel(t *testing.T) {
	build := func() *graph.Graph {
		g := &graph.Graph{Name: "gn", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{1, 6, 2}}},
			Outputs: []graph.ValueInfo{{Name: "y"}}}
		g.AddParam("s", &tensor.Tensor{Shape: []int{3}, Data: []float32{1, 2, 3}}, true)
		g.AddParam("b", &tensor.Tensor{Shape: []int{3}, Data: []float32{-1, 0, 1}}, true)
		g.Nodes = []*graph.Node{{Name: "n", Op: "GroupNormalization", Attrs: graph.Attrs{"num_groups": 3},
			Inputs: []string{"x", "s", "b"}, Outputs: []string{"y"}}}
		return g
	}
	run := func(g *graph.Graph) []float32 {
		t.Helper()
		p, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		x := &tensor.Tensor{Shape: []int{1, 6, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13}}
		outs, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(outs[0].Data)
	}
	for _, opset := range []int{18, 21} {
		g := build()
		want := run(g)
		d := &decoder{opset: opset, g: g, used: map[string]bool{"x": true, "s": true, "b": true, "y": true}}
		if err := d.groupNormPerChannel(); err != nil {
			t.Fatal(err)
		}
		s := g.Param(g.Nodes[0].Inputs[1])
		if opset == 21 {
			if s.Name != "s" {
				t.Errorf("opset 21: scale rewritten to %s", s.Name)
			}
			continue
		}
		if !slices.Equal(s.Value.Data, []float32{1, 1, 2, 2, 3, 3}) || !s.Trainable {
			t.Errorf("opset 18: scale %v (trainable %v), want 1 1 2 2 3 3, trainable", s.Value.Data, s.Trainable)
		}
		if b := g.Param(g.Nodes[0].Inputs[2]); !slices.Equal(b.Value.Data, []float32{-1, -1, 0, 0, 1, 1}) {
			t.Errorf("opset 18: bias %v", b.Value.Data)
		}
		if g.Param("s") != nil || g.Param("b") != nil {
			t.Error("opset 18: the per-group params are still there")
		}
		if got := run(g); !slices.Equal(got, want) {
			t.Errorf("opset 18: rewritten graph computes %v, the original %v", got, want)
		}
	}
}
