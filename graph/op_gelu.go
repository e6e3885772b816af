package graph

// Gelu (ONNX opset 20, approximate "none" or "tanh") and Mish (opset 18),
// elementwise. Exporters at older opsets decompose both (GELU as
// x·(1 + Erf(x/√2))/2, Mish as x·Tanh(Softplus(x))), which the existing
// Erf, Tanh and Softplus ops run; these are the single-node forms newer
// exporters write.

import (
	"math"
)

// The elementwise one-input ops of this file: an output of the input's shape.
func init() {
	for _, name := range []string{"Gelu", "Mish"} {
		RegisterOp(OpSpec{Type: name, Infer: InferUnary})
	}
}

// Softplus64 is log(1 + eˣ) without overflow for large x.
func Softplus64(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}
