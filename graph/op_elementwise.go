package graph

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

	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

type binKind uint8

const (
	binAdd binKind = iota
	binSub
	binMul
	binDiv
	binPow
	binPRelu // y = a if a ≥ 0, else a·b
)

// preluParams: a PReLU's param slope trains (PyTorch's nn.PReLU learns it).
func preluParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{{Input: 1, Kind: ParamScale, Trainable: true}}
}

// layerScaleParams: a Mul of an activation by a param holding one value
// per channel (one axis longer than 1, more than one element) is a
// learned layer scale (ConvNeXt's γ, CaiT's LayerScale) and trains. Any
// other param operand is a constant: a scalar (GELU's 0.5 and 1/√2), a
// tensor of several axes, or a factor applied to a graph input (input
// normalisation).
func layerScaleParams(n *Node, in []Operand) []ParamUse {
	return perChannelParam(in, ParamScale)
}

// biasAddParams: an Add of an activation and a param holding one value
// per channel is a bias (a MatMul's, as PyTorch exports nn.Linear on N-d
// inputs and ConvNeXt's blocks, or TensorFlow's BiasAdd) and trains, by
// the same shape rule as a layer scale.
func biasAddParams(n *Node, in []Operand) []ParamUse {
	return perChannelParam(in, ParamBias)
}

// perChannelParam declares the param operand of a binary op trainable,
// as kind, when the other operand is an activation (not a param, not a
// graph input) and the param has exactly one axis longer than 1.
func perChannelParam(in []Operand, kind ParamKind) []ParamUse {
	if len(in) != 2 {
		return nil
	}
	for i, op := range in {
		x := in[1-i]
		if op.Param == nil || x.Name == "" || x.Param != nil || x.GraphInput {
			continue
		}
		long := 0
		for _, d := range op.Param.Value.Shape {
			if d > 1 {
				long++
			}
		}
		if long == 1 {
			return []ParamUse{{Input: i, Kind: kind, Trainable: true}}
		}
	}
	return nil
}

// The elementwise one-input ops of this file: an output of the input's shape.
func init() {
	for _, name := range []string{"Neg", "Sqrt", "Exp", "Log", "Abs", "Reciprocal"} {
		RegisterOp(OpSpec{Type: name, Infer: inferUnary})
	}
}

func init() {
	params := map[binKind]func(*Node, []Operand) []ParamUse{binAdd: biasAddParams, binMul: layerScaleParams, binPRelu: preluParams}
	for name, k := range map[string]binKind{"Add": binAdd, "Sub": binSub, "Mul": binMul, "Div": binDiv, "Pow": binPow, "PRelu": binPRelu} {
		RegisterOp(OpSpec{Type: name, Infer: func(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return inferBinary(k, in) }, Params: params[k]})
		RegisterKernel(name, func(n *Node) (Op, error) { return &binaryOp{kind: k}, nil })
	}
	registerUnary("Neg", func(*Node) (unaryFn, error) {
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
	registerUnary("Sqrt", func(*Node) (unaryFn, error) {
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
	registerUnary("Exp", func(*Node) (unaryFn, error) {
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
	registerUnary("Log", func(*Node) (unaryFn, error) {
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
	registerUnary("Abs", func(*Node) (unaryFn, error) {
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
	registerUnary("Reciprocal", func(*Node) (unaryFn, error) {
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
	kind binKind
	// act, set by CompileInference on an Add, clamps the output as it is
	// written (a Relu after a residual addition).
	act *clampBounds
	// plan caches the iteration for the input shapes pa, pb.
	plan    *stridePlan
	pa, pb  []int
	scratch []float32
}

func (op *binaryOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return inferBinary(op.kind, in)
}

// inferBinary: the inputs broadcast to the output; PRelu's slope
// broadcasts to X.
func inferBinary(kind binKind, in [][]int) ([][]int, error) {
	if err := wantInputs(in, 2, 2); err != nil {
		return nil, err
	}
	out, err := broadcastShapes(in[0], in[1])
	if err != nil {
		return nil, err
	}
	if kind == binPRelu && !slices.Equal(out, in[0]) {
		return nil, shapeErr("slope of shape %s does not broadcast to X of shape %s", in[1], in[0])
	}
	return [][]int{out}, nil
}

func (op *binaryOp) planFor(a, b []int) (*stridePlan, error) {
	if op.plan != nil && slices.Equal(a, op.pa) && slices.Equal(b, op.pb) {
		return op.plan, nil
	}
	out, err := broadcastShapes(a, b)
	if err != nil {
		return nil, err
	}
	op.plan = newBroadcastPlan(out, a, b)
	op.pa, op.pb = cloneShape(a), cloneShape(b)
	return op.plan, nil
}

func (op *binaryOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p, err := op.planFor(in[0].Shape, in[1].Shape)
	if err != nil {
		return err
	}
	y, a, b := out[0].Data, in[0].Data, in[1].Data
	if len(y) != p.n {
		return shapeErr("output has shape %s, inputs %s and %s", out[0].Shape, in[0].Shape, in[1].Shape)
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
	if op.kind != binAdd || op.act != nil {
		return false
	}
	op.act = a
	return true
}

// binRow computes y[i] = a[i·sa] ∘ b[i·sb] for one run (sa, sb ∈ {0, 1}).
func binRow(k binKind, y, a, b []float32, sa, sb int) {
	n := len(y)
	switch k {
	case binAdd:
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
	case binSub:
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
	case binMul:
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
	case binDiv:
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
	case binPow:
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
	case binPRelu:
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
			if kind == binAdd && len(gin[k].Data) == len(g) {
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
			case binAdd:
				accumRow(dk, sd, gr, nil, 0, 1)
			case binSub:
				accumRow(dk, sd, gr, nil, 0, float32(1-2*k))
			case binMul:
				if k == 0 {
					accumRow(dk, sd, gr, b[off[1]:], sb, 1)
				} else {
					accumRow(dk, sd, gr, a[off[0]:], sa, 1)
				}
			case binDiv:
				bb := b[off[1]:]
				if k == 0 {
					termRow(dk, sd, n, func(i int) float32 { return gr[i] / bb[i*sb] })
				} else {
					yy := y[o : o+n]
					termRow(dk, sd, n, func(i int) float32 { return -gr[i] * yy[i] / bb[i*sb] })
				}
			case binPow:
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
			case binPRelu:
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

// checkScalarInput rejects an optional scalar input (Clip's min/max,
// Dropout's ratio, Pad's constant_value) with more than one element.
func checkScalarInput(in [][]int, i int, what string) error {
	if i < len(in) && in[i] != nil && shapeProd(in[i]) != 1 {
		return shapeErr("%s (input %d) must be a scalar, have shape %s", what, i, in[i])
	}
	return nil
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
