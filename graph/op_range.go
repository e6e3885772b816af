package graph

// Range: start, start + delta, … up to but excluding limit, from three
// scalar inputs. Its length depends on their values, so they must be
// constants when shapes are inferred; the importer folds a Range of
// constants (or of values computed from shapes, such as positional ids
// up to a sequence length) into a param, and a Range that survives
// folding runs with its constant inputs.

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/tensor"
)

// maxRange bounds a Range's length, so that a hostile file cannot make
// shears allocate an enormous tensor.
const maxRange = 1 << 28

func init() {
	RegisterOp(OpSpec{Type: "Range", Infer: InferRange})
}

// rangeLength is ONNX's max(ceil((limit − start)/delta), 0).
func rangeLength(start, limit, delta float64) (int, error) {
	if delta == 0 {
		return 0, fmt.Errorf("delta is 0")
	}
	n := math.Ceil((limit - start) / delta)
	switch {
	case math.IsNaN(n):
		return 0, fmt.Errorf("start %g, limit %g and delta %g give no length", start, limit, delta)
	case n > maxRange:
		return 0, fmt.Errorf("start %g, limit %g and delta %g give %g elements, more than %d", start, limit, delta, n, maxRange)
	}
	return max(int(n), 0), nil
}

// InferRange: the output length comes from the start, limit and delta
// inputs, which must be constants.
func InferRange(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	var v [3]float64
	for i, what := range []string{"start", "limit", "delta"} {
		t, err := constInput(consts, i, what)
		if err != nil {
			return nil, fmt.Errorf("%w: the length of a Range depends on it", err)
		}
		if t.Len() != 1 || t.Rank() > 1 {
			return nil, ShapeErr("%s must be a scalar, have shape %v", what, t.Shape)
		}
		v[i] = float64(t.Data[0])
	}
	n, err := rangeLength(v[0], v[1], v[2])
	if err != nil {
		return nil, err
	}
	return [][]int{{n}}, nil
}
