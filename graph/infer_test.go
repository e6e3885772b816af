package graph

import (
	"slices"
	"testing"
)

// InferShapes leaves the graph alone: an unsorted graph stays unsorted.
func TestInferShapesLeavesGraph(t *testing.T) {
	g := &Graph{Name: "unsorted", Inputs: []ValueInfo{{Name: "x", Shape: []int{-1, 4}}}, Outputs: []ValueInfo{{Name: "y"}},
		Nodes: []*Node{
			{Name: "b", Op: "Relu", Inputs: []string{"h"}, Outputs: []string{"y"}},
			{Name: "a", Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"h"}},
		}}
	shapes, err := InferShapes(g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shapes["y"], []int{2, 4}) || g.Nodes[0].Name != "b" {
		t.Errorf("y %v, first node %s; want 2×4 and the order untouched", shapes["y"], g.Nodes[0].Name)
	}
}
