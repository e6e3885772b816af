package cpu

// The ScatterND kernel (graph/op_scatter.go says what it means).

import (
	"fmt"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() { RegisterKernel("ScatterND", newScatterND) }

// scatterOp is ScatterND with reduction none, add, mul, max or min.
type scatterOp struct {
	reduction string
}

func newScatterND(n *graph.Node) (Op, error) {
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

func (op *scatterOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return graph.InferScatterND(in)
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
