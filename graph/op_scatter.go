package graph

// ScatterND: a copy of data with slices replaced (or combined, by the
// reduction attribute) by updates at the positions indices name. Exporters
// write it for in-place assignment (Swin's attention mask,
// mask[h0:h1, w0:w1] = k), usually on constants that the import folds.
// The kernel is backend/cpu's.

import (
	"slices"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "ScatterND", Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
		return InferScatterND(in)
	}})
}

// InferScatterND checks that indices (…×k, k ≤ rank of data) and updates
// (indices' leading shape, then data's shape past k) fit data; the output
// has data's shape.
func InferScatterND(in [][]int) ([][]int, error) {
	if err := WantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	data, idx, upd := in[0], in[1], in[2]
	if len(idx) < 1 {
		return nil, ShapeErr("indices must have rank ≥ 1, have shape %s", idx)
	}
	k := idx[len(idx)-1]
	if k < 1 || k > len(data) {
		return nil, ShapeErr("indices' last dimension %d must be in [1, %d] (data's rank)", k, len(data))
	}
	want := append(CloneShape(idx[:len(idx)-1]), data[k:]...)
	if !slices.Equal(upd, want) {
		return nil, ShapeErr("updates have shape %s, want %s (indices %s into data %s)", upd, want, idx, data)
	}
	return [][]int{CloneShape(data)}, nil
}
