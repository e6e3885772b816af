package graph

import (
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

// Helpers for the op specs: shape arithmetic for MACs and the zoo's
// initialisation rules for Init (docs/ZOO.md: PyTorch's defaults, with conv
// weights Kaiming-normal).

// NumElems is the element count of a shape (0 for an invalid one).
func NumElems(s []int) int {
	e, _ := tensor.NumElems(s)
	return e
}

// paramAt is the param input i reads, or nil.
func paramAt(in []Operand, i int) *Param {
	if i < len(in) {
		return in[i].Param
	}
	return nil
}

// initUniform fills p (if any) uniformly in ±bound.
func initUniform(p *Param, bound float64, r *rand.Rand) {
	if p == nil {
		return
	}
	for i := range p.Value.Data {
		p.Value.Data[i] = float32((r.Float64()*2 - 1) * bound)
	}
}

// initFill sets every element of p (if any) to v.
func initFill(p *Param, v float32) {
	if p != nil {
		p.Value.Fill(v)
	}
}

// convInit is Conv's and ConvTranspose's: fans as PyTorch reads them off
// the weight's first two axes (out × in/group for Conv, in × out/group for
// ConvTranspose), Kaiming normal with fan-out axis0·k/group and ReLU gain,
// the bias uniform(±1/√fan-in) with fan-in axis1·k.
func convInit(n *Node, in []Operand, r *rand.Rand) {
	w := paramAt(in, 1)
	if w == nil || w.Value.Rank() < 2 {
		return
	}
	group, _ := n.Attrs.Int("group", 1)
	k := ShapeProd(w.Value.Shape[2:])
	std := math.Sqrt(2 / float64(max(w.Value.Shape[0]*k/max(group, 1), 1)))
	for i := range w.Value.Data {
		w.Value.Data[i] = float32(r.NormFloat64() * std)
	}
	initUniform(paramAt(in, 2), 1/math.Sqrt(float64(max(w.Value.Shape[1]*k, 1))), r)
}

// linearInit is a linear layer's (Gemm, MatMul by a 2-D param): weight and
// bias (input 2, if withBias) uniform(±1/√fan-in), the fan-in being the
// weight's in axis as weight locates it.
func linearInit(weight func(*Node, []Operand) (WeightUse, bool), withBias bool) func(*Node, []Operand, *rand.Rand) {
	return func(n *Node, in []Operand, r *rand.Rand) {
		use, ok := weight(n, in)
		w := paramAt(in, use.Input)
		if !ok || w == nil || w.Value.Rank() != 2 {
			return
		}
		bound := 1 / math.Sqrt(float64(w.Value.Shape[use.In]))
		initUniform(w, bound, r)
		if withBias {
			initUniform(paramAt(in, 2), bound, r)
		}
	}
}
