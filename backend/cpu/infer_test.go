package cpu

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// TestEveryOpDeclaresInfer: every built-in op has its own shape inference,
// so InferShapes never builds one (ops registered by tests start with
// "Test").
func TestEveryOpDeclaresInfer(t *testing.T) {
	var missing []string
	for _, op := range SupportedOps() {
		if s, _ := graph.Spec(op); s.Infer == nil && !strings.HasPrefix(op, "Test") {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("ops without OpSpec.Infer: %s", strings.Join(missing, ", "))
	}
}

// A custom op registered with a builder only is built to learn its shapes.
func TestInferShapesCustomOpFallback(t *testing.T) {
	const op = "TestBuiltForShapes"
	built := 0
	Register(op, func(*graph.Node) (Op, error) { built++; return scaleOp{}, nil })
	defer Unregister(op)
	g := &graph.Graph{Name: "custom", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 3}}}, Outputs: []graph.ValueInfo{{Name: "y"}}}
	g.AddParam("s", tensor.New(3), false)
	g.Nodes = []*graph.Node{{Name: "n", Op: op, Inputs: []string{"x", "s"}, Outputs: []string{"y"}}}
	shapes, err := graph.InferShapes(g, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shapes["y"], []int{5, 3}) || !slices.Equal(shapes["s"], []int{3}) || !slices.Equal(shapes["x"], []int{5, 3}) || built != 1 {
		t.Errorf("shapes %v after %d builds; want y and x 5×3, s 3, one build", shapes, built)
	}
	Register(op, func(*graph.Node) (Op, error) { return nil, fmt.Errorf("cannot build") })
	if _, err := graph.InferShapes(g, 1); err == nil || err.Error() != `node "n" (TestBuiltForShapes): cannot build` {
		t.Errorf("a failing builder: %v", err)
	}
}
