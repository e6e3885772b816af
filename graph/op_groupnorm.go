package graph

// GroupNormalization (ONNX opsets 18 and 21): each image's channels are
// split into num_groups groups of equal size, and each group is
// normalised by its own mean and variance over its channels and spatial
// positions, then scaled and shifted.

import (
	"fmt"
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "GroupNormalization", Infer: inferWith(ParseGroupNorm),
		Params: groupNormParams, Init: groupNormInit})
}

// GroupNormAttrs are GroupNormalization's attributes. stash_type, the
// precision of the normalisation stage, is accepted as 1 (float32): the
// statistics are accumulated in float64, which is at least as precise.
type GroupNormAttrs struct {
	Groups int
	Eps    float64
}

// ParseGroupNorm decodes a GroupNorm node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseGroupNorm(n *Node) (GroupNormAttrs, error) {
	r := AttrReader{A: n.Attrs}
	a := GroupNormAttrs{Groups: r.Int("num_groups", 0), Eps: float64(r.Float("epsilon", 1e-5))}
	stash := r.Int("stash_type", 1)
	if r.Err != nil {
		return a, r.Err
	}
	if _, ok := n.Attrs["num_groups"]; !ok {
		return a, fmt.Errorf("attribute num_groups is required")
	}
	if a.Groups < 1 {
		return a, fmt.Errorf("attribute num_groups is %d: want at least 1", a.Groups)
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
func (a GroupNormAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) < 2 {
		return nil, ShapeErr("input must be N×C×spatial…, have %v", x)
	}
	c := x[1]
	if c%a.Groups != 0 {
		return nil, ShapeErr("%d channels (input %v) do not split into num_groups=%d equal groups", c, x, a.Groups)
	}
	for i, s := range in[1:] {
		if len(s) != 1 || (s[0] != c && s[0] != a.Groups) {
			return nil, ShapeErr("%s must have %d elements (the channels of %v) or %d (num_groups), have shape %v",
				[]string{"scale", "bias"}[i], c, x, a.Groups, s)
		}
	}
	return [][]int{CloneShape(x)}, nil
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
