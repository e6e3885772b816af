package graph

// Tile: the input repeated along each axis the number of times input 1
// (repeats, a constant) says. Exporters write it for expand-like
// broadcasts (a positional embedding repeated over the batch, a mask
// repeated over heads) and in shape arithmetic.

import (
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "Tile", Infer: InferTile})
}

// tileRepeats checks repeats against the input's rank.
func tileRepeats(x []int, consts []*tensor.Tensor) ([]int, error) {
	reps, err := ConstIntsInput(consts, 1, "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != len(x) {
		return nil, ShapeErr("repeats has %d values for an input of rank %d (%v)", len(reps), len(x), x)
	}
	for i, r := range reps {
		if r < 0 {
			return nil, ShapeErr("repeats[%d] is %d: want at least 0", i, r)
		}
	}
	return reps, nil
}

// InferTile: the output's axis i is the input's times repeats[i].
func InferTile(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 2, 2); err != nil {
		return nil, err
	}
	reps, err := tileRepeats(in[0], consts)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(in[0]))
	for i, d := range in[0] {
		out[i] = d * reps[i]
	}
	return [][]int{out}, nil
}
