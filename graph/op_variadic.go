package graph

import (
	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"Sum", "Mean", "Max", "Min"} {
		RegisterOp(OpSpec{Type: kind, Infer: func(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return InferVariadic(kind, in) }})
	}
}

// InferVariadic: one to 127 inputs that broadcast together.
func InferVariadic(kind string, in [][]int) ([][]int, error) {
	if len(in) == 0 {
		return nil, ShapeErr("%s needs at least one input", kind)
	}
	if len(in) > 127 {
		return nil, ShapeErr("%s takes at most 127 inputs, have %d", kind, len(in))
	}
	out := in[0]
	for _, s := range in[1:] {
		o, err := BroadcastShapes(out, s)
		if err != nil {
			return nil, err
		}
		out = o
	}
	return [][]int{CloneShape(out)}, nil
}
