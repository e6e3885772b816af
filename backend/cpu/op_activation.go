package cpu

// Activations: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh,
// Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu, Identity
// (elementwise, one input), Clip (ReLU6 = Clip(0, 6)), Softmax, LogSoftmax
// and Dropout. PRelu, which has a slope input, is with the binary ops.

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

// unaryFn is an elementwise function of one input: fwd writes y = f(x), bwd
// adds f'(x)·g into gx (it may read x and the forward result y). set, when
// not nil, is bwd writing gx instead of adding (for a fresh gradient).
type unaryFn struct {
	fwd func(y, x []float32)
	bwd func(gx, x, y, g []float32)
	set func(gx, x, y, g []float32)
}

// registerUnary registers the kernel of an elementwise one-input op whose
// function may depend on the node's attributes.
func registerUnary(name string, make func(n *graph.Node) (unaryFn, error)) {
	RegisterKernel(name, func(n *graph.Node) (Op, error) {
		f, err := make(n)
		if err != nil {
			return nil, err
		}
		return &unaryOp{f}, nil
	})
}

type unaryOp struct{ f unaryFn }

func (op *unaryOp) WritesFreshGrads() bool { return op.f.set != nil }

func (op *unaryOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return graph.InferUnary(nil, in, consts)
}

func (op *unaryOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	if len(x) != len(y) {
		return graph.ShapeErr("output has shape %s, input %s", out[0].Shape, in[0].Shape)
	}
	elemChunks(ctx.Threads, len(x), func(lo, hi int) { op.f.fwd(y[lo:hi], x[lo:hi]) })
	return nil
}

func (op *unaryOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	x, y, g, gx := in[0].Data, out[0].Data, gout[0].Data, gin[0].Data
	if len(gx) != len(x) || len(g) != len(x) {
		return fmt.Errorf("gradient sizes %d and %d do not match input size %d", len(g), len(gx), len(x))
	}
	bwd := op.f.bwd
	if ctx.fresh(0) {
		bwd = op.f.set
	}
	elemChunks(ctx.Threads, len(x), func(lo, hi int) { bwd(gx[lo:hi], x[lo:hi], y[lo:hi], g[lo:hi]) })
	return nil
}

