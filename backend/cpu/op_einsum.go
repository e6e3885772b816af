package cpu

// Einsum with one or two operands, lowered to strided gathers and a
// batched GEMM. The equation is parsed generally: letters a–z and A–Z, an
// ellipsis standing for the same leading axes in every term (broadcast
// numpy-style, right-aligned), repeated letters in a term (its diagonal),
// and an implicit output (the ellipsis axes, then the letters that occur
// once, in alphabetical order) when there is no "->". Every letter is a
// batch axis (in both operands and the output), a row axis (the first
// operand and the output), a column axis (the second operand and the
// output) or a summed axis (not in the output); a summed axis only one
// operand has is summed over with the other's stride 0. Three or more
// operands are refused with an error naming the equation.

import (
	"fmt"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("Einsum", newEinsum)
}

type einsumOp struct {
	eq         graph.EinsumEq
	p          *graph.EinsumPlan
	ones       []float32 // the second operand of a one-operand equation
	a, b, y, g []float32 // packed operands, product and its gradient
	ga, gb     []float32 // packed operands' gradients
}

func newEinsum(n *graph.Node) (Op, error) {
	e, err := graph.ParseEinsumNode(n)
	if err != nil {
		return nil, err
	}
	return &einsumOp{eq: e, ones: []float32{1}}, nil
}

func (op *einsumOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := graph.WantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	p, err := op.eq.Plan(in)
	if err != nil {
		return nil, err
	}
	op.p = p
	return [][]int{graph.CloneShape(p.Out)}, nil
}

// operand returns operand i's data and strides (the implicit ones vector
// for a one-operand equation's second).
func (op *einsumOp) operand(in []*tensor.Tensor, i int) ([]float32, map[int]int) {
	if i < len(in) {
		return in[i].Data, op.p.Strides[i]
	}
	return op.ones, map[int]int{}
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// pack gathers both operands: A as nb×m×k, B as nb×k×n.
func (op *einsumOp) pack(in []*tensor.Tensor) {
	p := op.p
	ad, ast := op.operand(in, 0)
	bd, bst := op.operand(in, 1)
	op.a = grow32(op.a, p.Nb*p.M*p.K)
	op.b = grow32(op.b, p.Nb*p.K*p.N)
	p.Walk(slices.Concat(p.Batch, p.Rows, p.Sum), ast, func(i, off int) { op.a[i] = ad[off] })
	p.Walk(slices.Concat(p.Batch, p.Sum, p.Cols), bst, func(i, off int) { op.b[i] = bd[off] })
}

func (op *einsumOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p := op.p
	y := out[0].Data
	if len(y) != graph.ShapeProd(p.Out) {
		return graph.ShapeErr("output has shape %s, the equation gives %v", out[0].Shape, p.Out)
	}
	op.pack(in)
	mn := p.M * p.N
	op.y = grow32(op.y, p.Nb*mn)
	if p.K == 0 {
		clear(op.y)
	} else if mn > 0 {
		for b := range p.Nb {
			gemm.Sgemm(false, false, p.M, p.N, p.K, 1, op.a[b*p.M*p.K:], p.K, op.b[b*p.K*p.N:], p.N, 0, op.y[b*mn:], p.N, ctx.Threads)
		}
	}
	p.Walk(slices.Concat(p.Batch, p.Rows, p.Cols), p.OutStride, func(i, off int) { y[off] = op.y[i] })
	return nil
}

// Backward: per batch, gA = gY·Bᵀ and gB = Aᵀ·gY on the packed operands,
// scattered back with their strides (adding over letters an operand
// lacks or broadcasts, and over a diagonal's positions).
func (op *einsumOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	p := op.p
	if len(op.a) != p.Nb*p.M*p.K || len(op.b) != p.Nb*p.K*p.N {
		return fmt.Errorf("backward without a forward at this shape")
	}
	mn := p.M * p.N // op.a and op.b are Forward's packed operands
	op.g = grow32(op.g, p.Nb*mn)
	gy := gout[0].Data
	p.Walk(slices.Concat(p.Batch, p.Rows, p.Cols), p.OutStride, func(i, off int) { op.g[i] = gy[off] })
	if gin[0] != nil {
		op.ga = grow32(op.ga, p.Nb*p.M*p.K)
		ga := op.ga
		if p.M*p.K > 0 && p.N > 0 {
			for b := range p.Nb {
				gemm.Sgemm(false, true, p.M, p.K, p.N, 1, op.g[b*mn:], p.N, op.b[b*p.K*p.N:], p.N, 0, ga[b*p.M*p.K:], p.K, ctx.Threads)
			}
		} else {
			clear(ga) // nothing summed: a zero gradient
		}
		gx := gin[0].Data
		p.Walk(slices.Concat(p.Batch, p.Rows, p.Sum), p.Strides[0], func(i, off int) { gx[off] += ga[i] })
	}
	if len(gin) > 1 && gin[1] != nil {
		op.gb = grow32(op.gb, p.Nb*p.K*p.N)
		gb := op.gb
		if p.K*p.N > 0 && p.M > 0 {
			for b := range p.Nb {
				gemm.Sgemm(true, false, p.K, p.N, p.M, 1, op.a[b*p.M*p.K:], p.K, op.g[b*mn:], p.N, 0, gb[b*p.K*p.N:], p.N, ctx.Threads)
			}
		} else {
			clear(gb) // nothing summed: a zero gradient
		}
		gx := gin[1].Data
		p.Walk(slices.Concat(p.Batch, p.Sum, p.Cols), p.Strides[1], func(i, off int) { gx[off] += gb[i] })
	}
	return nil
}
