package cpu

// Range: start, start + delta, … up to but excluding limit, from three
// scalar inputs. Its length depends on their values, so they must be
// constants when shapes are inferred; the importer folds a Range of
// constants (or of values computed from shapes, such as positional ids
// up to a sequence length) into a param, and a Range that survives
// folding runs with its constant inputs.

import (
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("Range", func(*graph.Node) (Op, error) { return rangeOp{}, nil })
}

type rangeOp struct{}

func (rangeOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return graph.InferRange(nil, in, consts)
}

// Forward writes start + i·delta; the length is the one inferred from the
// constants.
func (rangeOp) Forward(_ *Ctx, in, out []*tensor.Tensor) error {
	start, delta := float64(in[0].Data[0]), float64(in[2].Data[0])
	for i := range out[0].Data {
		out[0].Data[i] = float32(start + float64(i)*delta)
	}
	return nil
}

// Backward: ∂y_i/∂start = 1 and ∂y_i/∂delta = i; the limit only sets the
// length, a step function of it with derivative 0 almost everywhere.
func (rangeOp) Backward(_ *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	var gs, gd float64
	for i, v := range gout[0].Data {
		gs += float64(v)
		gd += float64(i) * float64(v)
	}
	if gin[0] != nil {
		gin[0].Data[0] += float32(gs)
	}
	if gin[2] != nil {
		gin[2].Data[0] += float32(gd)
	}
	return nil
}
