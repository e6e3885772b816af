package graph

// Tile: the input repeated along each axis the number of times input 1
// (repeats, a constant) says. Exporters write it for expand-like
// broadcasts (a positional embedding repeated over the batch, a mask
// repeated over heads) and in shape arithmetic.

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "Tile", Build: func(*Node) (Op, error) { return &tileOp{}, nil }, Infer: inferTile})
}

// tileRepeats checks repeats against the input's rank.
func tileRepeats(x []int, consts []*tensor.Tensor) ([]int, error) {
	reps, err := constIntsInput(consts, 1, "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != len(x) {
		return nil, shapeErr("repeats has %d values for an input of rank %d (%v)", len(reps), len(x), x)
	}
	for i, r := range reps {
		if r < 0 {
			return nil, shapeErr("repeats[%d] is %d: want at least 0", i, r)
		}
	}
	return reps, nil
}

// inferTile: the output's axis i is the input's times repeats[i].
func inferTile(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 2, 2); err != nil {
		return nil, err
	}
	reps, err := tileRepeats(in[0], consts)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(in[0]))
	for i, d := range in[0] {
		out[i] = d * reps[i]
	}
	return [][]int{out}, nil
}

type tileOp struct {
	x, y []int // input and output shapes
}

func (op *tileOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := inferTile(nil, in, consts)
	if err != nil {
		return nil, err
	}
	op.x, op.y = cloneShape(in[0]), cloneShape(outs[0])
	return outs, nil
}

// walk calls row for every innermost input row and each of its copies in
// the output: xo and yo are the row's offsets, n its length. Rows are
// visited output-order within each copy of the outer axes.
func (op *tileOp) walk(row func(xo, yo, n int)) {
	r := len(op.x)
	if r == 0 {
		row(0, 0, 1)
		return
	}
	// Row-major strides of input and output.
	xs, ys := make([]int, r), make([]int, r)
	xs[r-1], ys[r-1] = 1, 1
	for d := r - 2; d >= 0; d-- {
		xs[d], ys[d] = xs[d+1]*op.x[d+1], ys[d+1]*op.y[d+1]
	}
	var rec func(d, xo, yo int)
	rec = func(d, xo, yo int) {
		if d == r-1 {
			for k := 0; k*op.x[d] < op.y[d]; k++ {
				row(xo, yo+k*op.x[d], op.x[d])
			}
			return
		}
		for k := 0; k < op.y[d]; k++ {
			rec(d+1, xo+(k%op.x[d])*xs[d], yo+k*ys[d])
		}
	}
	rec(0, 0, 0)
}

func (op *tileOp) Forward(_ *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	if len(x) != shapeProd(op.x) || len(y) != shapeProd(op.y) {
		return shapeErr("input %s or output %s does not match the inferred shapes", in[0].Shape, out[0].Shape)
	}
	if len(y) == 0 {
		return nil
	}
	op.walk(func(xo, yo, n int) { copy(y[yo:yo+n], x[xo:xo+n]) })
	return nil
}

// Backward: every input element's gradient is the sum over its copies.
func (op *tileOp) Backward(_ *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	gx, g := gin[0].Data, gout[0].Data
	if len(gx) != shapeProd(op.x) || len(g) != shapeProd(op.y) {
		return fmt.Errorf("gradient sizes %d and %d do not match the shapes %v and %v", len(gx), len(g), op.x, op.y)
	}
	if len(g) == 0 {
		return nil
	}
	op.walk(func(xo, yo, n int) {
		for j, v := range g[yo : yo+n] {
			gx[xo+j] += v
		}
	})
	return nil
}
