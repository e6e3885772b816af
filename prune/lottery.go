package prune

import (
	"fmt"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/train"
)

// lottery runs iterative magnitude pruning with rewinding (Frankle &
// Carbin 2019, "The Lottery Ticket Hypothesis"; rewinding to step k:
// Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket
// Hypothesis"): train, prune a fraction of what remains, reset the
// survivors to their rewind values, repeat; then train the ticket. With
// the control, a random re-initialisation under the same mask is trained
// too.
func (ru *runner) lottery(p *Pruner) error {
	s := ru.r.Schedule
	rounds := s.Rounds
	if rounds == 0 {
		rounds = 3
	}
	g := p.Graph
	var rewind *graph.Graph
	if s.RewindSteps == 0 {
		rewind = g.Clone()
	}
	if err := p.Step(0); err != nil {
		return err
	}
	for k, target := range IterativeTargets(ru.r.Target.Ratio, rounds) {
		var aerr error
		step := 0
		err := ru.fit(g, ru.r.Finetune.Epochs, func(t *train.Trainer) {
			holdMasks(p, &aerr)(t)
			if rewind != nil {
				return
			}
			prev := t.AfterStep
			t.AfterStep = func() {
				if prev != nil {
					prev()
				}
				if step++; step == s.RewindSteps {
					rewind = g.Clone()
				}
			}
		})
		if err != nil {
			return err
		}
		if aerr != nil {
			return aerr
		}
		if rewind == nil {
			return fmt.Errorf("lottery: training had fewer than %d steps to rewind to", s.RewindSteps)
		}
		if err := p.Step(target); err != nil {
			return err
		}
		copyParams(g, rewind)
		if err := p.Masks.Apply(g); err != nil {
			return err
		}
		ru.log(fmt.Sprintf("lottery round %d/%d: ratio %.4f, rewound", k+1, rounds, p.Plan.Ratio()))
	}
	if s.Reinit {
		c := g.Clone()
		Reinit(c, ru.r.Seed+1)
		if err := p.Masks.Apply(c); err != nil {
			return err
		}
		var aerr error
		cp := &Pruner{Masks: p.Masks}
		if err := ru.fit(c, ru.r.Finetune.Epochs, holdMasks(cp, &aerr)); err != nil {
			return err
		}
		acc, err := ru.accuracy(c)
		if err != nil {
			return err
		}
		ru.metrics().AccuracyReinit = acc
	}
	var aerr error
	if err := ru.fit(g, ru.r.Finetune.Epochs, holdMasks(p, &aerr)); err != nil {
		return err
	}
	return aerr
}

// copyParams sets g's params to src's values (same names and shapes).
func copyParams(g, src *graph.Graph) {
	sp := src.ParamMap()
	for _, p := range g.Params {
		if q := sp[p.Name]; q != nil && q.Value.Len() == p.Value.Len() {
			copy(p.Value.Data, q.Value.Data)
		}
	}
}
