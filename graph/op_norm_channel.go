package graph

// InstanceNormalization and LRN: normalisations over one image's channel
// planes (InstanceNorm: each plane on its own) or across neighbouring
// channels (LRN).

import (
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "InstanceNormalization", Infer: InferInstanceNorm, Params: instanceNormParams})
	RegisterOp(OpSpec{Type: "LRN", Infer: InferLRN})
}

// instanceNormParams: scale and B are per channel and train.
func instanceNormParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{
		{Input: 1, Kind: ParamScale, Axes: []AxisRole{AxisOut}, Trainable: true},
		{Input: 2, Kind: ParamShift, Axes: []AxisRole{AxisOut}, Trainable: true},
	}
}

// InferInstanceNorm: x is N×C×spatial…, scale and B have C elements, y
// has x's shape.
func InferInstanceNorm(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) < 3 {
		return nil, ShapeErr("input must be N×C×spatial…, have %v", x)
	}
	for i, s := range in[1:] {
		if len(s) != 1 || s[0] != x[1] {
			return nil, ShapeErr("%s must be %d (the channels of %v), have %v", []string{"scale", "B"}[i], x[1], x, s)
		}
	}
	return [][]int{CloneShape(x)}, nil
}

// InferLRN: x is N×C×…, y has its shape.
func InferLRN(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) < 2 {
		return nil, ShapeErr("input must be N×C×…, have %v", x)
	}
	return [][]int{CloneShape(x)}, nil
}
