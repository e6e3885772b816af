package graph_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testmodels"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// compiledShapes are the shapes a compiled program infers at a batch size,
// or its error.
func compiledShapes(g *graph.Graph, batch int) (map[string][]int, error) {
	p, err := cpu.Compile(g.Clone())
	if err != nil {
		return nil, err
	}
	return p.InferShapes(batch)
}

// checkAgainstCompile checks that graph.InferShapes gives Compile's
// shapes (or its error) at batches 1 and 2.
func checkAgainstCompile(t *testing.T, name string, g *graph.Graph) {
	t.Helper()
	for _, batch := range []int{1, 2} {
		want, wantErr := compiledShapes(g, batch)
		got, err := graph.InferShapes(g, batch)
		switch {
		case wantErr != nil && err == nil:
			t.Errorf("%s, batch %d: Compile fails (%v), InferShapes does not", name, batch, wantErr)
		case wantErr == nil && err != nil:
			t.Errorf("%s, batch %d: InferShapes fails: %v", name, batch, err)
		case err != nil && err.Error() != wantErr.Error():
			t.Errorf("%s, batch %d: InferShapes fails with\n  %v\nCompile with\n  %v", name, batch, err, wantErr)
		case err == nil:
			if diff := shapeDiff(got, want); diff != "" {
				t.Errorf("%s, batch %d: %s", name, batch, diff)
			}
		}
	}
}

// shapeDiff describes the first values whose shapes differ.
func shapeDiff(got, want map[string][]int) string {
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok || !slices.Equal(g, w) {
			diffs = append(diffs, fmt.Sprintf("%q: InferShapes %v, Compile %v", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: only InferShapes has it", k))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}

func TestInferShapesZoo(t *testing.T) {
	for _, name := range zoo.Names() {
		m, _ := zoo.Get(name)
		checkAgainstCompile(t, name, m.Build(1))
	}
}

// onnxModelFiles lists the torchvision and hand-built exports (.cache;
// with -short only the hand-built ones) and ONNX's backend test models
// (libonnx-testdata), skipping t when there are none.
func onnxModelFiles(t *testing.T) []string {
	t.Helper()
	files := testmodels.ONNXFiles("..", testing.Short())
	if len(files) == 0 {
		t.Skip("no ONNX models (.cache exports, libonnx-testdata)")
	}
	return files
}

// TestInferShapesONNX: every ONNX file the onnx tests load (the
// torchvision and custom exports, ONNX's backend test models) that
// imports.
func TestInferShapesONNX(t *testing.T) {
	files := onnxModelFiles(t)
	loaded := 0
	for _, f := range files {
		if testmodels.SkipSlow(strings.TrimSuffix(filepath.Base(f), ".onnx")) {
			continue
		}
		g, err := onnx.Load(f)
		if err != nil {
			continue // the onnx tests check the refusals
		}
		loaded++
		checkAgainstCompile(t, f, g)
	}
	t.Logf("%d of %d files imported and checked", loaded, len(files))
	if loaded == 0 {
		t.Fatal("no ONNX file imported")
	}
}

// TestInferShapesErrors: a graph that does not compile fails InferShapes
// with Compile's error, naming the node, op and shapes.
func TestInferShapesErrors(t *testing.T) {
	param := func(g *graph.Graph, name string, shape ...int) {
		g.AddParam(name, tensor.New(shape...), true)
	}
	vals := func(g *graph.Graph, name string, v ...float32) {
		g.AddParam(name, &tensor.Tensor{Shape: []int{len(v)}, Data: v}, false)
	}
	base := func(nodes ...*graph.Node) *graph.Graph {
		return &graph.Graph{Name: "bad", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 3, 8, 8}}},
			Outputs: []graph.ValueInfo{{Name: "y"}}, Nodes: nodes}
	}
	for _, c := range []struct {
		name  string
		build func() *graph.Graph
		want  string // a part of the error
	}{
		{"conv channels", func() *graph.Graph {
			g := base(&graph.Node{Name: "c", Op: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}})
			param(g, "w", 4, 2, 3, 3)
			return g
		}, `node "c" (Conv): weight 4×2×3×3 expects 2 input channels per group`},
		{"conv group attribute", func() *graph.Graph {
			g := base(&graph.Node{Name: "c", Op: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"group": 0}})
			param(g, "w", 4, 3, 3, 3)
			return g
		}, `node "c" (Conv): group must be ≥ 1`},
		{"reshape", func() *graph.Graph {
			g := base(&graph.Node{Name: "r", Op: "Reshape", Inputs: []string{"x", "s"}, Outputs: []string{"y"}})
			vals(g, "s", 5, -1)
			return g
		}, `node "r" (Reshape): cannot reshape`},
		{"gemm", func() *graph.Graph {
			g := base(&graph.Node{Name: "f", Op: "Flatten", Inputs: []string{"x"}, Outputs: []string{"h"}},
				&graph.Node{Name: "fc", Op: "Gemm", Inputs: []string{"h", "w"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"transB": 1}})
			param(g, "w", 10, 100)
			return g
		}, `node "fc" (Gemm): inner dimensions differ`},
		{"concat", func() *graph.Graph {
			g := base(&graph.Node{Name: "p", Op: "MaxPool", Inputs: []string{"x"}, Outputs: []string{"h"}, Attrs: graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}},
				&graph.Node{Name: "cat", Op: "Concat", Inputs: []string{"x", "h"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": 1}})
			return g
		}, `node "cat" (Concat): input 1 has shape`},
		{"unsupported", func() *graph.Graph {
			return base(&graph.Node{Name: "u", Op: "NoSuchOp", Inputs: []string{"x"}, Outputs: []string{"y"}})
		}, `node "u": unsupported op type NoSuchOp`},
		{"two unsupported", func() *graph.Graph {
			return base(&graph.Node{Name: "u", Op: "NoSuchOp", Inputs: []string{"x"}, Outputs: []string{"h"}},
				&graph.Node{Name: "v", Op: "NorThisOne", Inputs: []string{"h"}, Outputs: []string{"y"}})
		}, `2 unsupported nodes`},
		{"cycle", func() *graph.Graph {
			return base(&graph.Node{Name: "a", Op: "Add", Inputs: []string{"x", "y"}, Outputs: []string{"h"}},
				&graph.Node{Name: "b", Op: "Relu", Inputs: []string{"h"}, Outputs: []string{"y"}})
		}, `cycle through node "a" (Add)`},
		{"undefined", func() *graph.Graph {
			return base(&graph.Node{Name: "r", Op: "Relu", Inputs: []string{"nowhere"}, Outputs: []string{"y"}})
		}, `node "r" (Relu): input "nowhere" is not defined`},
		{"duplicate node", func() *graph.Graph {
			return base(&graph.Node{Name: "r", Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"h"}},
				&graph.Node{Name: "r", Op: "Relu", Inputs: []string{"h"}, Outputs: []string{"y"}})
		}, `node name "r" used twice`},
	} {
		_, want := cpu.Compile(c.build())
		_, err := graph.InferShapes(c.build(), 1)
		switch {
		case want == nil || !strings.Contains(want.Error(), c.want):
			t.Errorf("%s: Compile: %v, want an error with %q", c.name, want, c.want)
		case err == nil || err.Error() != want.Error():
			t.Errorf("%s: InferShapes: %v, want Compile's %v", c.name, err, want)
		}
	}
}
