package cpu

// LayerNormalization (ONNX opset 17): each row — the elements of axes
// [axis, rank) for one index of the axes before — is normalised to zero
// mean and unit variance, then scaled and shifted:
//
//	Y = (X − mean) / √(var + ε) · Scale + B
//
// with the biased variance, as ONNX and PyTorch's layer_norm. Scale and B
// broadcast (numpy rules, one-directional) to the normalised shape
// X.shape[axis:]. The optional outputs Mean and InvStdDev have X's shape
// with the normalised axes set to 1. Statistics are accumulated in
// float64, which is at least as precise as the float32 stash_type (1, the
// only one accepted: the IR computes in float32).

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("LayerNormalization", newLayerNorm)
}

type layerNormOp struct {
	graph.LayerNormAttrs
	// per Infer: rows × cols split of X, and where each of the cols
	// normalised elements reads Scale and B
	rows, cols   int
	sIdx, bIdx   []int
	sShape       []int
	bShape       []int
	haveB        bool
	xhat, invStd []float32 // saved by Forward for Backward
}

func newLayerNorm(n *graph.Node) (Op, error) {
	a, err := graph.ParseLayerNorm(n)
	if err != nil {
		return nil, err
	}
	return &layerNormOp{LayerNormAttrs: a}, nil
}

// broadcastIndex returns, for each element of the row-major shape to,
// the flat index of the element of shape from (numpy-broadcast to to)
// that it reads.
func broadcastIndex(from, to []int) ([]int, error) {
	strides, err := graph.IndexStrides(from, to)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range to {
		n *= d
	}
	idx := make([]int, n)
	pos := make([]int, len(to))
	for i := range idx {
		off := 0
		for k, p := range pos {
			off += p * strides[k]
		}
		idx[i] = off
		for k := len(to) - 1; k >= 0; k-- {
			if pos[k]++; pos[k] < to[k] {
				break
			}
			pos[k] = 0
		}
	}
	return idx, nil
}

func (op *layerNormOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	outs, ax, err := op.Shape(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	rows, cols := graph.ShapeProd(x[:ax]), graph.ShapeProd(x[ax:])
	if !tensor.SameShape(op.sShape, in[1]) || cols != len(op.sIdx) {
		var err error
		if op.sIdx, err = broadcastIndex(in[1], x[ax:]); err != nil {
			return nil, fmt.Errorf("input Scale: %w", err)
		}
		op.sShape = graph.CloneShape(in[1])
	}
	op.haveB = len(in) == 3
	if op.haveB && (!tensor.SameShape(op.bShape, in[2]) || cols != len(op.bIdx)) {
		var err error
		if op.bIdx, err = broadcastIndex(in[2], x[ax:]); err != nil {
			return nil, fmt.Errorf("input B: %w", err)
		}
		op.bShape = graph.CloneShape(in[2])
	}
	op.rows, op.cols = rows, cols
	return outs, nil
}

func (op *layerNormOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, scale := in[0].Data, in[1].Data
	var bias []float32
	if op.haveB {
		bias = in[2].Data
	}
	rows, cols := op.rows, op.cols
	if len(x) != rows*cols || len(out[0].Data) != len(x) {
		return graph.ShapeErr("input %s does not match the inferred shape", in[0].Shape)
	}
	if cap(op.xhat) < len(x) {
		op.xhat = make([]float32, len(x))
	}
	if cap(op.invStd) < rows {
		op.invStd = make([]float32, rows)
	}
	op.xhat, op.invStd = op.xhat[:len(x)], op.invStd[:rows]
	y := out[0].Data
	var mean, inv []float32
	if len(out) > 1 && out[1] != nil {
		mean = out[1].Data
	}
	if len(out) > 2 && out[2] != nil {
		inv = out[2].Data
	}
	rowChunks(ctx.Threads, rows, len(x), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*cols : (r+1)*cols]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			mu := s / float64(cols)
			var q float64
			for _, v := range xr {
				d := float64(v) - mu
				q += d * d
			}
			is := 1 / math.Sqrt(q/float64(cols)+op.Eps)
			h, yr := op.xhat[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
			for j, v := range xr {
				h[j] = float32((float64(v) - mu) * is)
				o := h[j] * scale[op.sIdx[j]]
				if bias != nil {
					o += bias[op.bIdx[j]]
				}
				yr[j] = o
			}
			op.invStd[r] = float32(is)
			if mean != nil {
				mean[r] = float32(mu)
			}
			if inv != nil {
				inv[r] = float32(is)
			}
		}
	})
	return nil
}

// Backward: with x̂ = (x − μ)·r, r = 1/√(var + ε) and ĝ = gY·Scale,
//
//	gX = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) + gMean/D − gInvStdDev·r²·x̂/D
//
// over each row of D elements (dμ/dx = 1/D, dr/dx = −r³(x − μ)/D); gScale
// and gB sum gY·x̂ and gY over the rows into the broadcast positions.
func (op *layerNormOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	rows, cols := op.rows, op.cols
	if len(op.xhat) != rows*cols {
		return fmt.Errorf("backward without a forward at this shape")
	}
	var gy, gMean, gInv []float32
	if gout[0] != nil {
		gy = gout[0].Data
	}
	if len(gout) > 1 && gout[1] != nil {
		gMean = gout[1].Data
	}
	if len(gout) > 2 && gout[2] != nil {
		gInv = gout[2].Data
	}
	scale := in[1].Data
	if gy != nil {
		if gs := gin[1]; gs != nil {
			for r := range rows {
				h, g := op.xhat[r*cols:(r+1)*cols], gy[r*cols:(r+1)*cols]
				for j, v := range g {
					gs.Data[op.sIdx[j]] += v * h[j]
				}
			}
		}
		if len(gin) > 2 && gin[2] != nil {
			gb := gin[2].Data
			for r := range rows {
				for j, v := range gy[r*cols : (r+1)*cols] {
					gb[op.bIdx[j]] += v
				}
			}
		}
	}
	if gin[0] == nil {
		return nil
	}
	gx := gin[0].Data
	d := float64(cols)
	rowChunks(ctx.Threads, rows, rows*cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			h, gxr := op.xhat[r*cols:(r+1)*cols], gx[r*cols:(r+1)*cols]
			is := float64(op.invStd[r])
			if gy != nil {
				g := gy[r*cols : (r+1)*cols]
				var sg, sgh float64
				for j, v := range g {
					gh := float64(v) * float64(scale[op.sIdx[j]])
					sg += gh
					sgh += gh * float64(h[j])
				}
				sg /= d
				sgh /= d
				for j, v := range g {
					gh := float64(v) * float64(scale[op.sIdx[j]])
					gxr[j] += float32(is * (gh - sg - float64(h[j])*sgh))
				}
			}
			if gMean != nil || gInv != nil {
				var gm, gi float64
				if gMean != nil {
					gm = float64(gMean[r]) / d
				}
				if gInv != nil {
					gi = float64(gInv[r]) * is * is / d
				}
				for j := range gxr {
					gxr[j] += float32(gm - gi*float64(h[j]))
				}
			}
		}
	})
	return nil
}
