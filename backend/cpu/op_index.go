package cpu

// Kernels of ArgMax, ArgMin, Size and the rounding ops (graph/op_index.go
// says what they mean).

import (
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"ArgMax", "ArgMin"} {
		RegisterKernel(kind, func(n *graph.Node) (Op, error) {
			a, err := graph.ParseArgExtreme(n)
			return &argOp{a}, err
		})
	}
	RegisterKernel("Size", func(*graph.Node) (Op, error) { return sizeOp{}, nil })
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
		RegisterKernel(name, func(*graph.Node) (Op, error) { return stepOp{f}, nil })
	}
}

// argOp is ArgMax or ArgMin.
type argOp struct{ graph.ArgExtreme }

func (op *argOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return op.ArgExtreme.Infer(in)
}

func (op *argOp) Forward(_ *Ctx, in, out []*tensor.Tensor) error {
	x := in[0]
	ax, err := op.ResolvedAxis(len(x.Shape))
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
				if !op.Max {
					better = v < best
				}
				if better || (op.Last && v == best) {
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
	if err := graph.WantInputs(in, 1, 1); err != nil {
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
	if err := graph.WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	return [][]int{graph.CloneShape(in[0])}, nil
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
