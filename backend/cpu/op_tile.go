package cpu

// Tile: the input repeated along each axis the number of times input 1
// (repeats, a constant) says. Exporters write it for expand-like
// broadcasts (a positional embedding repeated over the batch, a mask
// repeated over heads) and in shape arithmetic.

import (
	"fmt"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("Tile", func(*graph.Node) (Op, error) { return &tileOp{}, nil })
}

// tileOp views the output as the input broadcast: Tile of x (d0, d1, …)
// by (r0, r1, …) is x reshaped to (1, d0, 1, d1, …) broadcast to
// (r0, d0, r1, d1, …), so it runs on Expand's stride plan, copied forward
// (gather) and summed over the copies backward (reduceRun).
type tileOp struct {
	x, y    []int // input and output shapes
	plan    *stridePlan
	scratch []float32
}

func (op *tileOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := graph.InferTile(nil, in, consts)
	if err != nil {
		return nil, err
	}
	op.x, op.y = graph.CloneShape(in[0]), graph.CloneShape(outs[0])
	cs := contiguousStrides(op.x)
	dims, st := make([]int, 0, 2*len(op.x)), make([]int, 0, 2*len(op.x))
	for i, d := range op.x {
		dims = append(dims, op.y[i]/max(d, 1), d)
		st = append(st, 0, cs[i])
	}
	op.plan = newStridePlan(dims, nil, st)
	return outs, nil
}

func (op *tileOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	if len(x) != graph.ShapeProd(op.x) || len(y) != graph.ShapeProd(op.y) {
		return graph.ShapeErr("input %s or output %s does not match the inferred shapes", in[0].Shape, out[0].Shape)
	}
	if len(y) == 0 {
		return nil
	}
	op.plan.gather(ctx.Threads, x, y)
	return nil
}

// Backward: every input element's gradient is the sum over its copies.
func (op *tileOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	gx, g := gin[0].Data, gout[0].Data
	if len(gx) != graph.ShapeProd(op.x) || len(g) != graph.ShapeProd(op.y) {
		return fmt.Errorf("gradient sizes %d and %d do not match the shapes %v and %v", len(gx), len(g), op.x, op.y)
	}
	if len(g) == 0 {
		return nil
	}
	sd := op.plan.inner(0)
	op.plan.reduceRun(ctx.Threads, 0, gx, &op.scratch, func(d []float32, o, n int, off []int) {
		accumRow(d[off[0]:], sd, g[o:o+n], nil, 0, 1)
	})
	return nil
}