func sigmoid32(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

func init() {
	registerUnary("Identity", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) { copy(y, x) },
			bwd: func(gx, _, _, g []float32) {
				for i, v := range g {
					gx[i] += v
				}
			},
		}, nil
	})
	registerUnary("Relu", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) { vec.Clamp(y, x, 0, float32(math.Inf(1))) },
			bwd: func(gx, x, _, g []float32) { vec.ReluGradAdd(gx, x, g) },
			set: func(gx, x, _, g []float32) { vec.ReluGrad(gx, x, g) },
		}, nil
	})
	registerUnary("LeakyRelu", func(n *graph.Node) (unaryFn, error) {
		alpha, err := n.Attrs.Float("alpha", 0.01)
		if err != nil {
			return unaryFn{}, err
		}
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					if v < 0 {
						v *= alpha
					}
					y[i] = v
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					if x[i] < 0 {
						v *= alpha
					}
					gx[i] += v
				}
			},
		}, nil
	})
	registerUnary("Sigmoid", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = sigmoid32(v)
				}
			},
			bwd: func(gx, _, y, g []float32) {
				for i, v := range g {
					gx[i] += v * y[i] * (1 - y[i])
				}
			},
		}, nil
	})
	registerUnary("HardSigmoid", func(n *graph.Node) (unaryFn, error) {
		r := graph.AttrReader{A: n.Attrs}
		alpha, beta := r.Float("alpha", 0.2), r.Float("beta", 0.5)
		if r.Err != nil {
			return unaryFn{}, r.Err
		}
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = max(0, min(1, alpha*v+beta))
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					if t := alpha*x[i] + beta; t > 0 && t < 1 {
						gx[i] += alpha * v
					}
				}
			},
		}, nil
	})
	registerUnary("HardSwish", func(*graph.Node) (unaryFn, error) {
		// y = x·max(0, min(1, x/6 + 1/2)); y' = 0 below −3, 1 above 3,
		// x/3 + 1/2 between.
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = v * max(0, min(1, v/6+0.5))
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					switch xv := x[i]; {
					case xv >= 3:
						gx[i] += v
					case xv > -3:
						gx[i] += v * (xv/3 + 0.5)
					}
				}
			},
		}, nil
	})
	registerUnary("Tanh", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = float32(math.Tanh(float64(v)))
				}
			},
			bwd: func(gx, _, y, g []float32) {
				for i, v := range g {
					gx[i] += v * (1 - y[i]*y[i])
				}
			},
		}, nil
	})
	// The exponential family: y = scale·x for x > 0, else
	// scale·alpha·(exp(x/div) − 1); Elu is (alpha, 1, 1), Selu
	// (alpha, gamma, 1), Celu (alpha, 1, alpha).
	expLinear := func(name string, alpha0, gamma0 float32, celu bool) {
		registerUnary(name, func(n *graph.Node) (unaryFn, error) {
			r := graph.AttrReader{A: n.Attrs}
			alpha, scale := r.Float("alpha", alpha0), float32(1)
			if name == "Selu" {
				scale = r.Float("gamma", gamma0)
			}
			if r.Err != nil {
				return unaryFn{}, r.Err
			}
			div := float32(1)
			if celu {
				if alpha == 0 {
					return unaryFn{}, fmt.Errorf("attribute alpha: Celu needs alpha ≠ 0")
				}
				div = alpha
			}
			return unaryFn{
				fwd: func(y, x []float32) {
					for i, v := range x {
						if v > 0 {
							y[i] = scale * v
						} else {
							y[i] = scale * alpha * float32(math.Expm1(float64(v/div)))
						}
					}
				},
				bwd: func(gx, x, _, g []float32) {
					for i, v := range g {
						if x[i] > 0 {
							gx[i] += v * scale
						} else {
							gx[i] += v * scale * alpha / div * float32(math.Exp(float64(x[i]/div)))
						}
					}
				},
			}, nil
		})
	}
	expLinear("Elu", 1, 1, false)
	expLinear("Selu", 1.67326319217681884765625, 1.05070102214813232421875, false)
	expLinear("Celu", 1, 1, true)
	registerUnary("Softplus", func(*graph.Node) (unaryFn, error) {
		// log(1 + e^x), computed as max(x, 0) + log1p(e^−|x|) so that
		// large |x| neither overflows nor loses the small term.
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					f := float64(v)
					y[i] = float32(math.Max(f, 0) + math.Log1p(math.Exp(-math.Abs(f))))
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					gx[i] += v * sigmoid32(x[i])
				}
			},
		}, nil
	})
	registerUnary("Softsign", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = v / (1 + float32(math.Abs(float64(v))))
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					d := 1 + float32(math.Abs(float64(x[i])))
					gx[i] += v / (d * d)
				}
			},
		}, nil
	})
	registerUnary("ThresholdedRelu", func(n *graph.Node) (unaryFn, error) {
		alpha, err := n.Attrs.Float("alpha", 1)
		if err != nil {
			return unaryFn{}, err
		}
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					if v <= alpha {
						v = 0
					}
					y[i] = v
				}
			},
			bwd: func(gx, x, _, g []float32) {
				for i, v := range g {
					if x[i] > alpha {
						gx[i] += v
					}
				}
			},
		}, nil
	})
	RegisterKernel("Clip", newClip)
	RegisterKernel("Softmax", newSoftmax)
	RegisterKernel("LogSoftmax", newSoftmax)
	RegisterKernel("Dropout", newDropout)
}

// clipOp is Clip: y = min(max(x, lo), hi), with lo and hi from inputs 1 and
// 2 (opset ≥ 11; omitted means unbounded) or attributes min and max
// (opset ≤ 10). When lo > hi every output is hi, as ONNX specifies. The
// gradient passes to x where lo < x < hi; min and max inputs receive the
// gradient of the outputs they clamp.
type clipOp struct {
	lo, hi float32 // attribute bounds (or ±MaxFloat32)
}

