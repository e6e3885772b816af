package graph

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

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "LayerNormalization", Infer: inferWith(parseLayerNorm), Params: layerNormParams})
	RegisterKernel("LayerNormalization", newLayerNorm)
}

// layerNormParams: Scale and B train; they run along the normalised axes,
// not the channels, so they have no channel axes.
func layerNormParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{
		{Input: 1, Kind: ParamScale, Trainable: true},
		{Input: 2, Kind: ParamShift, Trainable: true},
	}
}

type layerNormOp struct {
	layerNormAttrs
	// per Infer: rows × cols split of X, and where each of the cols
	// normalised elements reads Scale and B
	rows, cols   int
	sIdx, bIdx   []int
	sShape       []int
	bShape       []int
	haveB        bool
	xhat, invStd []float32 // saved by Forward for Backward
}

// layerNormAttrs are LayerNormalization's attributes.
type layerNormAttrs struct {
	axis int
	eps  float64
}

func parseLayerNorm(n *Node) (layerNormAttrs, error) {
	r := attrReader{a: n.Attrs}
	axis := r.int("axis", -1)
	eps := r.float("epsilon", 1e-5)
	stash := r.int("stash_type", 1)
	if r.err != nil {
		return layerNormAttrs{}, r.err
	}
	if stash != 1 {
		return layerNormAttrs{}, fmt.Errorf("stash_type %d: only 1 (float32) is supported", stash)
	}
	return layerNormAttrs{axis: axis, eps: float64(eps)}, nil
}

func newLayerNorm(n *Node) (Op, error) {
	a, err := parseLayerNorm(n)
	if err != nil {
		return nil, err
	}
	return &layerNormOp{layerNormAttrs: a}, nil
}

// indexStrides checks that shape from numpy-broadcasts to shape to and
// returns from's stride along each axis of to (0 where it broadcasts).
func indexStrides(from, to []int) ([]int, error) {
	if len(from) > len(to) {
		return nil, shapeErr("shape %s does not broadcast to %s", from, to)
	}
	pad := len(to) - len(from)
	strides := make([]int, len(to))
	s := 1
	for i := len(to) - 1; i >= pad; i-- {
		d := from[i-pad]
		switch d {
		case to[i]:
			strides[i] = s
		case 1:
		default:
			return nil, shapeErr("shape %s does not broadcast to %s", from, to)
		}
		s *= d
	}
	return strides, nil
}

// broadcastIndex returns, for each element of the row-major shape to,
// the flat index of the element of shape from (numpy-broadcast to to)
// that it reads.
func broadcastIndex(from, to []int) ([]int, error) {
	strides, err := indexStrides(from, to)
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

// Infer is LayerNormalization's shape inference: Y has X's shape, the mean
// and inverse deviation X's with the normalised axes 1.
func (a layerNormAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	outs, _, err := a.shape(in)
	return outs, err
}

// shape checks X, Scale and B and returns the outputs' shapes and the
// first normalised axis.
func (a layerNormAttrs) shape(in [][]int) ([][]int, int, error) {
	if err := wantInputs(in, 2, 3); err != nil {
		return nil, 0, err
	}
	x := in[0]
	ax := a.axis
	if ax < 0 {
		ax += len(x)
	}
	if ax < 0 || ax >= len(x) {
		return nil, 0, fmt.Errorf("axis %d out of range for rank %d", a.axis, len(x))
	}
	if _, err := indexStrides(in[1], x[ax:]); err != nil {
		return nil, 0, fmt.Errorf("input Scale: %w", err)
	}
	if len(in) == 3 {
		if _, err := indexStrides(in[2], x[ax:]); err != nil {
			return nil, 0, fmt.Errorf("input B: %w", err)
		}
	}
	stat := cloneShape(x)
	for i := ax; i < len(stat); i++ {
		stat[i] = 1
	}
	return [][]int{cloneShape(x), stat, cloneShape(stat)}, ax, nil
}

func (op *layerNormOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	outs, ax, err := op.shape(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	rows, cols := shapeProd(x[:ax]), shapeProd(x[ax:])
	if !tensor.SameShape(op.sShape, in[1]) || cols != len(op.sIdx) {
		var err error
		if op.sIdx, err = broadcastIndex(in[1], x[ax:]); err != nil {
			return nil, fmt.Errorf("input Scale: %w", err)
		}
		op.sShape = cloneShape(in[1])
	}
	op.haveB = len(in) == 3
	if op.haveB && (!tensor.SameShape(op.bShape, in[2]) || cols != len(op.bIdx)) {
		var err error
		if op.bIdx, err = broadcastIndex(in[2], x[ax:]); err != nil {
			return nil, fmt.Errorf("input B: %w", err)
		}
		op.bShape = cloneShape(in[2])
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
		return shapeErr("input %s does not match the inferred shape", in[0].Shape)
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
			is := 1 / math.Sqrt(q/float64(cols)+op.eps)
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
