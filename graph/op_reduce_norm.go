package graph

// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp:
// a sum of an elementwise function of x, followed by a function of the
// sum. They take their axes, keepdims and noop_with_empty_axes like
// ReduceSum (an attribute up to opset 17, input 1 from opset 18); the
// reduction itself is ReduceSum's. With noop_with_empty_axes and no axes
// each element is reduced on its own, as ONNX's reference does
// (ReduceSumSquare gives x², ReduceL2 |x|).

import (
	"math"
)

// SumReduction describes one op of the family.
type SumReduction struct {
	// pre is the elementwise function summed (nil: x itself, shifted by
	// the maximum for LogSumExp).
	Pre func(x float64) float64
	// post turns the sum s into the output (m is the maximum subtracted
	// before exp for LogSumExp, else 0).
	Post func(s, m float64) float64
	// grad is ∂y/∂x for one element, given x and the output y.
	Grad func(x, y float64) float64
	// shift says the elements are shifted by their maximum before pre
	// (exp), for a sum of exponentials that does not overflow.
	Shift bool
}

var SumReductions = map[string]SumReduction{
	"ReduceL1": {
		Pre:  math.Abs,
		Post: func(s, _ float64) float64 { return s },
		Grad: func(x, _ float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0 // the subgradient PyTorch takes at 0
		},
	},
	"ReduceL2": {
		Pre:  func(x float64) float64 { return x * x },
		Post: func(s, _ float64) float64 { return math.Sqrt(s) },
		Grad: func(x, y float64) float64 {
			if y == 0 {
				return 0
			}
			return x / y
		},
	},
	"ReduceSumSquare": {
		Pre:  func(x float64) float64 { return x * x },
		Post: func(s, _ float64) float64 { return s },
		Grad: func(x, _ float64) float64 { return 2 * x },
	},
	"ReduceLogSum": {
		Pre:  func(x float64) float64 { return x },
		Post: func(s, _ float64) float64 { return math.Log(s) },
		Grad: func(_, y float64) float64 { return math.Exp(-y) }, // 1/Σx
	},
	"ReduceLogSumExp": {
		Pre:   math.Exp,
		Post:  func(s, m float64) float64 { return math.Log(s) + m },
		Grad:  func(x, y float64) float64 { return math.Exp(x - y) }, // softmax
		Shift: true,
	},
}

func init() {
	for kind := range SumReductions {
		parse := func(n *Node) (ReduceAttrs, error) { return ParseReduce(n, kind) }
		RegisterOp(OpSpec{Type: kind, Infer: inferWith(parse)})
	}
}
