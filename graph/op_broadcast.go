package graph

// Shared machinery of the elementwise, activation and shape ops: numpy
// broadcasting, a strided iteration plan (used for broadcasting, Transpose,
// Slice, Expand and ReduceMean), chunked parallel loops and readers for
// integer-valued constant inputs.

import (
	"fmt"
	"math"
	"strings"

	"github.com/shearsml/shears/tensor"
)

// BroadcastShapes returns the numpy (multidirectional) broadcast of shapes,
// or an error naming all of them.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				names := make([]string, len(shapes))
				for k, s := range shapes {
					names[k] = tensor.ShapeString(s)
				}
				return nil, fmt.Errorf("cannot broadcast shapes %s", strings.Join(names, " and "))
			}
		}
	}
	return out, nil
}

// intSat bounds integer values read from float constants: anything at or
// beyond ±2^31 (ONNX writes INT64_MAX/INT64_MIN for "to the end" in Slice)
// saturates to ±intSat.
const intSat = 1 << 31

// constInts reads an integer-valued constant (shape vectors, axes, pads,
// Slice bounds, indices, which the importer stores as float32). Values
// beyond ±2^31 saturate to ±2^31; non-integers are an error.
func constInts(t *tensor.Tensor, what string) ([]int, error) {
	out := make([]int, len(t.Data))
	for i, v := range t.Data {
		f := float64(v)
		switch {
		case math.IsNaN(f):
			return nil, fmt.Errorf("%s: element %d is NaN", what, i)
		case f >= intSat:
			out[i] = intSat
		case f <= -intSat:
			out[i] = -intSat
		case f != math.Trunc(f):
			return nil, fmt.Errorf("%s: element %d is %g, not an integer", what, i, f)
		default:
			out[i] = int(f)
		}
	}
	return out, nil
}

// constInput returns input i's constant value, or an error saying it must
// be an initializer.
func constInput(consts []*tensor.Tensor, i int, what string) (*tensor.Tensor, error) {
	if i >= len(consts) || consts[i] == nil {
		return nil, fmt.Errorf("%s (input %d) must be a constant (initializer)", what, i)
	}
	return consts[i], nil
}

// ConstIntsInput reads input i as integer constants.
func ConstIntsInput(consts []*tensor.Tensor, i int, what string) ([]int, error) {
	t, err := constInput(consts, i, what)
	if err != nil {
		return nil, err
	}
	if t.Rank() > 1 {
		return nil, ShapeErr("%s (input %d) must be 1-D, have shape %s", what, i, t.Shape)
	}
	return constInts(t, what)
}

// hasInput reports whether the node names input i (ONNX marks an omitted
// optional input with an empty name).
func hasInput(n *Node, i int) bool { return i < len(n.Inputs) && n.Inputs[i] != "" }

// ResolveAxis maps an axis in [-rank, rank) to [0, rank).
func ResolveAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

// resolveAxes maps axes to [0, rank), rejecting duplicates.
func resolveAxes(axes []int, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		r, err := ResolveAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[r] {
			return nil, fmt.Errorf("axis %d given twice in %v", a, axes)
		}
		seen[r] = true
		out[i] = r
	}
	return out, nil
}

// ShapeProd multiplies dims.
func ShapeProd(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// CloneShape copies a shape, never returning nil aliasing the caller's
// slice.
func CloneShape(s []int) []int { return append([]int{}, s...) }
