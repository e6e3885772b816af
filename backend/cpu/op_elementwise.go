package cpu

// Elementwise arithmetic with numpy multidirectional broadcasting (Add, Sub,
// Mul, Div, Pow, and PRelu, whose slope broadcasts to x) and elementwise math (Neg, Sqrt, Exp, Log, Abs,
// Reciprocal).
//
// Broadcasting goes through a stridePlan, which merges dimensions so that
// the common cases run as long contiguous inner loops: same shape is one
// loop, x[N,C,H,W]·s[N,C,1,1] is N·C rows of H·W elements times a scalar,
// x + b[1,C,1,1] is N·C rows with the bias scalar per row, and x[N,F] + b[F]
// is N vector-vector rows. Backward reduces each input's gradient over its
// broadcast dimensions.

import (
	"fmt"
	"math"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for name, k := range map[string]graph.BinKind{"Add": graph.BinAdd, "Sub": graph.BinSub, "Mul": graph.BinMul, "Div": graph.BinDiv, "Pow": graph.BinPow, "PRelu": graph.BinPRelu} {
		RegisterKernel(name, func(n *graph.Node) (Op, error) { return &binaryOp{kind: k}, nil })
	}
	registerUnary("Neg", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = -v
				}
			},
			bwd: func(gx, _, _, g []float32) {
				for i, v := range g {
					gx[i] -= v
				}
			},
		}, nil
	})
	registerUnary("Sqrt", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = float32(math.Sqrt(float64(v)))
				}
			},
			bwd: func(gx, _, y, g []float32) {
				for i, v := range g {
					gx[i] += v * 0.5 / y[i]
				}
			},
		}, nil
	})
	registerUnary("Exp", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = float32(math.Exp(float64(v)))
				}
			},
			bwd: func(gx, _, y, g []float32) {
				for i, v := range g {
					gx[i] += v * y[i]
				}
			},
		}, nil
	})
	registerUnary("Log", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = float32(math.Log(float64(v)))
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					gx[i] += v / x[i]
				}
			},
		}, nil
	})
	registerUnary("Abs", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = float32(math.Abs(float64(v)))
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					switch {
					case x[i] > 0:
						gx[i] += v
					case x[i] < 0:
						gx[i] -= v
					}
				}
			},
		}, nil
	})
	registerUnary("Reciprocal", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = 1 / v
				}
			},
			bwd: func(gx, _, y, g []float32) {
				for i, v := range g {
					gx[i] -= v * y[i] * y[i]
				}
			},
		}, nil
	})
}

// binaryOp is Add, Sub, Mul, Div, Pow or PRelu.
type binaryOp struct {
	kind graph.BinKind
	// act, set by CompileInference on an Add, clamps the output as it is
	// written (a Relu after a residual addition).
	act *clampBounds
	// plan caches the iteration for the input shapes pa, pb.
	plan    *stridePlan
	pa, pb  []int
	scratch []float32
}

func (op *binaryOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return graph.InferBinary(op.kind, in)
}

func (op *binaryOp) planFor(a, b []int) (*stridePlan, error) {
	if op.plan != nil && slices.Equal(a, op.pa) && slices.Equal(b, op.pb) {
		return op.plan, nil
	}
	out, err := graph.BroadcastShapes(a, b)
	if err != nil {
		return nil, err
	}
	op.plan = newBroadcastPlan(out, a, b)
	op.pa, op.pb = graph.CloneShape(a), graph.CloneShape(b)
	return op.plan, nil
}

func (op *binaryOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p, err := op.planFor(in[0].Shape, in[1].Shape)
	if err != nil {
		return err
	}
	y, a, b := out[0].Data, in[0].Data, in[1].Data
	if len(y) != p.n {
		return graph.ShapeErr("output has shape %s, inputs %s and %s", out[0].Shape, in[0].Shape, in[1].Shape)
	}
	sa, sb, k, act := p.inner(0), p.inner(1), op.kind, op.act
	p.run(ctx.Threads, func(o, n int, off []int) {
		if act != nil && sa == 1 && sb == 1 {
			vec.AddPairClamp(y[o:o+n], a[off[0]:], b[off[1]:], act.lo, act.hi)
			return
		}
		binRow(k, y[o:o+n], a[off[0]:], b[off[1]:], sa, sb)
		act.clampInPlace(y[o : o+n])
	})
	return nil
}

