package prune

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/train"
)

// Pruner prunes one graph, possibly several times to growing ratios: the
// state that one-shot, iterative, AGP and lottery-ticket schedules share.
// Each Step rescores the current weights, keeps what earlier steps removed
// removed, and updates Masks in place, so a trainer the masks are attached
// to (Masks.Attach) holds the new ones from its next step on.
type Pruner struct {
	Graph     *graph.Graph
	Layers    []*Layer
	Criterion Criterion
	Alloc     Allocator // each Step plans at its ratio (nil: Allocation{}, uniform)
	Normalize string
	Ctx       *Context
	Masks     Masks
	Plan      *Plan // the last step's
	// Warnings collects allocation warnings, each once; OnWarning, when
	// set, hears each as it first comes.
	Warnings  []string
	OnWarning func(string)
}

// Step prunes to ratio (a fraction of units, see Allocation).
func (p *Pruner) Step(ratio float64) error {
	if p.Plan != nil {
		p.Ctx.Prior = p.Plan.Pruned()
	}
	if err := Score(p.Ctx, p.Criterion, p.Layers, p.Normalize); err != nil {
		return err
	}
	alloc := p.Alloc
	if alloc == nil {
		alloc = Allocation{} // the same ratio in every layer
	}
	plan, err := alloc.Plan(p.Layers, ratio)
	if err != nil {
		return err
	}
	m, err := plan.Apply(p.Graph)
	if err != nil {
		return err
	}
	if p.Masks == nil {
		p.Masks = Masks{}
	}
	clear(p.Masks)
	for k, v := range m {
		p.Masks[k] = v
	}
	p.Plan = plan
	for _, w := range plan.Warnings {
		if !contains(p.Warnings, w) {
			p.Warnings = append(p.Warnings, w)
			if p.OnWarning != nil {
				p.OnWarning(w)
			}
		}
	}
	return nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// IterativeTargets returns the ratio after each of rounds rounds that
// reach final, removing the same fraction of what remains in each round:
// s_k = 1 − (1 − final)^(k/rounds). Han et al. 2015 ("Learning both
// Weights and Connections for Efficient Neural Networks") prune and
// retrain in such rounds; Frankle & Carbin 2019 prune p% of the remaining
// weights per round, the same rule.
func IterativeTargets(final float64, rounds int) []float64 {
	rounds = max(rounds, 1)
	s := make([]float64, rounds)
	for k := range s {
		s[k] = 1 - math.Pow(1-final, float64(k+1)/float64(rounds))
	}
	s[rounds-1] = final
	return s
}

// AGP is automated gradual pruning (Zhu & Gupta 2017, "To prune, or not
// to prune: exploring the efficacy of pruning for model compression"):
// during training the sparsity grows from Initial to Final over N pruning
// steps Every optimiser steps apart, starting at step Start,
//
//	s_t = s_f + (s_i − s_f)·(1 − (t − t0)/(n·Δt))³,
//
// fast at first, while redundant weights abound, and slowly at the end.
type AGP struct {
	Initial, Final float64
	Start          int // t0
	N              int // number of pruning steps n
	Every          int // Δt
}

// At returns the target sparsity at optimiser step t.
func (a AGP) At(t int) float64 {
	if t < a.Start {
		return 0
	}
	span := float64(a.N * max(a.Every, 1))
	x := min(float64(t-a.Start)/span, 1)
	return a.Final + (a.Initial-a.Final)*math.Pow(1-x, 3)
}

// Validate reports a nonsensical schedule.
func (a AGP) Validate() error {
	if err := CheckRatio("AGP initial sparsity", a.Initial); err != nil {
		return err
	}
	if err := CheckRatio("AGP final sparsity", a.Final); err != nil {
		return err
	}
	if a.Initial > a.Final || a.N < 1 || a.Every < 1 || a.Start < 0 {
		return fmt.Errorf("AGP: want 0 ≤ initial ≤ final < 1, n ≥ 1, every ≥ 1, start ≥ 0; have %+v", a)
	}
	return nil
}

// Attach makes t prune with p on AGP's schedule: at steps t0, t0 + Δt, …,
// t0 + nΔt (the trainer's optimiser steps, State.Step, so a resumed
// training goes on where it stopped) p.Step runs at s_t, after the
// optimiser step and earlier AfterStep callbacks. Attach the masks (p.Masks,
// made by a first p.Step) to t before, so pruned weights stay zero between
// updates. The first error stops the updates and is returned by the
// returned function.
func (a AGP) Attach(t *train.Trainer, p *Pruner) (errf func() error) {
	var err error
	t.On(train.AfterStep, func(st *train.State) error {
		// The trainer's step count, so that a resumed training goes on
		// where it stopped (a fresh one counts from 1 here, as before).
		step := st.Step
		if err != nil || step < a.Start || (step-a.Start)%max(a.Every, 1) != 0 || step > a.Start+a.N*a.Every {
			return nil
		}
		err = p.Step(a.At(step))
		return nil
	})
	return func() error { return err }
}
