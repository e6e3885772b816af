package cpu

// GroupNormalization (ONNX opsets 18 and 21): each image's channels are
// split into num_groups groups of equal size, and each group is
// normalised by its own mean and variance over its channels and spatial
// positions, then scaled and shifted.

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("GroupNormalization", newGroupNorm)
}

// groupNormOp normalises each (image, group) block of C/G channels ×
// spatial positions: y = scale[c]·(x − μ)/√(σ² + ε) + bias[c].
type groupNormOp struct {
	graph.GroupNormAttrs
	n, c, hw int
	xhat     []float32
	invStd   []float32
}

func newGroupNorm(n *graph.Node) (Op, error) {
	a, err := graph.ParseGroupNorm(n)
	return &groupNormOp{GroupNormAttrs: a}, err
}

func (op *groupNormOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := op.GroupNormAttrs.Infer(in, consts)
	if err != nil {
		return nil, err
	}
	x := in[0]
	op.n, op.c, op.hw = x[0], x[1], graph.ShapeProd(x[2:])
	return outs, nil
}

// affineIndex maps channel ch to its index in scale and bias (of length
// size: C, or num_groups for per-group values).
func (op *groupNormOp) affineIndex(ch, size int) int {
	if size == op.c {
		return ch
	}
	return ch / (op.c / op.Groups)
}

func (op *groupNormOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, scale, bias, y := in[0].Data, in[1].Data, in[2].Data, out[0].Data
	blocks, cpg := op.n*op.Groups, op.c/op.Groups
	size := cpg * op.hw // elements of one block
	if len(x) != blocks*size || len(y) != len(x) {
		return graph.ShapeErr("input %s does not match the inferred shape", in[0].Shape)
	}
	op.xhat, op.invStd = grow32(op.xhat, len(x)), grow32(op.invStd, blocks)
	d := float64(max(size, 1))
	rowChunks(ctx.Threads, blocks, len(x), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			xb := x[b*size : (b+1)*size]
			var s float64
			for _, v := range xb {
				s += float64(v)
			}
			mu := s / d
			var q float64
			for _, v := range xb {
				dv := float64(v) - mu
				q += dv * dv
			}
			is := 1 / math.Sqrt(q/d+op.Eps)
			op.invStd[b] = float32(is)
			h, yb := op.xhat[b*size:(b+1)*size], y[b*size:(b+1)*size]
			first := (b % op.Groups) * cpg // the block's first channel
			for k := range cpg {
				sc, sh := scale[op.affineIndex(first+k, len(scale))], bias[op.affineIndex(first+k, len(bias))]
				for j := k * op.hw; j < (k+1)*op.hw; j++ {
					h[j] = float32((float64(xb[j]) - mu) * is)
					yb[j] = h[j]*sc + sh
				}
			}
		}
	})
	return nil
}

// Backward: per block, with ĝ = gY·scale[c],
// gX = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); gScale[c] += Σ gY·x̂ and
// gBias[c] += Σ gY over the channel's positions.
func (op *groupNormOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	blocks, cpg := op.n*op.Groups, op.c/op.Groups
	size := cpg * op.hw
	if len(op.xhat) != blocks*size {
		return fmt.Errorf("backward without a forward at this shape")
	}
	gy, scale := gout[0].Data, in[1].Data
	for b := range blocks {
		first := (b % op.Groups) * cpg
		for k := range cpg {
			lo, hi := b*size+k*op.hw, b*size+(k+1)*op.hw
			var sg, sgh float64
			for j := lo; j < hi; j++ {
				sg += float64(gy[j])
				sgh += float64(gy[j]) * float64(op.xhat[j])
			}
			if gin[1] != nil {
				gin[1].Data[op.affineIndex(first+k, gin[1].Len())] += float32(sgh)
			}
			if gin[2] != nil {
				gin[2].Data[op.affineIndex(first+k, gin[2].Len())] += float32(sg)
			}
		}
	}
	if gin[0] == nil {
		return nil
	}
	gx := gin[0].Data
	d := float64(max(size, 1))
	rowChunks(ctx.Threads, blocks, blocks*size, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			first := (b % op.Groups) * cpg
			h, g, gxb := op.xhat[b*size:(b+1)*size], gy[b*size:(b+1)*size], gx[b*size:(b+1)*size]
			var sg, sgh float64 // Σ ĝ and Σ ĝ·x̂ over the block
			for k := range cpg {
				sc := float64(scale[op.affineIndex(first+k, len(scale))])
				for j := k * op.hw; j < (k+1)*op.hw; j++ {
					v := float64(g[j]) * sc
					sg += v
					sgh += v * float64(h[j])
				}
			}
			sg, sgh = sg/d, sgh/d
			is := float64(op.invStd[b])
			for k := range cpg {
				sc := float64(scale[op.affineIndex(first+k, len(scale))])
				for j := k * op.hw; j < (k+1)*op.hw; j++ {
					gxb[j] += float32(is * (float64(g[j])*sc - sg - float64(h[j])*sgh))
				}
			}
		}
	})
	return nil
}
