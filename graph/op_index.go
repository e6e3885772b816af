package graph

// Ops whose outputs are integers: ArgMax and ArgMin (the index of the
// extreme along an axis), Size (the element count), and the rounding ops
// Floor, Ceil, Round (half to even) and Sign. Like comparisons they are
// piecewise constant and train as constants; indices are held as float32
// (exact up to 2^24).

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"ArgMax", "ArgMin"} {
		RegisterOp(OpSpec{Type: kind, NoGradient: logicNoGradient,
			Build: func(n *Node) (Op, error) { return newArgExtreme(n, kind == "ArgMax") },
			Infer: func(n *Node, in [][]int, c []*tensor.Tensor) ([][]int, error) {
				op, err := newArgExtreme(n, kind == "ArgMax")
				if err != nil {
					return nil, err
				}
				return op.Infer(in, c)
			}})
	}
	RegisterOp(OpSpec{Type: "Size", NoGradient: logicNoGradient,
		Build: func(*Node) (Op, error) { return sizeOp{}, nil },
		Infer: func(_ *Node, in [][]int, c []*tensor.Tensor) ([][]int, error) { return sizeOp{}.Infer(in, c) }})
	for name, f := range map[string]func(float64) float64{
		"Floor": math.Floor, "Ceil": math.Ceil, "Round": math.RoundToEven,
		"Sign": func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // 0, and NaN stays NaN
		},
	} {
		RegisterOp(OpSpec{Type: name, Infer: inferUnary, NoGradient: logicNoGradient,
			Build: func(*Node) (Op, error) { return stepOp{f}, nil }})
	}
}

// argOp is ArgMax or ArgMin along axis, the first index of the extreme
// unless select_last_index is set.
type argOp struct {
	max, keepdims, last bool
	axis                int
}

func newArgExtreme(n *Node, isMax bool) (*argOp, error) {
	axis, err := n.Attrs.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	keep, err := n.Attrs.Int("keepdims", 1)
	if err != nil {
		return nil, err
	}
	last, err := n.Attrs.Int("select_last_index", 0)
	if err != nil {
		return nil, err
	}
	return &argOp{max: isMax, keepdims: keep != 0, last: last != 0, axis: axis}, nil
}

func (op *argOp) resolve(rank int) (int, error) {
	ax := op.axis
	if ax < 0 {
		ax += rank
	}
	if ax < 0 || ax >= rank {
		return 0, fmt.Errorf("attribute axis %d is out of range for rank %d", op.axis, rank)
	}
	return ax, nil
}

func (op *argOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	ax, err := op.resolve(len(in[0]))
	if err != nil {
		return nil, err
	}
	if in[0][ax] == 0 {
		return nil, shapeErr("input of shape %s is empty along axis %d", in[0], ax)
	}
	out := cloneShape(in[0])
	if op.keepdims {
		out[ax] = 1
	} else {
		out = append(out[:ax], out[ax+1:]...)
	}
	return [][]int{out}, nil
}

func (op *argOp) Forward(_ *Ctx, in, out []*tensor.Tensor) error {
	x := in[0]
	ax, err := op.resolve(len(x.Shape))
	if err != nil {
		return err
	}
	outer, n, inner := 1, x.Shape[ax], 1
	for _, d := range x.Shape[:ax] {
		outer *= d
	}
	for _, d := range x.Shape[ax+1:] {
		inner *= d
	}
	y := out[0].Data
	for o := range outer {
		for i := range inner {
			base := o*n*inner + i
			best, at := x.Data[base], 0
			for k := 1; k < n; k++ {
				v := x.Data[base+k*inner]
				better := v > best
				if !op.max {
					better = v < best
				}
				if better || (op.last && v == best) {
					best, at = v, k
				}
			}
			y[o*inner+i] = float32(at)
		}
	}
	return nil
}

func (op *argOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}

// sizeOp is Size: a scalar holding the input's element count.
type sizeOp struct{}

func (sizeOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	return [][]int{{}}, nil
}

func (sizeOp) Forward(_ *Ctx, in, out []*tensor.Tensor) error {
	n := 1
	for _, d := range in[0].Shape { // the shape, not the data: the import folds Size like Shape
		n *= d
	}
	out[0].Data[0] = float32(n)
	return nil
}

func (sizeOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}

// stepOp is an elementwise function that is constant between its jumps.
type stepOp struct{ f func(float64) float64 }

func (op stepOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	return [][]int{cloneShape(in[0])}, nil
}

func (op stepOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	elemChunks(ctx.Threads, len(y), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = float32(op.f(float64(x[i])))
		}
	})
	return nil
}

func (op stepOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}
