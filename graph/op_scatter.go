package graph

// ScatterND: a copy of data with slices replaced (or combined, by the
// reduction attribute) by updates at the positions indices name. Exporters
// write it for in-place assignment (Swin's attention mask,
// mask[h0:h1, w0:w1] = k), usually on constants that the import folds.

import (
	"fmt"
	"slices"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "ScatterND", Build: newScatterND, Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
		return inferScatterND(in)
	}})
}

// scatterOp is ScatterND with reduction none, add, mul, max or min.
type scatterOp struct {
	reduction string
}

func newScatterND(n *Node) (Op, error) {
	r, err := n.Attrs.String("reduction", "none")
	if err != nil {
		return nil, err
	}
	switch r {
	case "none", "add", "mul", "max", "min":
	default:
		return nil, fmt.Errorf("attribute reduction is %q: want none, add, mul, max or min", r)
	}
	return &scatterOp{reduction: r}, nil
}

// inferScatterND checks that indices (…×k, k ≤ rank of data) and updates
// (indices' leading shape, then data's shape past k) fit data; the output
// has data's shape.
func inferScatterND(in [][]int) ([][]int, error) {
	if err := wantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	data, idx, upd := in[0], in[1], in[2]
	if len(idx) < 1 {
		return nil, shapeErr("indices must have rank ≥ 1, have shape %s", idx)
	}
	k := idx[len(idx)-1]
	if k < 1 || k > len(data) {
		return nil, shapeErr("indices' last dimension %d must be in [1, %d] (data's rank)", k, len(data))
	}
	want := append(cloneShape(idx[:len(idx)-1]), data[k:]...)
	if !slices.Equal(upd, want) {
		return nil, shapeErr("updates have shape %s, want %s (indices %s into data %s)", upd, want, idx, data)
	}
	return [][]int{cloneShape(data)}, nil
}

func (op *scatterOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return inferScatterND(in)
}

// targets returns, for each index tuple, the flat offset of the slice it
// names in data, and the slice's length.
func scatterTargets(data []int, idx *tensor.Tensor) (offs []int, slice int, err error) {
	k := idx.Shape[len(idx.Shape)-1]
	slice = 1
	for _, d := range data[k:] {
		slice *= d
	}
	n := idx.Len() / k
	offs = make([]int, n)
	for t := range n {
		off := 0
		for j := range k {
			v := idx.Data[t*k+j]
			i := int(v)
			if float32(i) != v {
				return nil, 0, fmt.Errorf("index %v is not an integer", v)
			}
			if i < 0 {
				i += data[j]
			}
			if i < 0 || i >= data[j] {
				return nil, 0, fmt.Errorf("index %d out of range for axis %d of size %d", int(v), j, data[j])
			}
			off = off*data[j] + i
		}
		offs[t] = off * slice
	}
	return offs, slice, nil
}

func (op *scatterOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	offs, slice, err := scatterTargets(in[0].Shape, in[1])
	if err != nil {
		return err
	}
	y, u := out[0].Data, in[2].Data
	copy(y, in[0].Data)
	for t, off := range offs {
		dst, src := y[off:off+slice], u[t*slice:(t+1)*slice]
		switch op.reduction {
		case "none":
			copy(dst, src)
		case "add":
			for i, v := range src {
				dst[i] += v
			}
		case "mul":
			for i, v := range src {
				dst[i] *= v
			}
		case "max":
			for i, v := range src {
				dst[i] = max(dst[i], v)
			}
		case "min":
			for i, v := range src {
				dst[i] = min(dst[i], v)
			}
		}
	}
	return nil
}

// Backward: with reduction none the replaced positions pass no gradient
// to data and the updates get theirs (the last write wins, as in
// Forward); with add both get the output's gradient. The other reductions
// have no gradient here.
func (op *scatterOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil && gin[2] == nil {
		return nil
	}
	if op.reduction != "none" && op.reduction != "add" {
		return fmt.Errorf("ScatterND with reduction %s has no gradient", op.reduction)
	}
	offs, slice, err := scatterTargets(in[0].Shape, in[1])
	if err != nil {
		return err
	}
	g := gout[0].Data
	if gin[0] != nil {
		gd := gin[0].Data
		if op.reduction == "add" {
			for i, v := range g {
				gd[i] += v
			}
		} else {
			written := make([]bool, len(g))
			for _, off := range offs {
				for i := off; i < off+slice; i++ {
					written[i] = true
				}
			}
			for i, v := range g {
				if !written[i] {
					gd[i] += v
				}
			}
		}
	}
	if gin[2] != nil {
		gu := gin[2].Data
		last := map[int]int{} // with none, only the last update of a slice reaches the output
		if op.reduction == "none" {
			for t, off := range offs {
				last[off] = t
			}
		}
		for t, off := range offs {
			if op.reduction == "none" && last[off] != t {
				continue
			}
			for i := range slice {
				gu[t*slice+i] += g[off+i]
			}
		}
	}
	return nil
}
