package cpu

// InstanceNormalization and LRN: normalisations over one image's channel
// planes (InstanceNorm: each plane on its own) or across neighbouring
// channels (LRN).

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("InstanceNormalization", func(n *graph.Node) (Op, error) {
		eps, err := n.Attrs.Float("epsilon", 1e-5)
		return &instanceNormOp{eps: float64(eps)}, err
	})
	RegisterKernel("LRN", newLRN)
}

// instanceNormOp is InstanceNormalization: each (image, channel) plane is
// normalised by its own mean and variance, then scaled and shifted per
// channel: y = scale[c]·(x − μ)/√(σ² + ε) + B[c].
type instanceNormOp struct {
	eps      float64
	n, c, hw int
	xhat     []float32
	invStd   []float32
}

func (op *instanceNormOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := graph.InferInstanceNorm(nil, in, consts)
	if err != nil {
		return nil, err
	}
	x := in[0]
	op.n, op.c, op.hw = x[0], x[1], graph.ShapeProd(x[2:])
	return outs, nil
}

func (op *instanceNormOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, scale, bias, y := in[0].Data, in[1].Data, in[2].Data, out[0].Data
	planes, hw := op.n*op.c, op.hw
	if len(x) != planes*hw {
		return graph.ShapeErr("input %s does not match the inferred shape", in[0].Shape)
	}
	if cap(op.xhat) < len(x) {
		op.xhat = make([]float32, len(x))
	}
	if cap(op.invStd) < planes {
		op.invStd = make([]float32, planes)
	}
	op.xhat, op.invStd = op.xhat[:len(x)], op.invStd[:planes]
	rowChunks(ctx.Threads, planes, len(x), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp := x[p*hw : (p+1)*hw]
			var s float64
			for _, v := range xp {
				s += float64(v)
			}
			mu := s / float64(max(hw, 1))
			var q float64
			for _, v := range xp {
				d := float64(v) - mu
				q += d * d
			}
			is := 1 / math.Sqrt(q/float64(max(hw, 1))+op.eps)
			op.invStd[p] = float32(is)
			sc, b := scale[p%op.c], bias[p%op.c]
			h, yp := op.xhat[p*hw:(p+1)*hw], y[p*hw:(p+1)*hw]
			for j, v := range xp {
				h[j] = float32((float64(v) - mu) * is)
				yp[j] = h[j]*sc + b
			}
		}
	})
	return nil
}

// Backward: per plane, with ĝ = gY·scale[c],
// gX = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); gScale[c] += Σ gY·x̂, gB[c] += Σ gY.
func (op *instanceNormOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	planes, hw := op.n*op.c, op.hw
	if len(op.xhat) != planes*hw {
		return fmt.Errorf("backward without a forward at this shape")
	}
	gy, scale := gout[0].Data, in[1].Data
	for p := range planes {
		h, g := op.xhat[p*hw:(p+1)*hw], gy[p*hw:(p+1)*hw]
		var sg, sgh float64
		for j, v := range g {
			sg += float64(v)
			sgh += float64(v) * float64(h[j])
		}
		if gin[1] != nil {
			gin[1].Data[p%op.c] += float32(sgh)
		}
		if gin[2] != nil {
			gin[2].Data[p%op.c] += float32(sg)
		}
	}
	if gin[0] == nil {
		return nil
	}
	gx := gin[0].Data
	d := float64(max(hw, 1))
	rowChunks(ctx.Threads, planes, planes*hw, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			h, g, gxp := op.xhat[p*hw:(p+1)*hw], gy[p*hw:(p+1)*hw], gx[p*hw:(p+1)*hw]
			sc := float64(scale[p%op.c])
			var sg, sgh float64
			for j, v := range g {
				sg += float64(v)
				sgh += float64(v) * float64(h[j])
			}
			sg, sgh = sg*sc/d, sgh*sc/d
			is := float64(op.invStd[p])
			for j, v := range g {
				gxp[j] += float32(is * (float64(v)*sc - sg - float64(h[j])*sgh))
			}
		}
	})
	return nil
}

// lrnOp is LRN (local response normalisation across channels, AlexNet and
// GoogLeNet): y = x / (bias + α/size · Σ x²)^β, the sum over the channels
// c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉ of the same position.
type lrnOp struct {
	alpha, beta, bias float64
	size              int
	n, c, hw          int
	den               []float32 // bias + α/size·Σx² per element, for Backward
}

func newLRN(n *graph.Node) (Op, error) {
	r := graph.AttrReader{A: n.Attrs}
	op := &lrnOp{
		alpha: float64(r.Float("alpha", 1e-4)),
		beta:  float64(r.Float("beta", 0.75)),
		bias:  float64(r.Float("bias", 1)),
		size:  r.Int("size", 0),
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if op.size < 1 {
		return nil, fmt.Errorf("attribute size is required and must be ≥ 1, have %d", op.size)
	}
	return op, nil
}

func (op *lrnOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := graph.InferLRN(nil, in, consts)
	if err != nil {
		return nil, err
	}
	x := in[0]
	op.n, op.c, op.hw = x[0], x[1], graph.ShapeProd(x[2:])
	return outs, nil
}

// window is the channel range [lo, hi) summed for channel c.
func (op *lrnOp) window(c int) (lo, hi int) {
	return max(c-(op.size-1)/2, 0), min(c+op.size/2+1, op.c)
}

func (op *lrnOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	n, c, hw := op.n, op.c, op.hw
	if len(x) != n*c*hw {
		return graph.ShapeErr("input %s does not match the inferred shape", in[0].Shape)
	}
	if len(op.den) != len(x) {
		op.den = make([]float32, len(x))
	}
	k := op.alpha / float64(op.size)
	rowChunks(ctx.Threads, n*c, len(x), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			i, ch := p/c, p%c
			wlo, whi := op.window(ch)
			den, yp := op.den[p*hw:(p+1)*hw], y[p*hw:(p+1)*hw]
			xp := x[p*hw : (p+1)*hw]
			for j := range hw {
				var s float64
				for cc := wlo; cc < whi; cc++ {
					v := float64(x[(i*c+cc)*hw+j])
					s += v * v
				}
				d := op.bias + k*s
				den[j] = float32(d)
				yp[j] = float32(float64(xp[j]) * math.Pow(d, -op.beta))
			}
		}
	})
	return nil
}

// Backward: with D_c = bias + k·Σ x², y_c = x_c·D_c^−β,
// gX_c = gY_c·D_c^−β − 2kβ·x_c·Σ_{c' whose window holds c} gY_c'·x_c'·D_c'^(−β−1).
func (op *lrnOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	x, gy, gx := in[0].Data, gout[0].Data, gin[0].Data
	n, c, hw := op.n, op.c, op.hw
	if len(op.den) != len(x) {
		return fmt.Errorf("backward without a forward at this shape")
	}
	k := op.alpha / float64(op.size)
	rowChunks(ctx.Threads, n*c, len(x), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			i, ch := p/c, p%c
			for j := range hw {
				e := p*hw + j
				g := float64(gy[e]) * math.Pow(float64(op.den[e]), -op.beta)
				var s float64
				// c' holds ch in its window when ch ∈ window(c').
				for cc := max(ch-op.size/2, 0); cc < min(ch+(op.size-1)/2+1, c); cc++ {
					f := (i*c+cc)*hw + j
					s += float64(gy[f]) * float64(x[f]) * math.Pow(float64(op.den[f]), -op.beta-1)
				}
				gx[e] += float32(g - 2*k*op.beta*float64(x[e])*s)
			}
		}
	})
	return nil
}
