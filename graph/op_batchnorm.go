package graph

import (
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "BatchNormalization", Infer: InferBatchNorm, Params: batchNormParams, Init: batchNormInit})
}

// batchNormParams: scale and bias are per channel and train; the running
// mean and variance are per channel and are statistics, not trained.
func batchNormParams(n *Node, in []Operand) []ParamUse {
	out := []AxisRole{AxisOut}
	return []ParamUse{
		{Input: 1, Kind: ParamScale, Axes: out, Trainable: true},
		{Input: 2, Kind: ParamShift, Axes: out, Trainable: true},
		{Input: 3, Kind: ParamMean, Axes: out},
		{Input: 4, Kind: ParamVar, Axes: out},
	}
}

// batchNormInit: γ = 1, β = 0, running mean 0 and variance 1.
func batchNormInit(n *Node, in []Operand, _ *rand.Rand) {
	if len(in) != 5 {
		return
	}
	initFill(in[1].Param, 1)
	initFill(in[2].Param, 0)
	initFill(in[3].Param, 0)
	initFill(in[4].Param, 1)
}

// InferBatchNorm: x is N×C×…, the four params have C elements; outputs
// are y (x's shape) and, when named, the updated running mean and
// variance.
func InferBatchNorm(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 5, 5); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) < 2 {
		return nil, ShapeErr("input must be N×C×…, have %v", x)
	}
	c := x[1]
	for i, name := range []string{"scale", "bias", "mean", "var"} {
		s := in[i+1]
		if len(s) != 1 || s[0] != c {
			return nil, ShapeErr("%s must have %d elements (the input's channels), have %v", name, c, s)
		}
	}
	return [][]int{append([]int(nil), x...), {c}, {c}}, nil
}
