package prune

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
)

// MorphNet is the shrink-and-expand method of Gordon et al. 2018
// ("MorphNet: Fast & Simple Resource-Constrained Structure Learning of
// Deep Networks"), on the dependency groups:
//
//  1. training with a resource-weighted sparsity penalty (MorphNet is
//     its Regularizer): λ·Σ_k w_k·Σ_c |γ_{k,c}| over the BatchNorm
//     scales of each group k, or, for a group without BatchNorm, the
//     group lasso λ·Σ_k w_k·Σ_c ‖filter_{k,c}‖₂ over its filters; w_k is
//     the share of the model's cost (MACs or params, Cost) one channel
//     of group k carries, relative to the mean over groups, so that
//     expensive channels are pushed to zero harder;
//  2. shrinking: a channel whose |γ| (or filter norm) is below Threshold
//     is dead (the paper's 1e-2);
//  3. a uniform expansion: every group's live width is multiplied by the
//     largest ω for which the model still meets the target cost, capped
//     at the group's original width (shears does not grow layers), and
//     the channels with the largest |γ| are kept (Plan).
//
// The result is then retrained (the recipe's recovery). It needs a
// structured granularity, labels and a training run.
type MorphNet struct {
	Lambda    float64
	Cost      Cost    // MACsCost{} or ParamsCost{}
	Threshold float64 // 0: 1e-2

	layers []*Layer
	weight []float64 // w_k per layer
	bn     map[string]bool
}

// Prepare measures the cost one channel of each layer carries in the
// dense model g (by removing one channel of it and measuring), for the
// penalty's weights.
func (m *MorphNet) Prepare(g *graph.Graph, layers []*Layer) error {
	if m.Cost == nil {
		m.Cost = MACsCost{}
	}
	if !(m.Lambda > 0) || math.IsInf(m.Lambda, 0) {
		return fmt.Errorf("MorphNet: λ must be a finite number > 0, have %g", m.Lambda)
	}
	if len(layers) == 0 || layers[0].Group == nil {
		return fmt.Errorf("MorphNet shrinks whole channels: it needs granularity filter or channel")
	}
	m.layers, m.weight, m.bn = layers, make([]float64, len(layers)), bnScales(g)
	var sum float64
	for i, l := range layers {
		plan := &Plan{Layers: layers, Keep: make([][]bool, len(layers))}
		for j, o := range layers {
			plan.Keep[j] = make([]bool, o.Units)
			fillTrue(plan.Keep[j])
		}
		if l.Units > 1 {
			plan.Keep[i][0] = false
		}
		c, err := PlanCost(m.Cost, g, plan)
		if err != nil {
			return fmt.Errorf("MorphNet: cost of a channel of %s: %w", l.Name, err)
		}
		m.weight[i] = max(1-c, 0)
		sum += m.weight[i]
	}
	mean := sum / float64(len(layers))
	for i := range m.weight {
		if mean > 0 {
			m.weight[i] /= mean
		} else {
			m.weight[i] = 1
		}
	}
	return nil
}

func (m *MorphNet) Name() string {
	return fmt.Sprintf("morphnet-%s(%g)", m.Cost.Name(), m.Lambda)
}

// AddGrad implements Regularizer (after Prepare).
func (m *MorphNet) AddGrad(g *graph.Graph, prog *cpu.Program) {
	params := g.ParamMap()
	for i, l := range m.layers {
		lam := m.Lambda * m.weight[i]
		hasBN := false
		for _, s := range l.Group.Slices {
			if p := params[s.Param]; p != nil && p.Trainable && m.bn[s.Param] {
				hasBN = true
				addSign(prog, p, lam)
			}
		}
		if hasBN {
			continue
		}
		for _, s := range l.Group.Slices {
			p := params[s.Param]
			if p == nil || !p.Trainable || !isFilter(p, s) {
				continue
			}
			gr := prog.Grad(p.Name)
			if gr == nil {
				continue
			}
			unit, n := lassoUnits(p, "filter")
			norm := make([]float64, n)
			for e, w := range p.Value.Data {
				norm[unit[e]] += float64(w) * float64(w)
			}
			for e, w := range p.Value.Data {
				if nu := math.Sqrt(norm[unit[e]]); nu > 0 && inSlice(s, int(unit[e])) {
					gr.Data[e] += float32(lam * float64(w) / nu)
				}
			}
		}
	}
}

