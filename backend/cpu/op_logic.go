package cpu

// Kernels of the comparison, logic, Where and Mod ops (graph/op_logic.go
// says what they mean): booleans are 0 and 1, integers float32.

import (
	"fmt"
	"math"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for name, k := range map[string]logicKind{
		"Equal": logicEqual, "Greater": logicGreater, "GreaterOrEqual": logicGreaterOrEqual,
		"Less": logicLess, "LessOrEqual": logicLessOrEqual, "And": logicAnd, "Or": logicOr, "Xor": logicXor,
	} {
		RegisterKernel(name, func(*graph.Node) (Op, error) { return &logicOp{kind: k}, nil })
	}
	RegisterKernel("Mod", func(n *graph.Node) (Op, error) {
		f, err := n.Attrs.Int("fmod", 0)
		if err != nil {
			return nil, err
		}
		if f != 0 && f != 1 {
			return nil, fmt.Errorf("attribute fmod is %d: want 0 or 1", f)
		}
		k := logicMod
		if f == 1 {
			k = logicFmod
		}
		return &logicOp{kind: k}, nil
	})
	RegisterKernel("Where", func(*graph.Node) (Op, error) { return &whereOp{}, nil })
	registerPredicate("Not", func(*graph.Node) (func(float32) bool, error) {
		return func(x float32) bool { return x == 0 }, nil
	})
	registerPredicate("IsNaN", func(*graph.Node) (func(float32) bool, error) {
		return func(x float32) bool { return x != x }, nil
	})
	registerPredicate("IsInf", func(n *graph.Node) (func(float32) bool, error) {
		pos, err := n.Attrs.Int("detect_positive", 1)
		if err != nil {
			return nil, err
		}
		neg, err := n.Attrs.Int("detect_negative", 1)
		if err != nil {
			return nil, err
		}
		return func(x float32) bool {
			return (pos != 0 && math.IsInf(float64(x), 1)) || (neg != 0 && math.IsInf(float64(x), -1))
		}, nil
	})
}

// logicKind is one elementwise function of two operands.
type logicKind uint8

const (
	logicEqual logicKind = iota
	logicGreater
	logicGreaterOrEqual
	logicLess
	logicLessOrEqual
	logicAnd
	logicOr
	logicXor
	logicMod  // integer remainder with the divisor's sign (fmod = 0)
	logicFmod // C fmod, the dividend's sign (fmod = 1)
)

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// apply computes the op on one pair of values.
func (k logicKind) apply(a, b float32) float32 {
	switch k {
	case logicEqual:
		return b2f(a == b)
	case logicGreater:
		return b2f(a > b)
	case logicGreaterOrEqual:
		return b2f(a >= b)
	case logicLess:
		return b2f(a < b)
	case logicLessOrEqual:
		return b2f(a <= b)
	case logicAnd:
		return b2f(a != 0 && b != 0)
	case logicOr:
		return b2f(a != 0 || b != 0)
	case logicXor:
		return b2f((a != 0) != (b != 0))
	case logicMod:
		if b == 0 {
			return float32(math.NaN())
		}
		m := float32(math.Mod(float64(a), float64(b)))
		if m != 0 && (m < 0) != (b < 0) {
			m += b
		}
		return m
	case logicFmod:
		return float32(math.Mod(float64(a), float64(b)))
	}
	return 0
}

// logicOp is a comparison, a logic op or Mod.
type logicOp struct {
	kind logicKind
	plan planCache
}

func (op *logicOp) Infer(in [][]int, c []*tensor.Tensor) ([][]int, error) {
	return graph.InferBroadcast(2)(nil, in, c)
}

func (op *logicOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	y, a, b := out[0].Data, in[0].Data, in[1].Data
	p := op.plan.get(out[0].Shape, in[0].Shape, in[1].Shape)
	if len(y) != p.n {
		return graph.ShapeErr("output has shape %s, inputs %s and %s", out[0].Shape, in[0].Shape, in[1].Shape)
	}
	sa, sb, k := p.inner(0), p.inner(1), op.kind
	p.run(ctx.Threads, func(o, n int, off []int) {
		ya, aa, bb := y[o:o+n], a[off[0]:], b[off[1]:]
		for i := range ya {
			ya[i] = k.apply(aa[i*sa], bb[i*sb])
		}
	})
	return nil
}

