package prune

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/train"
)

// Regularizer adds the gradient of a sparsity penalty to a program's
// parameter gradients after each backward pass, before the optimiser step
// (train.AfterBackward): training then drives what the penalty groups
// towards zero, and pruning removes it with little loss.
type Regularizer interface {
	Name() string
	AddGrad(g *graph.Graph, prog *cpu.Program)
}

// AttachRegularizer makes t add r's gradient after every backward pass,
// after the train.AfterBackward callbacks already registered. Attach masks
// after the regulariser, so that masked gradients stay zero.
func AttachRegularizer(t *train.Trainer, r Regularizer) {
	t.On(train.AfterBackward, func(s *train.State) error {
		r.AddGrad(s.Graph, s.Program)
		return nil
	})
}

// L1 is λ·Σ|w| over the conv and linear weights, pushing single weights
// to zero before unstructured pruning.
type L1 struct{ Lambda float64 }

func (r L1) Name() string { return fmt.Sprintf("l1(%g)", r.Lambda) }

func (r L1) AddGrad(g *graph.Graph, prog *cpu.Program) {
	for _, p := range Weights(g) {
		addSign(prog, p, r.Lambda)
	}
}

// BNL1 is λ·Σ|γ| over the BatchNorm scales: the sparsity training of
// Network Slimming (Liu et al. 2017, "Learning Efficient Convolutional
// Networks through Network Slimming", λ = 1e-4 to 1e-5), after which the
// channels with the smallest |γ| go (criterion bn, global).
type BNL1 struct{ Lambda float64 }

func (r BNL1) Name() string { return fmt.Sprintf("bn-l1(%g)", r.Lambda) }

func (r BNL1) AddGrad(g *graph.Graph, prog *cpu.Program) {
	params := g.ParamMap()
	for name := range bnScales(g) {
		if p := params[name]; p != nil && p.Trainable {
			addSign(prog, p, r.Lambda)
		}
	}
}

func addSign(prog *cpu.Program, p *graph.Param, lambda float64) {
	gr := prog.Grad(p.Name)
	if gr == nil {
		return
	}
	l := float32(lambda)
	for i, w := range p.Value.Data {
		switch {
		case w > 0:
			gr.Data[i] += l
		case w < 0:
			gr.Data[i] -= l
		}
	}
}

// GroupLasso is structured sparsity learning (Wen et al. 2016, "Learning
// Structured Sparsity in Deep Neural Networks"): λ·Σ_groups ‖w_group‖₂
// over the conv and linear weights, with groups of one of three kinds:
// "filter" (one output channel), "channel" (one input channel across all
// filters) or "shape" (one input channel and kernel position across all
// filters). The gradient of ‖w‖₂ is w/‖w‖₂ (zero for an all-zero group).
type GroupLasso struct {
	Lambda float64
	Kind   string
}

func (r GroupLasso) Name() string { return fmt.Sprintf("group-lasso-%s(%g)", r.Kind, r.Lambda) }

// ParseRegularizer reads l1, bn-l1, group-lasso-filter,
// group-lasso-channel or group-lasso-shape with a strength λ.
func ParseRegularizer(name string, lambda float64) (Regularizer, error) {
	if !(lambda > 0) {
		return nil, fmt.Errorf("regulariser %s: λ must be > 0, have %g", name, lambda)
	}
	switch name {
	case "l1":
		return L1{lambda}, nil
	case "bn-l1":
		return BNL1{lambda}, nil
	case "group-lasso-filter", "group-lasso-channel", "group-lasso-shape":
		return GroupLasso{lambda, name[len("group-lasso-"):]}, nil
	}
	return nil, fmt.Errorf("unknown regulariser %q (l1, bn-l1, group-lasso-filter, group-lasso-channel, group-lasso-shape)", name)
}

func (r GroupLasso) AddGrad(g *graph.Graph, prog *cpu.Program) {
	for _, p := range Weights(g) {
		gr := prog.Grad(p.Name)
		if gr == nil {
			continue
		}
		unit, n := lassoUnits(p, r.Kind)
		norm := make([]float64, n)
		for i, w := range p.Value.Data {
			norm[unit[i]] += float64(w) * float64(w)
		}
		for u := range norm {
			norm[u] = math.Sqrt(norm[u])
		}
		for i, w := range p.Value.Data {
			if nu := norm[unit[i]]; nu > 0 {
				gr.Data[i] += float32(r.Lambda * float64(w) / nu)
			}
		}
	}
}

// lassoUnits assigns each element of p to its group.
func lassoUnits(p *graph.Param, kind string) ([]int32, int) {
	if kind == "shape" {
		u, n, _ := Blocks{0, 1}.Units(p)
		return u, n
	}
	o, i := p.WeightAxes()
	axis := o
	if kind == "channel" {
		axis = i
	}
	outer, n, inner := axisBlocks(p.Value.Shape, axis)
	unit := make([]int32, p.Value.Len())
	for a := range outer {
		for c := range n {
			for k := range inner {
				unit[(a*n+c)*inner+k] = int32(c)
			}
		}
	}
	return unit, n
}