func newClip(n *graph.Node) (Op, error) {
	r := graph.AttrReader{A: n.Attrs}
	op := &clipOp{lo: r.Float("min", -math.MaxFloat32), hi: r.Float("max", math.MaxFloat32)}
	return op, r.Err
}

func (op *clipOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return graph.InferClip(nil, in, consts)
}

func (op *clipOp) bounds(in []*tensor.Tensor) (lo, hi float32, err error) {
	if lo, err = scalarValue(in, 1, op.lo); err != nil {
		return
	}
	hi, err = scalarValue(in, 2, op.hi)
	return
}

func (op *clipOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	lo, hi, err := op.bounds(in)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(x) != len(y) {
		return graph.ShapeErr("output has shape %s, input %s", out[0].Shape, in[0].Shape)
	}
	elemChunks(ctx.Threads, len(x), func(a, b int) { vec.Clamp(y[a:b], x[a:b], lo, hi) })
	return nil
}

func (op *clipOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	lo, hi, err := op.bounds(in)
	if err != nil {
		return err
	}
	x, g := in[0].Data, gout[0].Data
	if gin[0] != nil {
		gx := gin[0].Data
		elemChunks(ctx.Threads, len(x), func(a, b int) { vec.ClampGradAdd(gx[a:b], x[a:b], g[a:b], lo, hi) })
	}
	if (len(gin) < 2 || gin[1] == nil) && (len(gin) < 3 || gin[2] == nil) {
		return nil
	}
	// m = max(x, lo) takes lo's gradient where x <= lo; y = min(m, hi)
	// takes hi's gradient where m >= hi.
	var glo, ghi float32
	for i, v := range x {
		m := max(v, lo)
		switch {
		case m >= hi:
			ghi += g[i]
		case v <= lo:
			glo += g[i]
		}
	}
	if len(gin) > 1 && gin[1] != nil {
		gin[1].Data[0] += glo
	}
	if len(gin) > 2 && gin[2] != nil {
		gin[2].Data[0] += ghi
	}
	return nil
}

// softmaxOp is Softmax along one axis (opset 13 semantics; axis default
// −1). Older opsets coerce the input to 2-D at axis; the importer must
// rewrite those (Flatten, Softmax, Reshape) unless axis is the last one.
// With log set it is LogSoftmax: y = x − max − log Σ exp(x − max).
type softmaxOp struct{ graph.SoftmaxAttrs }

func newSoftmax(n *graph.Node) (Op, error) {
	a, err := graph.ParseSoftmax(n)
	return &softmaxOp{a}, err
}

// layout returns outer, axis length and inner size.
func (op *softmaxOp) layout(shape []int) (outer, n, inner int, err error) {
	ax, err := graph.ResolveAxis(op.Axis, len(shape))
	if err != nil {
		return 0, 0, 0, err
	}
	return graph.ShapeProd(shape[:ax]), shape[ax], graph.ShapeProd(shape[ax+1:]), nil
}

func (op *softmaxOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	outer, n, inner, err := op.layout(in[0].Shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	rows := outer * inner
	rowChunks(ctx.Threads, rows, len(x), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			base := (r/inner)*n*inner + r%inner
			m := float32(math.Inf(-1))
			for j := 0; j < n; j++ {
				m = max(m, x[base+j*inner])
			}
			var s float64
			if op.Log {
				for j := 0; j < n; j++ {
					s += math.Exp(float64(x[base+j*inner] - m))
				}
				// (x − max) first: it is exact near the maximum, where
				// folding log s into the shift would round at max's scale.
				ls := float32(math.Log(s))
				for j := 0; j < n; j++ {
					y[base+j*inner] = (x[base+j*inner] - m) - ls
				}
				continue
			}
			for j := 0; j < n; j++ {
				e := math.Exp(float64(x[base+j*inner] - m))
				y[base+j*inner] = float32(e)
				s += e
			}
			inv := float32(1 / s)
			for j := 0; j < n; j++ {
				y[base+j*inner] *= inv
			}
		}
	})
	return nil
}

