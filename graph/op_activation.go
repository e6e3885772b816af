package graph

// Activations: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh,
// Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu, Identity
// (elementwise, one input), Clip (ReLU6 = Clip(0, 6)), Softmax, LogSoftmax
// and Dropout. PRelu, which has a slope input, is with the binary ops.

import (
	"github.com/shearsml/shears/tensor"
)

// InferUnary: one input, and an output of its shape.
func InferUnary(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	return [][]int{CloneShape(in[0])}, nil
}

// The elementwise one-input ops of this file: an output of the input's shape.
func init() {
	for _, name := range []string{"Identity", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign", "ThresholdedRelu", "Elu", "Selu", "Celu"} {
		RegisterOp(OpSpec{Type: name, Infer: InferUnary})
	}
}

func init() {
	RegisterOp(OpSpec{Type: "Clip", Infer: InferClip})
	RegisterOp(OpSpec{Type: "Softmax", Infer: inferWith(ParseSoftmax)})
	RegisterOp(OpSpec{Type: "LogSoftmax", Infer: inferWith(ParseSoftmax)})
	RegisterOp(OpSpec{Type: "Dropout", Infer: InferDropout})
}

// InferClip: the output has x's shape; min and max, when given as inputs,
// are scalars. (The attribute bounds do not matter to shapes.)
func InferClip(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 3); err != nil {
		return nil, err
	}
	if err := checkScalarInput(in, 1, "min"); err != nil {
		return nil, err
	}
	if err := checkScalarInput(in, 2, "max"); err != nil {
		return nil, err
	}
	return [][]int{CloneShape(in[0])}, nil
}

// SoftmaxAttrs are Softmax's and LogSoftmax's attributes.
type SoftmaxAttrs struct {
	Axis int
	Log  bool
}

// ParseSoftmax decodes a Softmax node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseSoftmax(n *Node) (SoftmaxAttrs, error) {
	axis, err := n.Attrs.Int("axis", -1)
	return SoftmaxAttrs{Axis: axis, Log: n.Op == "LogSoftmax"}, err
}

// Infer is the shape inference of Softmax and of its Op.
func (op SoftmaxAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	if _, err := ResolveAxis(op.Axis, len(in[0])); err != nil {
		return nil, err
	}
	return [][]int{CloneShape(in[0])}, nil
}

// InferDropout: the output and the mask have x's shape; a ratio input is a
// scalar.
func InferDropout(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 3); err != nil {
		return nil, err
	}
	if err := checkScalarInput(in, 1, "ratio"); err != nil {
		return nil, err
	}
	return [][]int{CloneShape(in[0]), CloneShape(in[0])}, nil
}
