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

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "LayerNormalization", Infer: inferWith(ParseLayerNorm), Params: layerNormParams})
}

// layerNormParams: Scale and B train; they run along the normalised axes,
// not the channels, so they have no channel axes.
func layerNormParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{
		{Input: 1, Kind: ParamScale, Trainable: true},
		{Input: 2, Kind: ParamShift, Trainable: true},
	}
}

// LayerNormAttrs are LayerNormalization's attributes.
type LayerNormAttrs struct {
	axis int
	Eps  float64
}

// ParseLayerNorm decodes a LayerNorm node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseLayerNorm(n *Node) (LayerNormAttrs, error) {
	r := AttrReader{A: n.Attrs}
	axis := r.Int("axis", -1)
	eps := r.Float("epsilon", 1e-5)
	stash := r.Int("stash_type", 1)
	if r.Err != nil {
		return LayerNormAttrs{}, r.Err
	}
	if stash != 1 {
		return LayerNormAttrs{}, fmt.Errorf("stash_type %d: only 1 (float32) is supported", stash)
	}
	return LayerNormAttrs{axis: axis, Eps: float64(eps)}, nil
}

// IndexStrides checks that shape from numpy-broadcasts to shape to and
// returns from's stride along each axis of to (0 where it broadcasts).
func IndexStrides(from, to []int) ([]int, error) {
	if len(from) > len(to) {
		return nil, ShapeErr("shape %s does not broadcast to %s", from, to)
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
			return nil, ShapeErr("shape %s does not broadcast to %s", from, to)
		}
		s *= d
	}
	return strides, nil
}

// Infer is LayerNormalization's shape inference: Y has X's shape, the mean
// and inverse deviation X's with the normalised axes 1.
func (a LayerNormAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	outs, _, err := a.Shape(in)
	return outs, err
}

// Shape checks X, Scale and B and returns the outputs' shapes and the
// first normalised axis.
func (a LayerNormAttrs) Shape(in [][]int) ([][]int, int, error) {
	if err := WantInputs(in, 2, 3); err != nil {
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
	if _, err := IndexStrides(in[1], x[ax:]); err != nil {
		return nil, 0, fmt.Errorf("input Scale: %w", err)
	}
	if len(in) == 3 {
		if _, err := IndexStrides(in[2], x[ax:]); err != nil {
			return nil, 0, fmt.Errorf("input B: %w", err)
		}
	}
	stat := CloneShape(x)
	for i := ax; i < len(stat); i++ {
		stat[i] = 1
	}
	return [][]int{CloneShape(x), stat, CloneShape(stat)}, ax, nil
}
