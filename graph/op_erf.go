package graph

// Erf, the Gauss error function, elementwise. PyTorch exports GELU
// (ConvNeXt, transformers) at opsets below 20 as x·(1 + Erf(x/√2))/2, so
// Erf is what such a GELU model needs; the single-node Gelu of opset 20 is
// in op_gelu.go.

// The elementwise one-input ops of this file: an output of the input's shape.
func init() {
	for _, name := range []string{"Erf"} {
		RegisterOp(OpSpec{Type: name, Infer: InferUnary})
	}
}
