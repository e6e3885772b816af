package prune

import (
	"fmt"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
)

// SoftFilter is Soft Filter Pruning (He et al. 2018, "Soft Filter Pruning
// for Accelerating Deep Convolutional Neural Networks"): at the end of
// every Every-th training epoch the filters with the lowest criterion
// score (the paper's L2 norm: criterion l2) are zeroed to Ratio in each
// layer, through the dependency groups, but stay trainable, so that a
// filter zeroed once can grow back and a better one take its place. Each
// zeroing scores the current weights afresh, ignoring which filters the
// previous one chose. The filters zeroed last are what the plan removes
// physically (Plan.Slim), with their whole groups (see Zero). It needs a training run and a structured
// granularity (filter or channel).
type SoftFilter struct {
	Ratio float64
	Every int // epochs between zeroings (0: 1, the paper's)
}

// Validate reports a ratio or an interval SoftFilter cannot use.
func (s SoftFilter) Validate() error {
	if err := CheckRatio("SFP ratio", s.Ratio); err != nil {
		return err
	}
	if s.Every < 0 {
		return fmt.Errorf("SFP: epochs between zeroings must be ≥ 1, have %d", s.Every)
	}
	return nil
}

// Zero scores p's layers on the current weights, with no memory of
// earlier steps, and zeros the lowest-scored filters to the ratio (p.Step):
// p.Masks and p.Plan then say which channels go. Before the final step
// only the filters themselves are zeroed (the conv and linear weights'
// output slices, as in the paper): BatchNorm parameters and the next
// layers' input slices keep their values, so that a zeroed filter still
// gets a gradient and can recover (with its whole group at zero it would
// sit at a saddle point). The final step zeros the whole group, so that
// the masked model computes what the slimmed one does.
func (s SoftFilter) Zero(p *Pruner, final bool) error {
	if len(p.Layers) > 0 && p.Layers[0].Group == nil {
		return fmt.Errorf("SFP zeroes whole filters: it needs granularity filter or channel")
	}
	var before map[string][]float32
	if !final {
		before = map[string][]float32{}
		for _, q := range p.Graph.Params {
			before[q.Name] = slices.Clone(q.Value.Data)
		}
	}
	p.Plan, p.Ctx.Prior = nil, nil
	if err := p.Step(s.Ratio); err != nil {
		return err
	}
	if final {
		return nil
	}
	filters := map[string]bool{}
	for _, w := range Weights(p.Graph) {
		filters[w.Name] = true
	}
	for _, q := range p.Graph.Params {
		mk := p.Masks[q.Name]
		if mk == nil {
			continue
		}
		if !filters[q.Name] || !outSlices(q, mk) {
			copy(q.Value.Data, before[q.Name])
		}
	}
	return nil
}

// outSlices reports whether mask zeros whole output slices of the weight
// w only (the filters it produces), not input slices.
func outSlices(w *graph.Param, mask *tensor.Tensor) bool {
	o, _ := w.WeightAxes()
	outer, n, inner := axisBlocks(w.Value.Shape, o)
	for c := range n {
		zeros := 0
		for a := range outer {
			for k := range inner {
				if mask.Data[(a*n+c)*inner+k] == 0 {
					zeros++
				}
			}
		}
		if zeros != 0 && zeros != outer*inner {
			return false
		}
	}
	return true
}

// Attach makes t zero filters with p at the end of every Every-th epoch
// (train.EndOfEpoch), the whole groups at the end of the last one, without
// holding them at zero in between: do not attach p.Masks. The first error
// stops training.
func (s SoftFilter) Attach(t *train.Trainer, p *Pruner) {
	every := max(s.Every, 1)
	t.On(train.EndOfEpoch, func(st *train.State) error {
		final := st.Epoch+1 == st.Epochs
		if (st.Epoch+1)%every != 0 && !final {
			return nil
		}
		return s.Zero(p, final)
	})
}
