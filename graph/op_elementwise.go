package graph

// Elementwise arithmetic with numpy multidirectional broadcasting (Add, Sub,
// Mul, Div, Pow, and PRelu, whose slope broadcasts to x) and elementwise math (Neg, Sqrt, Exp, Log, Abs,
// Reciprocal).
//
// Broadcasting goes through a stridePlan, which merges dimensions so that
// the common cases run as long contiguous inner loops: same shape is one
// loop, x[N,C,H,W]·s[N,C,1,1] is N·C rows of H·W elements times a scalar,
// x + b[1,C,1,1] is N·C rows with the bias scalar per row, and x[N,F] + b[F]
// is N vector-vector rows. Backward reduces each input's gradient over its
// broadcast dimensions.

import (
	"slices"

	"github.com/shearsml/shears/tensor"
)

// BinKind says which binary elementwise op a node is (Add ... PRelu).
type BinKind uint8

const (
	BinAdd BinKind = iota
	BinSub
	BinMul
	BinDiv
	BinPow
	BinPRelu // y = a if a ≥ 0, else a·b
)

// preluParams: a PReLU's param slope trains (PyTorch's nn.PReLU learns it).
func preluParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{{Input: 1, Kind: ParamScale, Trainable: true}}
}

// layerScaleParams: a Mul of an activation by a param holding one value
// per channel (one axis longer than 1, more than one element) is a
// learned layer scale (ConvNeXt's γ, CaiT's LayerScale) and trains. Any
// other param operand is a constant: a scalar (GELU's 0.5 and 1/√2), a
// tensor of several axes, or a factor applied to a graph input (input
// normalisation).
func layerScaleParams(n *Node, in []Operand) []ParamUse {
	return perChannelParam(in, ParamScale)
}

// biasAddParams: an Add of an activation and a param holding one value
// per channel is a bias (a MatMul's, as PyTorch exports nn.Linear on N-d
// inputs and ConvNeXt's blocks, or TensorFlow's BiasAdd) and trains, by
// the same shape rule as a layer scale.
func biasAddParams(n *Node, in []Operand) []ParamUse {
	return perChannelParam(in, ParamBias)
}

// perChannelParam declares the param operand of a binary op trainable,
// as kind, when the other operand is an activation (not a param, not a
// graph input) and the param has exactly one axis longer than 1.
func perChannelParam(in []Operand, kind ParamKind) []ParamUse {
	if len(in) != 2 {
		return nil
	}
	for i, op := range in {
		x := in[1-i]
		if op.Param == nil || x.Name == "" || x.Param != nil || x.GraphInput {
			continue
		}
		long := 0
		for _, d := range op.Param.Value.Shape {
			if d > 1 {
				long++
			}
		}
		if long == 1 {
			return []ParamUse{{Input: i, Kind: kind, Trainable: true}}
		}
	}
	return nil
}

// The elementwise one-input ops of this file: an output of the input's shape.
func init() {
	for _, name := range []string{"Neg", "Sqrt", "Exp", "Log", "Abs", "Reciprocal"} {
		RegisterOp(OpSpec{Type: name, Infer: InferUnary})
	}
}

func init() {
	params := map[BinKind]func(*Node, []Operand) []ParamUse{BinAdd: biasAddParams, BinMul: layerScaleParams, BinPRelu: preluParams}
	for name, k := range map[string]BinKind{"Add": BinAdd, "Sub": BinSub, "Mul": BinMul, "Div": BinDiv, "Pow": BinPow, "PRelu": BinPRelu} {
		RegisterOp(OpSpec{Type: name, Infer: func(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return InferBinary(k, in) }, Params: params[k]})
	}
}

// InferBinary: the inputs broadcast to the output; PRelu's slope
// broadcasts to X.
func InferBinary(kind BinKind, in [][]int) ([][]int, error) {
	if err := WantInputs(in, 2, 2); err != nil {
		return nil, err
	}
	out, err := BroadcastShapes(in[0], in[1])
	if err != nil {
		return nil, err
	}
	if kind == BinPRelu && !slices.Equal(out, in[0]) {
		return nil, ShapeErr("slope of shape %s does not broadcast to X of shape %s", in[1], in[0])
	}
	return [][]int{out}, nil
}

// checkScalarInput rejects an optional scalar input (Clip's min/max,
// Dropout's ratio, Pad's constant_value) with more than one element.
func checkScalarInput(in [][]int, i int, what string) error {
	if i < len(in) && in[i] != nil && ShapeProd(in[i]) != 1 {
		return ShapeErr("%s (input %d) must be a scalar, have shape %s", what, i, in[i])
	}
	return nil
}
