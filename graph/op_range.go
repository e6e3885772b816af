package graph

// Range: start, start + delta, … up to but excluding limit, from three
// scalar inputs. Its length depends on their values, so they must be
// constants when shapes are inferred; the importer folds a Range of
// constants (or of values computed from shapes, such as positional ids
// up to a sequence length) into a param, and a Range that survives
// folding runs with its constant inputs.

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/tensor"
)

// maxRange bounds a Range's length, so that a hostile file cannot make
// shears allocate an enormous tensor.
const maxRange = 1 << 28

func init() {
	RegisterOp(OpSpec{Type: "Range", Infer: inferRange})
	RegisterKernel("Range", func(*Node) (Op, error) { return rangeOp{}, nil })
}

// rangeLength is ONNX's max(ceil((limit − start)/delta), 0).
func rangeLength(start, limit, delta float64) (int, error) {
	if delta == 0 {
		return 0, fmt.Errorf("delta is 0")
	}
	n := math.Ceil((limit - start) / delta)
	switch {
	case math.IsNaN(n):
		return 0, fmt.Errorf("start %g, limit %g and delta %g give no length", start, limit, delta)
	case n > maxRange:
		return 0, fmt.Errorf("start %g, limit %g and delta %g give %g elements, more than %d", start, limit, delta, n, maxRange)
	}
	return max(int(n), 0), nil
}

func inferRange(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 3, 3); err != nil {
		return nil, err
	}
	var v [3]float64
	for i, what := range []string{"start", "limit", "delta"} {
		t, err := constInput(consts, i, what)
		if err != nil {
			return nil, fmt.Errorf("%w: the length of a Range depends on it", err)
		}
		if t.Len() != 1 || t.Rank() > 1 {
			return nil, shapeErr("%s must be a scalar, have shape %v", what, t.Shape)
		}
		v[i] = float64(t.Data[0])
	}
	n, err := rangeLength(v[0], v[1], v[2])
	if err != nil {
		return nil, err
	}
	return [][]int{{n}}, nil
}

type rangeOp struct{}

func (rangeOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return inferRange(nil, in, consts)
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
