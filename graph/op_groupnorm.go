package graph

// GroupNormalization (ONNX opsets 18 and 21): each image's channels are
// split into num_groups groups of equal size, and each group is
// normalised by its own mean and variance over its channels and spatial
// positions, then scaled and shifted.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "GroupNormalization", Infer: inferWith(parseGroupNorm),
		Params: groupNormParams, Init: groupNormInit})
	RegisterKernel("GroupNormalization", newGroupNorm)
}

// groupNormAttrs are GroupNormalization's attributes. stash_type, the
// precision of the normalisation stage, is accepted as 1 (float32): the
// statistics are accumulated in float64, which is at least as precise.
type groupNormAttrs struct {
	groups int
	eps    float64
}

func parseGroupNorm(n *Node) (groupNormAttrs, error) {
	r := attrReader{a: n.Attrs}
	a := groupNormAttrs{groups: r.int("num_groups", 0), eps: float64(r.float("epsilon", 1e-5))}
	stash := r.int("stash_type", 1)
	if r.err != nil {
		return a, r.err
	}
	if _, ok := n.Attrs["num_groups"]; !ok {
		return a, fmt.Errorf("attribute num_groups is required")
	}
	if a.groups < 1 {
		return a, fmt.Errorf("attribute num_groups is %d: want at least 1", a.groups)
	}
	if stash != 1 {
		return a, fmt.Errorf("attribute stash_type is %d: only 1 (float32) is supported", stash)
	}
	return a, nil
}

// Infer: x is N×C×spatial… with C a multiple of num_groups; scale and bias
// have C elements (opset 21: one per channel) or num_groups (opset 18: one
// per group, the same thing when every group is one channel); y has x's
// shape. The importer rewrites opset-18 per-group values per channel.
func (a groupNormAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) < 2 {
		return nil, shapeErr("input must be N×C×spatial…, have %v", x)
	}
	c := x[1]
	if c%a.groups != 0 {
		return nil, shapeErr("%d channels (input %v) do not split into num_groups=%d equal groups", c, x, a.groups)
	}
	for i, s := range in[1:] {
		if len(s) != 1 || (s[0] != c && s[0] != a.groups) {
			return nil, shapeErr("%s must have %d elements (the channels of %v) or %d (num_groups), have shape %v",
				[]string{"scale", "bias"}[i], c, x, a.groups, s)
		}
	}
	return [][]int{cloneShape(x)}, nil
}

// groupNormParams: scale and bias train; they are per channel (opset 21
// and the importer's form).
func groupNormParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{
		{Input: 1, Kind: ParamScale, Axes: []AxisRole{AxisOut}, Trainable: true},
		{Input: 2, Kind: ParamShift, Axes: []AxisRole{AxisOut}, Trainable: true},
	}
}

// groupNormInit sets scale to 1 and bias to 0, PyTorch's GroupNorm init.
func groupNormInit(n *Node, in []Operand, _ *rand.Rand) {
	if len(in) != 3 {
		return
	}
	initFill(in[1].Param, 1)
	initFill(in[2].Param, 0)
}

// groupNormOp normalises each (image, group) block of C/G channels ×
// spatial positions: y = scale[c]·(x − μ)/√(σ² + ε) + bias[c].
type groupNormOp struct {
	groupNormAttrs
	n, c, hw int
	xhat     []float32
	invStd   []float32
}

func newGroupNorm(n *Node) (Op, error) {
	a, err := parseGroupNorm(n)
	return &groupNormOp{groupNormAttrs: a}, err
}

func (op *groupNormOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := op.groupNormAttrs.Infer(in, consts)
	if err != nil {
		return nil, err
	}
	x := in[0]
	op.n, op.c, op.hw = x[0], x[1], shapeProd(x[2:])
	return outs, nil
}

// affineIndex maps channel ch to its index in scale and bias (of length
// size: C, or num_groups for per-group values).
func (op *groupNormOp) affineIndex(ch, size int) int {
	if size == op.c {
		return ch
	}
	return ch / (op.c / op.groups)
}

func (op *groupNormOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, scale, bias, y := in[0].Data, in[1].Data, in[2].Data, out[0].Data
	blocks, cpg := op.n*op.groups, op.c/op.groups
	size := cpg * op.hw // elements of one block
	if len(x) != blocks*size || len(y) != len(x) {
		return shapeErr("input %s does not match the inferred shape", in[0].Shape)
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
			is := 1 / math.Sqrt(q/d+op.eps)
			op.invStd[b] = float32(is)
			h, yb := op.xhat[b*size:(b+1)*size], y[b*size:(b+1)*size]
			first := (b % op.groups) * cpg // the block's first channel
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
	blocks, cpg := op.n*op.groups, op.c/op.groups
	size := cpg * op.hw
	if len(op.xhat) != blocks*size {
		return fmt.Errorf("backward without a forward at this shape")
	}
	gy, scale := gout[0].Data, in[1].Data
	for b := range blocks {
		first := (b % op.groups) * cpg
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
			first := (b % op.groups) * cpg
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
