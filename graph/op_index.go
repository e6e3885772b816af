package graph

// Ops whose outputs are integers: ArgMax and ArgMin (the index of the
// extreme along an axis), Size (the element count), and the rounding ops
// Floor, Ceil, Round (half to even) and Sign. Like comparisons they are
// piecewise constant and train as constants; indices are held as float32
// (exact up to 2^24). The kernels are backend/cpu's.

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"ArgMax", "ArgMin"} {
		RegisterOp(OpSpec{Type: kind, NoGradient: LogicNoGradient,
			Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
				a, err := ParseArgExtreme(n)
				if err != nil {
					return nil, err
				}
				return a.Infer(in)
			}})
	}
	RegisterOp(OpSpec{Type: "Size", NoGradient: LogicNoGradient,
		Infer: func(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
			if err := WantInputs(in, 1, 1); err != nil {
				return nil, err
			}
			return [][]int{{}}, nil
		}})
	for _, name := range []string{"Floor", "Ceil", "Round", "Sign"} {
		RegisterOp(OpSpec{Type: name, Infer: InferUnary, NoGradient: LogicNoGradient})
	}
}

// ArgExtreme is the decoded form of an ArgMax or ArgMin node: the index
// of the extreme along Axis, the first one unless Last
// (select_last_index).
type ArgExtreme struct {
	Max, KeepDims, Last bool
	Axis                int
}

// ParseArgExtreme decodes an ArgMax or ArgMin node's attributes.
func ParseArgExtreme(n *Node) (ArgExtreme, error) {
	axis, err := n.Attrs.Int("axis", 0)
	if err != nil {
		return ArgExtreme{}, err
	}
	keep, err := n.Attrs.Int("keepdims", 1)
	if err != nil {
		return ArgExtreme{}, err
	}
	last, err := n.Attrs.Int("select_last_index", 0)
	if err != nil {
		return ArgExtreme{}, err
	}
	return ArgExtreme{Max: n.Op == "ArgMax", KeepDims: keep != 0, Last: last != 0, Axis: axis}, nil
}

// ResolvedAxis is Axis for an input of the given rank, or an error when it
// is out of range.
func (a ArgExtreme) ResolvedAxis(rank int) (int, error) {
	ax := a.Axis
	if ax < 0 {
		ax += rank
	}
	if ax < 0 || ax >= rank {
		return 0, fmt.Errorf("attribute axis %d is out of range for rank %d", a.Axis, rank)
	}
	return ax, nil
}

// Infer is ArgMax's and ArgMin's shape inference.
func (a ArgExtreme) Infer(in [][]int) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	ax, err := a.ResolvedAxis(len(in[0]))
	if err != nil {
		return nil, err
	}
	if in[0][ax] == 0 {
		return nil, ShapeErr("input of shape %s is empty along axis %d", in[0], ax)
	}
	out := CloneShape(in[0])
	if a.KeepDims {
		out[ax] = 1
	} else {
		out = append(out[:ax], out[ax+1:]...)
	}
	return [][]int{out}, nil
}
