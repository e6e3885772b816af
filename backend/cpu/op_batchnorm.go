package cpu

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

// batchNormOp is ONNX BatchNormalization over N×C×… inputs.
//
// In training mode it normalises with the batch statistics and updates the
// running statistics in place as running = momentum·running +
// (1−momentum)·batch, with the unbiased batch variance for running_var as
// PyTorch does (so recipes and accuracies match PyTorch's). In inference
// mode it uses the running statistics.
//
// With the attribute training_mode=1 (opset 14) an inference-mode Forward
// computes what ONNX specifies: normalisation with the batch statistics,
// and outputs 1 and 2 (when present) set to momentum·running +
// (1−momentum)·batch with the biased batch variance, leaving the params
// untouched.
type batchNormOp struct {
	eps, momentum float32
	trainingMode  bool
	n, c, inner   int
	// saved by a training Forward for Backward
	trained bool
	mean    []float32
	invStd  []float32
}

func init() {
	RegisterKernel("BatchNormalization", newBatchNorm)
}

func newBatchNorm(n *graph.Node) (Op, error) {
	r := graph.AttrReader{A: n.Attrs}
	op := &batchNormOp{eps: r.Float("epsilon", 1e-5), momentum: r.Float("momentum", 0.9), trainingMode: r.Int("training_mode", 0) != 0}
	return op, r.Err
}

func (b *batchNormOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := graph.InferBatchNorm(nil, in, consts)
	if err != nil {
		return nil, err
	}
	x := in[0]
	b.n, b.c = x[0], x[1]
	b.inner = graph.ShapeProd(x[2:])
	return outs, nil
}

func (b *batchNormOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	scale, bias, rmean, rvar := in[1].Data, in[2].Data, in[3].Data, in[4].Data
	n, c, inner := b.n, b.c, b.inner
	batchStats := ctx.Train || b.trainingMode
	b.trained = batchStats
	if len(b.mean) != c {
		b.mean, b.invStd = make([]float32, c), make([]float32, c)
	}
	var newMean, newVar []float32 // training_mode outputs of an inference Forward
	if !ctx.Train && b.trainingMode {
		newMean, newVar = make([]float32, c), make([]float32, c)
	}
	count := n * inner
	if batchStats && count <= 1 {
		return fmt.Errorf("training needs more than one value per channel, have input %s", tensor.ShapeString(in[0].Shape))
	}
	parallel.For(c, ctx.Threads, func(lo, hi, _ int) {
		for ch := lo; ch < hi; ch++ {
			var mean, invStd float32
			if batchStats {
				// One pass for Σx and Σx², float32 within a row (short)
				// and float64 across rows, so the variance stays accurate
				// without a second pass over memory.
				var s, ss float64
				for i := 0; i < n; i++ {
					a, b := vec.SumSquares(x[(i*c+ch)*inner : (i*c+ch+1)*inner])
					s += float64(a)
					ss += float64(b)
				}
				m := s / float64(count)
				v := max(ss/float64(count)-m*m, 0)
				mean = float32(m)
				invStd = float32(1 / math.Sqrt(v+float64(b.eps)))
				mom := b.momentum
				if newMean != nil {
					newMean[ch] = mom*rmean[ch] + (1-mom)*mean
					newVar[ch] = mom*rvar[ch] + (1-mom)*float32(v)
				} else {
					rmean[ch] = mom*rmean[ch] + (1-mom)*mean
					rvar[ch] = mom*rvar[ch] + (1-mom)*float32(v*float64(count)/float64(count-1))
				}
			} else {
				mean = rmean[ch]
				invStd = float32(1 / math.Sqrt(float64(rvar[ch])+float64(b.eps)))
			}
			b.mean[ch], b.invStd[ch] = mean, invStd
			a := scale[ch] * invStd
			sh := bias[ch] - mean*a
			for i := 0; i < n; i++ {
				off := (i*c + ch) * inner
				vec.ScaleShift(y[off:off+inner], a, x[off:off+inner], sh)
			}
		}
	})
	if newMean != nil {
		rmean, rvar = newMean, newVar
	}
	if len(out) > 1 && out[1] != nil {
		copy(out[1].Data, rmean)
	}
	if len(out) > 2 && out[2] != nil {
		copy(out[2].Data, rvar)
	}
	return nil
}

// WritesFreshGrads: Backward writes the whole input gradient in one pass.
func (b *batchNormOp) WritesFreshGrads() bool { return true }

func (b *batchNormOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	x, dy := in[0].Data, gout[0].Data
	scale := in[1].Data
	var dx, dscale, dbias []float32
	if gin[0] != nil {
		dx = gin[0].Data
	}
	if gin[1] != nil {
		dscale = gin[1].Data
	}
	if gin[2] != nil {
		dbias = gin[2].Data
	}
	n, c, inner := b.n, b.c, b.inner
	count := float32(n * inner)
	set := ctx.fresh(0)
	parallel.For(c, ctx.Threads, func(lo, hi, _ int) {
		for ch := lo; ch < hi; ch++ {
			mean, invStd := b.mean[ch], b.invStd[ch]
			// Σdy and Σdy·x̂ over the channel.
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * inner
				a, bb := vec.SumDotCentered(dy[off:off+inner], x[off:off+inner], mean)
				sdy += float64(a)
				sdyx += float64(bb)
			}
			sdyx *= float64(invStd)
			if dscale != nil {
				dscale[ch] += float32(sdyx)
			}
			if dbias != nil {
				dbias[ch] += float32(sdy)
			}
			if dx == nil {
				continue
			}
			g := scale[ch] * invStd
			if !b.trained {
				for i := 0; i < n; i++ {
					off := (i*c + ch) * inner
					if set {
						vec.ScaleShift(dx[off:off+inner], g, dy[off:], 0)
					} else {
						vec.Axpy(dx[off:off+inner], g, dy[off:])
					}
				}
				continue
			}
			// dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂))
			// expanded to dx += A·dy + B·x + C
			mdy := float32(sdy) / count
			mdyx := float32(sdyx) / count
			A := g
			B := -g * invStd * mdyx
			C := -g*mdy - B*mean
			for i := 0; i < n; i++ {
				off := (i*c + ch) * inner
				if set {
					vec.Affine2(dx[off:off+inner], A, dy[off:], B, x[off:], C)
				} else {
					vec.AddAffine2(dx[off:off+inner], A, dy[off:], B, x[off:], C)
				}
			}
		}
	})
	return nil
}
