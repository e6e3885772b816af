package cpu

// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp:
// a sum of an elementwise function of x, followed by a function of the
// sum. They take their axes, keepdims and noop_with_empty_axes like
// ReduceSum (an attribute up to opset 17, input 1 from opset 18); the
// reduction itself is ReduceSum's. With noop_with_empty_axes and no axes
// each element is reduced on its own, as ONNX's reference does
// (ReduceSumSquare gives x², ReduceL2 |x|).

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for kind := range graph.SumReductions {
		RegisterKernel(kind, func(n *graph.Node) (Op, error) { return newSumReduce(n, kind) })
	}
}

// sumReduceOp runs one op of the family: sum is the ReduceSum over the
// node's axes, max (LogSumExp only) the ReduceMax over the same axes.
type sumReduceOp struct {
	f        graph.SumReduction
	sum, max *reduceOp
	t        *tensor.Tensor // pre(x), the summed values
	m        *tensor.Tensor // the maxima (LogSumExp)
}

func newSumReduce(n *graph.Node, kind string) (Op, error) {
	a, err := graph.ParseReduce(n, kind)
	if err != nil {
		return nil, err
	}
	sa, ma := a, a
	sa.Kind, ma.Kind = "ReduceSum", "ReduceMax"
	op := &sumReduceOp{f: graph.SumReductions[kind], sum: &reduceOp{ReduceAttrs: sa}}
	if op.f.Shift {
		op.max = &reduceOp{ReduceAttrs: ma}
	}
	return op, nil
}

func (op *sumReduceOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	out, err := op.sum.Infer(in, consts)
	if err != nil || op.max == nil {
		return out, err
	}
	_, err = op.max.Infer(in, consts)
	return out, err
}

// buffer returns t resized to shape.
func buffer(t *tensor.Tensor, shape []int) *tensor.Tensor {
	n := graph.ShapeProd(shape)
	if t == nil || cap(t.Data) < n {
		return &tensor.Tensor{Shape: graph.CloneShape(shape), Data: make([]float32, n)}
	}
	t.Shape, t.Data = graph.CloneShape(shape), t.Data[:n]
	return t
}

func (op *sumReduceOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x := in[0]
	if err := op.sum.prepare(x.Shape); err != nil {
		return err
	}
	y := out[0].Data
	if len(y) != graph.ShapeProd(op.sum.out) {
		return graph.ShapeErr("output has shape %s, reducing %s gives %s", out[0].Shape, x.Shape, op.sum.out)
	}
	op.t = buffer(op.t, x.Shape)
	t := op.t.Data
	p := op.sum.plan
	s := p.inner(0)
	if op.f.Shift {
		op.m = buffer(op.m, out[0].Shape)
		if err := op.max.Forward(ctx, in, []*tensor.Tensor{op.m}); err != nil {
			return err
		}
		m := op.m.Data
		for k, v := range m {
			if math.IsInf(float64(v), 0) {
				m[k] = 0 // all −∞ (or an +∞): no shift keeps the IEEE result
			}
		}
		p.run(ctx.Threads, func(o, n int, off []int) {
			for j, v := range x.Data[o : o+n] {
				t[o+j] = float32(op.f.Pre(float64(v) - float64(m[off[0]+j*s])))
			}
		})
	} else {
		elemChunks(ctx.Threads, len(t), func(lo, hi int) {
			for i, v := range x.Data[lo:hi] {
				t[lo+i] = float32(op.f.Pre(float64(v)))
			}
		})
	}
	if err := op.sum.Forward(ctx, []*tensor.Tensor{op.t}, out); err != nil {
		return err
	}
	for k, v := range y {
		m := 0.0
		if op.f.Shift {
			m = float64(op.m.Data[k])
		}
		y[k] = float32(op.f.Post(float64(v), m))
	}
	return nil
}

func (op *sumReduceOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	if err := op.sum.prepare(in[0].Shape); err != nil {
		return err
	}
	x, y, g, gx := in[0].Data, out[0].Data, gout[0].Data, gin[0].Data
	if len(gx) != len(x) || len(g) != len(y) {
		return fmt.Errorf("gradient sizes %d and %d do not match input %d and output %d", len(gx), len(g), len(x), len(y))
	}
	p := op.sum.plan
	s := p.inner(0)
	p.run(ctx.Threads, func(o, n int, off []int) {
		for j, v := range x[o : o+n] {
			k := off[0] + j*s
			gx[o+j] += g[k] * float32(op.f.Grad(float64(v), float64(y[k])))
		}
	})
	return nil
}
