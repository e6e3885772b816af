package cpu

import (
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// variadicOp is ONNX Sum, Mean, Max and Min: elementwise over one or more
// inputs with numpy broadcasting. The gradient of Max and Min goes to the
// first input (in input order) that holds the extreme, as a chain of
// two-input max(a, b) picking a on ties would send it.
type variadicOp struct {
	kind    string
	shapes  [][]int
	plans   []*stridePlan
	winner  []int8 // Max/Min: the input each output element came from
	scratch []float32
}

func init() {
	for _, kind := range []string{"Sum", "Mean", "Max", "Min"} {
		RegisterKernel(kind, func(n *graph.Node) (Op, error) { return &variadicOp{kind: kind}, nil })
	}
}

func (op *variadicOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return graph.InferVariadic(op.kind, in)
}

// plan returns one broadcast plan per input for the output shape.
func (op *variadicOp) plan(in []*tensor.Tensor, out []int) []*stridePlan {
	same := len(op.shapes) == len(in)
	for k := 0; same && k < len(in); k++ {
		same = slices.Equal(op.shapes[k], in[k].Shape)
	}
	if !same || len(op.plans) == 0 || op.plans[0].n != graph.ShapeProd(out) {
		op.shapes, op.plans = op.shapes[:0], op.plans[:0]
		for _, t := range in {
			op.shapes = append(op.shapes, graph.CloneShape(t.Shape))
			op.plans = append(op.plans, newBroadcastPlan(out, t.Shape))
		}
	}
	return op.plans
}

func (op *variadicOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	y := out[0].Data
	plans := op.plan(in, out[0].Shape)
	plans[0].gather(ctx.Threads, in[0].Data, y)
	isMax := op.kind == "Max"
	for k := 1; k < len(in); k++ {
		a, p := in[k].Data, plans[k]
		s := p.inner(0)
		p.run(ctx.Threads, func(o, n int, off []int) {
			row := y[o : o+n]
			for j := range row {
				v := a[off[0]+j*s]
				switch {
				case op.kind == "Sum" || op.kind == "Mean":
					row[j] += v
				case isMax && (v > row[j] || v != v):
					row[j] = v
				case !isMax && (v < row[j] || v != v):
					row[j] = v
				}
			}
		})
	}
	if op.kind == "Mean" {
		scale := 1 / float32(len(in))
		for i := range y {
			y[i] *= scale
		}
	}
	return nil
}

func (op *variadicOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	g, y := gout[0].Data, out[0].Data
	plans := op.plan(in, out[0].Shape)
	extreme := op.kind == "Max" || op.kind == "Min"
	if extreme {
		if len(op.winner) != len(y) {
			op.winner = make([]int8, len(y))
		}
		for i := range op.winner {
			op.winner[i] = -1
		}
		for k := range in {
			a, p := in[k].Data, plans[k]
			s := p.inner(0)
			p.each(0, p.n, func(o, n int, off []int) {
				for j := range n {
					if op.winner[o+j] < 0 && a[off[0]+j*s] == y[o+j] {
						op.winner[o+j] = int8(k)
					}
				}
			})
		}
	}
	c := float32(1)
	if op.kind == "Mean" {
		c = 1 / float32(len(in))
	}
	for k := range in {
		if gin[k] == nil {
			continue
		}
		p := plans[k]
		sd := p.inner(0)
		p.reduceRun(ctx.Threads, 0, gin[k].Data, &op.scratch, func(d []float32, o, n int, off []int) {
			dk := d[off[0]:]
			if !extreme {
				accumRow(dk, sd, g[o:o+n], nil, 0, c)
				return
			}
			for j := range n {
				if op.winner[o+j] == int8(k) {
					dk[j*sd] += g[o+j]
				}
			}
		})
	}
	return nil
}
