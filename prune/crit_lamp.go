package prune

import (
	"cmp"
	"slices"
)

// LAMP is layer-adaptive magnitude pruning (Lee et al. 2021, "Layer-
// adaptive Sparsity for the Magnitude-based Pruning"): a unit's score is
// its squared magnitude divided by the sum of the squared magnitudes of
// all units of its layer that are at least as large. Ranked globally, the
// scores pick a per-layer sparsity with no hyper-parameter. Units are
// single weights or blocks (their squared norms); channels are not scored.
type LAMP struct{}

func (LAMP) Name() string               { return "lamp" }
func (LAMP) Needs() Requirement         { return NeedsNothing }
func (c LAMP) Fits(g Granularity) error { return weightsFit(c.Name(), g.Structured()) }

func (LAMP) Score(c *Context, layers []*Layer) error {
	if err := weightsOnly("lamp", layers); err != nil {
		return err
	}
	for _, l := range layers {
		sq := make([]float64, l.Param.Value.Len())
		for i, v := range l.Param.Value.Data {
			sq[i] = float64(v) * float64(v)
		}
		l.Scores = lamp(l.unitSums(sq))
	}
	return nil
}

// lamp turns squared magnitudes into LAMP scores.
func lamp(sq []float64) []float64 {
	order := make([]int, len(sq))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sq[a], sq[b]) })
	out := make([]float64, len(sq))
	var tail float64 // sum of sq over order[k:]
	for _, i := range order {
		tail += sq[i]
	}
	for _, i := range order {
		if tail > 0 {
			out[i] = sq[i] / tail
		}
		tail -= sq[i]
	}
	return out
}
