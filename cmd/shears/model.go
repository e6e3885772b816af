package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/prune/recipe"
	"github.com/shearsml/shears/zoo"
)

// loadModel resolves a zoo name (freshly initialised with seed) or a model
// file (ONNX), binding its symbolic input dims to shapes (--input-shape;
// on a zoo model, whose shapes are fixed, they are checked).
func loadModel(spec string, seed uint64, shapes map[string][]int) (*graph.Graph, *zoo.Model, error) {
	if m, err := zoo.Get(spec); err == nil {
		g := m.Build(seed)
		if err := graph.BindInputs(g, shapes); err != nil {
			return nil, nil, shapeError(err, shapes)
		}
		return g, &m, nil
	}
	if _, err := os.Stat(spec); err != nil {
		if strings.ContainsAny(spec, "./") {
			return nil, nil, fmt.Errorf("model file %s: %w", spec, err)
		}
		return nil, nil, fmt.Errorf("unknown model %q: not a zoo model (%s) and no such file", spec, strings.Join(zoo.Names(), ", "))
	}
	g, err := onnx.LoadOptions{InputShapes: shapes}.Load(spec)
	if err != nil {
		return nil, nil, shapeError(err, shapes)
	}
	if err := batchHint(g); err != nil {
		return nil, nil, fmt.Errorf("model file %s: %w", spec, err)
	}
	return g, nil, nil
}

// batchHint reports a model with a dynamic batch whose shape-like inputs
// (an Expand's shape, a Reshape's) are computed from the batch size, which
// only a fixed batch can fold into constants (a ViT expanding its class
// token to the batch): the error names --input-shape, with the shape to
// give.
func batchHint(g *graph.Graph) error {
	var dyn []graph.ValueInfo
	for _, in := range g.Inputs {
		if slices.Contains(in.Shape, -1) {
			dyn = append(dyn, in)
		}
	}
	if len(dyn) == 0 {
		return nil
	}
	_, err := graph.InferShapes(g, 1)
	if err == nil || !strings.Contains(err.Error(), "must be a constant (initializer)") {
		return nil // other errors are the commands' to report
	}
	var flags []string
	for _, in := range dyn {
		s := slices.Clone(in.Shape)
		for i, d := range s {
			if d < 0 {
				s[i] = 1
			}
		}
		dims := make([]string, len(s))
		for i, d := range s {
			dims[i] = strconv.Itoa(d)
		}
		flags = append(flags, fmt.Sprintf("--input-shape %s=%s", in.Name, strings.Join(dims, "x")))
	}
	return usageError{fmt.Errorf("%v: the model computes it from the batch size; fix the batch with %s", err, strings.Join(flags, " "))}
}

// shapeError turns a binding that does not fit the model into a usage
// error naming --input-shape; other errors are returned as they are.
func shapeError(err error, shapes map[string][]int) error {
	var be *graph.BindError
	if !errors.As(err, &be) {
		return err
	}
	return usageError{inputShapeError{be, shapes[be.Input]}}
}

// inputShapeError is "--input-shape x=1x3x48x320: why".
type inputShapeError struct {
	bind  *graph.BindError
	shape []int
}

func (e inputShapeError) Error() string {
	return fmt.Sprintf("--input-shape %s=%s: %v", e.bind.Input, graph.FormatShape(e.shape), e.bind.Err)
}

func (e inputShapeError) Unwrap() error { return e.bind }

// loadRecipeModel loads a recipe's model with its input_shapes. A binding
// that does not fit is an error in that field, which prune names by the
// flag or by the recipe, as for every field.
func loadRecipeModel(r recipe.Recipe) (*graph.Graph, *zoo.Model, error) {
	g, zm, err := loadModel(r.Model, r.Seed, r.InputShapes)
	var ie inputShapeError
	if errors.As(err, &ie) {
		return nil, nil, &recipe.FieldError{Path: "input_shapes." + ie.bind.Input, Err: ie.bind}
	}
	return g, zm, err
}

// saveModel writes a model file atomically (ONNX with shears metadata);
// with sparse, params of mostly zeros go in as sparse initializers.
func saveModel(path string, g *graph.Graph, sparse bool) error {
	return onnx.SaveWith(path, g, onnx.SaveOptions{SparseInitializers: sparse})
}

// sparseUsage is the help of --sparse-initializers.
var sparseUsage = fmt.Sprintf("write params with at least %.0f%% zeros as ONNX sparse initializers (values and INT64 indices, COO): "+
	"a 98%%-sparse model is about 16× smaller; ONNX Runtime reads them, some other tools do not", 100*onnx.DefaultSparseMinZeros)