// Backward: comparisons and logic have no gradient; Mod's is 1 for the
// dividend and −⌊a/b⌋ (−trunc(a/b) for fmod) for the divisor.
func (op *logicOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if op.kind != logicMod && op.kind != logicFmod {
		return nil
	}
	p := op.plan.get(out[0].Shape, in[0].Shape, in[1].Shape)
	a, b, g := in[0].Data, in[1].Data, gout[0].Data
	// One worker: broadcast operands receive from many outputs.
	p.each(0, p.n, func(o, n int, off []int) {
		sa, sb := p.inner(0), p.inner(1)
		for i := range n {
			ia, ib := off[0]+i*sa, off[1]+i*sb
			gv := g[o+i]
			if gin[0] != nil {
				gin[0].Data[ia] += gv
			}
			if gin[1] != nil && b[ib] != 0 {
				q := float64(a[ia]) / float64(b[ib])
				if op.kind == logicMod {
					q = math.Floor(q)
				} else {
					q = math.Trunc(q)
				}
				gin[1].Data[ib] -= gv * float32(q)
			}
		}
	})
	return nil
}

// registerPredicate registers a one-input op that writes 1 where pred
// holds and 0 elsewhere.
func registerPredicate(name string, mk func(*graph.Node) (func(float32) bool, error)) {
	RegisterKernel(name, func(n *graph.Node) (Op, error) {
		pred, err := mk(n)
		if err != nil {
			return nil, err
		}
		return &predicateOp{pred}, nil
	})
}

type predicateOp struct{ pred func(float32) bool }

func (op *predicateOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := graph.WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	return [][]int{graph.CloneShape(in[0])}, nil
}

func (op *predicateOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	if len(x) != len(y) {
		return graph.ShapeErr("output has shape %s, input %s", out[0].Shape, in[0].Shape)
	}
	elemChunks(ctx.Threads, len(y), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = b2f(op.pred(x[i]))
		}
	})
	return nil
}

func (op *predicateOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}

// whereOp is Where(cond, x, y): x where cond is non-zero, else y, all three
// broadcast together.
type whereOp struct{ plan planCache }

func (op *whereOp) Infer(in [][]int, c []*tensor.Tensor) ([][]int, error) {
	return graph.InferBroadcast(3)(nil, in, c)
}

func (op *whereOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	c, x, yv, o := in[0].Data, in[1].Data, in[2].Data, out[0].Data
	p := op.plan.get(out[0].Shape, in[0].Shape, in[1].Shape, in[2].Shape)
	if len(o) != p.n {
		return graph.ShapeErr("output has shape %s, inputs %s, %s and %s", out[0].Shape, in[0].Shape, in[1].Shape, in[2].Shape)
	}
	sc, sx, sy := p.inner(0), p.inner(1), p.inner(2)
	p.run(ctx.Threads, func(q, n int, off []int) {
		for i := range n {
			if c[off[0]+i*sc] != 0 {
				o[q+i] = x[off[1]+i*sx]
			} else {
				o[q+i] = yv[off[2]+i*sy]
			}
		}
	})
	return nil
}

// Backward sends each output gradient to the branch Forward read it from;
// the condition gets none.
func (op *whereOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[1] == nil && gin[2] == nil {
		return nil
	}
	c, g := in[0].Data, gout[0].Data
	p := op.plan.get(out[0].Shape, in[0].Shape, in[1].Shape, in[2].Shape)
	sc, sx, sy := p.inner(0), p.inner(1), p.inner(2)
	// One worker: broadcast branches receive from many outputs.
	p.each(0, p.n, func(q, n int, off []int) {
		for i := range n {
			if c[off[0]+i*sc] != 0 {
				if gin[1] != nil {
					gin[1].Data[off[1]+i*sx] += g[q+i]
				}
			} else if gin[2] != nil {
				gin[2].Data[off[2]+i*sy] += g[q+i]
			}
		}
	})
	return nil
}

// planCache keeps the broadcast plan of the last shapes an op ran on, so
// that Forward and Backward at one batch size build it once.
type planCache struct {
	shapes [][]int
	plan   *stridePlan
}

func (c *planCache) get(out []int, in ...[]int) *stridePlan {
	same := c.plan != nil && len(c.shapes) == len(in)+1 && slices.Equal(c.shapes[0], out)
	for k := 0; same && k < len(in); k++ {
		same = slices.Equal(c.shapes[k+1], in[k])
	}
	if !same {
		c.shapes = [][]int{slices.Clone(out)}
		for _, s := range in {
			c.shapes = append(c.shapes, slices.Clone(s))
		}
		c.plan = newBroadcastPlan(out, in...)
	}
	return c.plan
}