func (op *softmaxOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	outer, n, inner, err := op.layout(in[0].Shape)
	if err != nil {
		return err
	}
	y, g, gx := out[0].Data, gout[0].Data, gin[0].Data
	rows := outer * inner
	rowChunks(ctx.Threads, rows, len(y), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			base := (r/inner)*n*inner + r%inner
			if op.Log {
				// dx = g − softmax·Σg, softmax = exp(y).
				var sum float32
				for j := 0; j < n; j++ {
					sum += g[base+j*inner]
				}
				for j := 0; j < n; j++ {
					k := base + j*inner
					gx[k] += g[k] - float32(math.Exp(float64(y[k])))*sum
				}
				continue
			}
			var dot float32
			for j := 0; j < n; j++ {
				dot += g[base+j*inner] * y[base+j*inner]
			}
			for j := 0; j < n; j++ {
				k := base + j*inner
				gx[k] += y[k] * (g[k] - dot)
			}
		}
	})
	return nil
}

// dropoutOp is Dropout. The ratio comes from input 1 (opset ≥ 12) or the
// ratio attribute (default 0.5); the training_mode input is ignored: the
// program's training flag decides. In training each element is kept with
// probability 1−ratio and scaled by 1/(1−ratio); in inference the output
// is the input. The optional second output is the mask as 1/0 floats (ONNX
// has a bool tensor there).
type dropoutOp struct {
	ratio float32
	// state of the last Forward, for Backward
	mask  []float32
	scale float32
	train bool
}

func newDropout(n *graph.Node) (Op, error) {
	ratio, err := n.Attrs.Float("ratio", 0.5)
	return &dropoutOp{ratio: ratio}, err
}

func (op *dropoutOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return graph.InferDropout(nil, in, consts)
}

func (op *dropoutOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	ratio, err := scalarValue(in, 1, op.ratio)
	if err != nil {
		return err
	}
	if ratio < 0 || ratio > 1 || math.IsNaN(float64(ratio)) {
		return fmt.Errorf("ratio %g is not in [0, 1]", ratio)
	}
	x, y := in[0].Data, out[0].Data
	if len(x) != len(y) {
		return graph.ShapeErr("output has shape %s, input %s", out[0].Shape, in[0].Shape)
	}
	var maskOut []float32
	if len(out) > 1 && out[1] != nil {
		maskOut = out[1].Data
	}
	op.train = ctx.Train && ratio > 0
	if !op.train {
		copy(y, x)
		for i := range maskOut {
			maskOut[i] = 1
		}
		return nil
	}
	if ctx.Rand == nil {
		return fmt.Errorf("training needs a random source (ctx.Rand)")
	}
	if cap(op.mask) < len(x) {
		op.mask = make([]float32, len(x))
	}
	op.mask = op.mask[:len(x)]
	op.scale = 0
	if ratio < 1 {
		op.scale = 1 / (1 - ratio)
	}
	// Keep an element when a uniform 32-bit draw is at or above
	// ratio·2^32; two draws per 64-bit random number.
	thr := uint64(float64(ratio) * (1 << 32))
	mask := op.mask
	for i := 0; i < len(mask); i += 2 {
		r := ctx.Rand.Uint64()
		mask[i] = keep01(r&0xffffffff >= thr)
		if i+1 < len(mask) {
			mask[i+1] = keep01(r>>32 >= thr)
		}
	}
	s := op.scale
	for i, v := range x {
		y[i] = v * mask[i] * s
	}
	copy(maskOut, mask)
	return nil
}

func keep01(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

func (op *dropoutOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	g, gx := gout[0].Data, gin[0].Data
	if !op.train {
		return addInto(ctx.Threads, gx, g)
	}
	if len(op.mask) != len(g) {
		return fmt.Errorf("backward after a forward of another size")
	}
	s := op.scale
	for i, v := range g {
		gx[i] += v * op.mask[i] * s
	}
	return nil
}
