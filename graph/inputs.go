package graph

import (
	"math/rand/v2"
	"slices"

	"github.com/shearsml/shears/tensor"
)

// RandomInputs returns standard-normal tensors for every graph input (0 or
// 1 for a Bool input, integers in [0, 10) for an integer one), with the
// dynamic batch dimension set to batch: what latency measurements and
// equivalence tests (masked vs slimmed, shears vs ONNX Runtime) feed in.
func RandomInputs(g *Graph, batch int, r *rand.Rand) []*tensor.Tensor {
	var xs []*tensor.Tensor
	for _, in := range g.Inputs {
		shape := slices.Clone(in.Shape)
		for i, d := range shape {
			if d < 0 {
				shape[i] = batch
			}
		}
		x := tensor.New(shape...)
		for i := range x.Data {
			switch {
			case in.Type == Bool:
				x.Data[i] = float32(r.IntN(2))
			case in.Type.Integer():
				x.Data[i] = float32(r.IntN(10)) // small non-negative ints: valid ids and counts
			default:
				x.Data[i] = float32(r.NormFloat64())
			}
		}
		xs = append(xs, x)
	}
	return xs
}