// fuseAct takes a following activation into an Add.
func (op *binaryOp) fuseAct(a *clampBounds) bool {
	if op.kind != graph.BinAdd || op.act != nil {
		return false
	}
	op.act = a
	return true
}

// binRow computes y[i] = a[i·sa] ∘ b[i·sb] for one run (sa, sb ∈ {0, 1}).
func binRow(k graph.BinKind, y, a, b []float32, sa, sb int) {
	n := len(y)
	switch k {
	case graph.BinAdd:
		switch {
		case sa == 1 && sb == 1:
			vec.Add(y, a, b)
		case sa == 1:
			a, s := a[:n], b[0]
			for i := range y {
				y[i] = a[i] + s
			}
		case sb == 1:
			s, b := a[0], b[:n]
			for i := range y {
				y[i] = s + b[i]
			}
		default:
			vec.Fill(y, a[0]+b[0])
		}
	case graph.BinSub:
		switch {
		case sa == 1 && sb == 1:
			a, b := a[:n], b[:n]
			for i := range y {
				y[i] = a[i] - b[i]
			}
		case sa == 1:
			a, s := a[:n], b[0]
			for i := range y {
				y[i] = a[i] - s
			}
		case sb == 1:
			s, b := a[0], b[:n]
			for i := range y {
				y[i] = s - b[i]
			}
		default:
			vec.Fill(y, a[0]-b[0])
		}
	case graph.BinMul:
		switch {
		case sa == 1 && sb == 1:
			a, b := a[:n], b[:n]
			for i := range y {
				y[i] = a[i] * b[i]
			}
		case sa == 1:
			a, s := a[:n], b[0]
			for i := range y {
				y[i] = a[i] * s
			}
		case sb == 1:
			s, b := a[0], b[:n]
			for i := range y {
				y[i] = s * b[i]
			}
		default:
			vec.Fill(y, a[0]*b[0])
		}
	case graph.BinDiv:
		switch {
		case sa == 1 && sb == 1:
			a, b := a[:n], b[:n]
			for i := range y {
				y[i] = a[i] / b[i]
			}
		case sa == 1:
			a, s := a[:n], b[0]
			for i := range y {
				y[i] = a[i] / s
			}
		case sb == 1:
			s, b := a[0], b[:n]
			for i := range y {
				y[i] = s / b[i]
			}
		default:
			vec.Fill(y, a[0]/b[0])
		}
	case graph.BinPow:
		if sb == 0 && sa == 1 {
			switch e := b[0]; e {
			case 1:
				copy(y, a[:n])
				return
			case 2:
				a := a[:n]
				for i := range y {
					y[i] = a[i] * a[i]
				}
				return
			}
		}
		for i := range y {
			y[i] = float32(math.Pow(float64(a[i*sa]), float64(b[i*sb])))
		}
	case graph.BinPRelu:
		for i := range y {
			v := a[i*sa]
			if v < 0 {
				v *= b[i*sb]
			}
			y[i] = v
		}
	}
}

// WritesFreshGrads: a same-shape Add copies its gradient into a fresh
// input gradient; every other case clears it and adds as usual.
func (op *binaryOp) WritesFreshGrads() bool { return true }