// inSlice reports whether index k of the slice's axis belongs to it.
func inSlice(s Slice, k int) bool {
	return k >= s.Offset && k < s.Offset+s.Count*s.Span
}

// channelSizes returns, for each channel of l, what the shrink step reads:
// the summed |γ| of its BatchNorm scales, or the L2 norm of its filters
// when the group has no BatchNorm.
func (m *MorphNet) channelSizes(g *graph.Graph, l *Layer) []float64 {
	params := g.ParamMap()
	size := make([]float64, l.Units)
	hasBN := false
	for _, s := range l.Group.Slices {
		if p := params[s.Param]; p != nil && m.bn[s.Param] {
			hasBN = true
			for ch := s.First; ch < s.First+s.Count; ch++ {
				lo, hi, _ := s.Elems(ch)
				for _, v := range p.Value.Data[lo:hi] {
					size[ch] += math.Abs(float64(v))
				}
			}
		}
	}
	if hasBN {
		return size
	}
	for _, s := range l.Group.Slices {
		p := params[s.Param]
		if p == nil || !isFilter(p, s) {
			continue
		}
		unit, _ := lassoUnits(p, "filter")
		for e, w := range p.Value.Data {
			if k := int(unit[e]); inSlice(s, k) {
				size[s.First+(k-s.Offset)/s.Span] += float64(w) * float64(w)
			}
		}
	}
	for c := range size {
		size[c] = math.Sqrt(size[c])
	}
	return size
}

// Plan shrinks (channels below Threshold are dead) and expands every
// group's live width uniformly to the largest that keeps the cost of the
// model g (the trained graph the layers come from) at most keep, a
// fraction of its unpruned cost. It
// returns the plan, the live widths and the multiplier ω. A target the
// live widths already miss (ω < 1 needed) shrinks them further,
// uniformly, as the paper's expansion with ω < 1 does.
func (m *MorphNet) Plan(g *graph.Graph, keep float64) (plan *Plan, alive []int, omega float64, err error) {
	if !(keep > 0 && keep <= 1) {
		return nil, nil, 0, fmt.Errorf("MorphNet: the cost to keep must be in (0, 1], have %g", keep)
	}
	th := m.Threshold
	if th == 0 {
		th = 1e-2
	}
	alive = make([]int, len(m.layers))
	for i, l := range m.layers {
		l.Scores = m.channelSizes(g, l)
		for _, v := range l.Scores {
			if v > th {
				alive[i]++
			}
		}
		alive[i] = max(alive[i], 1)
	}
	at := func(w float64) (*Plan, float64, error) {
		p := &Plan{Layers: m.layers, Keep: make([][]bool, len(m.layers))}
		for i, l := range m.layers {
			p.Keep[i] = make([]bool, l.Units)
			keepBest(l, p.Keep[i], min(l.Units, max(1, int(math.Round(w*float64(alive[i]))))))
		}
		c, err := PlanCost(m.Cost, g, p)
		return p, c, err
	}
	// The largest ω (to 1/256 of the range) whose plan meets the target.
	hi := 1.0
	for i, l := range m.layers {
		hi = max(hi, float64(l.Units)/float64(alive[i]))
	}
	lo := 0.0
	for range 24 {
		mid := (lo + hi) / 2
		_, c, err := at(mid)
		if err != nil {
			return nil, nil, 0, err
		}
		if c <= keep {
			lo = mid
		} else {
			hi = mid
		}
	}
	plan, _, err = at(lo)
	return plan, alive, lo, err
}
