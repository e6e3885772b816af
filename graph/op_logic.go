package graph

// Comparison, logic, selection and remainder ops: Equal, Greater,
// GreaterOrEqual, Less, LessOrEqual, And, Or, Xor, Not, IsNaN, IsInf,
// Where and Mod.
//
// The IR holds every tensor as float32, integers included (exactly up to
// 2^24, which covers shapes, indices and class ids); a boolean is 0 or 1.
// A comparison writes 1 where it holds and 0 elsewhere; the logic ops read
// any non-zero value as true, as a Cast to BOOL does. The import infers
// each value's ONNX element type (onnx/types.go), so Where's and Cast's
// meaning follows the model's types, and the export writes them back.
//
// Comparisons and logic are piecewise constant: they train as constants
// (zero gradient; OpSpec.NoGradient says so). Where passes the gradient to
// the branch it picked; Mod to its dividend (and −⌊a/b⌋ times it to the
// divisor, the derivative where it exists). The kernels are backend/cpu's.

import (
	"github.com/shearsml/shears/tensor"
)

// LogicNoGradient is the NoGradient reason of the piecewise-constant ops
// (comparisons, logic, ArgMax, rounding).
const LogicNoGradient = "piecewise constant: zero gradient, trains as a constant"

func init() {
	for _, name := range []string{"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor"} {
		RegisterOp(OpSpec{Type: name, Infer: InferBroadcast(2), NoGradient: LogicNoGradient})
	}
	RegisterOp(OpSpec{Type: "Mod", Infer: InferBroadcast(2)})
	RegisterOp(OpSpec{Type: "Where", Infer: InferBroadcast(3)})
	for _, name := range []string{"Not", "IsNaN", "IsInf"} {
		RegisterOp(OpSpec{Type: name, Infer: InferUnary, NoGradient: LogicNoGradient})
	}
}

// InferBroadcast is the shape inference of an elementwise op of n inputs
// that broadcast together.
func InferBroadcast(n int) func(*Node, [][]int, []*tensor.Tensor) ([][]int, error) {
	return func(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
		if err := WantInputs(in, n, n); err != nil {
			return nil, err
		}
		out, err := BroadcastShapes(in...)
		if err != nil {
			return nil, err
		}
		return [][]int{out}, nil
	}
}