func (op *binaryOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil || (gin[0] == nil && gin[1] == nil) {
		return nil
	}
	p, err := op.planFor(in[0].Shape, in[1].Shape)
	if err != nil {
		return err
	}
	g, a, b, y := gout[0].Data, in[0].Data, in[1].Data, out[0].Data
	sa, sb, kind := p.inner(0), p.inner(1), op.kind
	for k := range 2 {
		if gin[k] == nil {
			continue
		}
		if ctx.fresh(k) {
			if kind == graph.BinAdd && len(gin[k].Data) == len(g) {
				copy(gin[k].Data, g) // no broadcast: the gradient as it is
				continue
			}
			clear(gin[k].Data)
		}
		sd := p.inner(k)
		p.reduceRun(ctx.Threads, k, gin[k].Data, &op.scratch, func(d []float32, o, n int, off []int) {
			dk := d[off[k]:]
			gr := g[o : o+n]
			switch kind {
			case graph.BinAdd:
				accumRow(dk, sd, gr, nil, 0, 1)
			case graph.BinSub:
				accumRow(dk, sd, gr, nil, 0, float32(1-2*k))
			case graph.BinMul:
				if k == 0 {
					accumRow(dk, sd, gr, b[off[1]:], sb, 1)
				} else {
					accumRow(dk, sd, gr, a[off[0]:], sa, 1)
				}
			case graph.BinDiv:
				bb := b[off[1]:]
				if k == 0 {
					termRow(dk, sd, n, func(i int) float32 { return gr[i] / bb[i*sb] })
				} else {
					yy := y[o : o+n]
					termRow(dk, sd, n, func(i int) float32 { return -gr[i] * yy[i] / bb[i*sb] })
				}
			case graph.BinPow:
				aa, bb := a[off[0]:], b[off[1]:]
				if k == 0 {
					termRow(dk, sd, n, func(i int) float32 {
						e := float64(bb[i*sb])
						if e == 0 {
							return 0
						}
						return gr[i] * float32(e*math.Pow(float64(aa[i*sa]), e-1))
					})
				} else {
					yy := y[o : o+n]
					termRow(dk, sd, n, func(i int) float32 {
						if x := aa[i*sa]; x > 0 {
							return gr[i] * yy[i] * float32(math.Log(float64(x)))
						}
						return 0
					})
				}
			case graph.BinPRelu:
				aa, bb := a[off[0]:], b[off[1]:]
				if k == 0 {
					termRow(dk, sd, n, func(i int) float32 {
						if aa[i*sa] < 0 {
							return gr[i] * bb[i*sb]
						}
						return gr[i]
					})
				} else {
					termRow(dk, sd, n, func(i int) float32 {
						if x := aa[i*sa]; x < 0 {
							return gr[i] * x
						}
						return 0
					})
				}
			}
		})
	}
	return nil
}

// accumRow adds c·g[i]·w[i·sw] (w nil means 1) into d[i] when sd is 1, or
// their sum into d[0] when sd is 0 (a broadcast input).
func accumRow(d []float32, sd int, g, w []float32, sw int, c float32) {
	n := len(g)
	if sd == 1 {
		d = d[:n]
		switch {
		case w == nil:
			vec.Axpy(d, c, g)
		case sw == 1:
			w = w[:n]
			for i, v := range g {
				d[i] += c * v * w[i]
			}
		default:
			s := c * w[0]
			for i, v := range g {
				d[i] += v * s
			}
		}
		return
	}
	var s float32
	switch {
	case w == nil:
		s = sum32(g)
	case sw == 1:
		s = dot32(g, w[:n])
	default:
		s = sum32(g) * w[0]
	}
	d[0] += c * s
}

// sum32 sums v with four independent accumulators (faster than one chain
// of dependent adds, and a little more accurate).
func sum32(v []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i]
		s1 += v[i+1]
		s2 += v[i+2]
		s3 += v[i+3]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot32 returns Σ a[i]·b[i] (len(b) ≥ len(a)) with four accumulators.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// termRow adds t(i) into d[i] (sd 1) or the sum of t(i) into d[0] (sd 0).
func termRow(d []float32, sd, n int, t func(i int) float32) {
	if sd == 1 {
		d = d[:n]
		for i := range d {
			d[i] += t(i)
		}
		return
	}
	var s float32
	for i := range n {
		s += t(i)
	}
	d[0] += s
}

// scalarValue reads an optional scalar input at run time, or def when the
// input is omitted.
func scalarValue(in []*tensor.Tensor, i int, def float32) (float32, error) {
	if i >= len(in) || in[i] == nil {
		return def, nil
	}
	if len(in[i].Data) != 1 {
		return 0, fmt.Errorf("input %d must be a scalar, have shape %s", i, tensor.ShapeString(in[i].Shape))
	}
	return in[i].Data[0], nil
}
