package recipe

import (
	"fmt"
	"io"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// Lottery is iterative magnitude pruning with rewinding (Frankle &
// Carbin 2019, "The Lottery Ticket Hypothesis"; rewinding to step k:
// Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket
// Hypothesis"): train, prune a fraction of what remains, reset the
// survivors to their rewind values, repeat; then train the ticket. With
// Control, a random re-initialisation under the same mask is trained
// too. Every training runs the fine-tuning epochs and is recorded in the
// report's Lottery runs; the training is the schedule's own, so the
// recovery's Step is not called.
type Lottery struct {
	Ratio       float64
	Rounds      int    // 0: 3
	RewindSteps int    // rewind to the weights after this many optimiser steps (0: to initialisation)
	Control     bool   // train the random re-initialisation control
	Seed        uint64 // the control's initialisation is Seed + 1
}

func (Lottery) Name() string  { return "lottery" }
func (Lottery) Gradual() bool { return true }

func (l Lottery) Validate(r *Recipe) error { return validateGradual(r, l.Name()) }

func (l Lottery) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	rounds := l.Rounds
	if rounds == 0 {
		rounds = 3
	}
	g := p.Graph
	var rewind *graph.Graph
	done := s.resumedRound()
	switch {
	case s.resuming() && s.Env.Resume.Rewind != nil:
		rewind = g.Clone()
		if err := setParamValues(rewind, s.Env.Resume.Rewind); err != nil {
			return nil, err
		}
	case l.RewindSteps == 0:
		rewind = g.Clone()
	}
	if p.Plan == nil {
		if err := p.Step(0); err != nil {
			return nil, err
		}
	}
	for k, target := range prune.IterativeTargets(l.Ratio, rounds) {
		if k < done {
			continue
		}
		var aerr error
		run := fmt.Sprintf("round %d", k+1)
		if k == 0 {
			run = "dense"
		}
		inside := &trackedPhase{p: p, phase: k, rewind: func() *graph.Graph { return rewind }}
		err := s.fitTracked(run, 1-p.Plan.Ratio(), g, func(t *train.Trainer) {
			s.HoldMasks(p, &aerr)(t)
			if rewind != nil {
				return
			}
			// Counted by the trainer, so that a resumed training
			// still rewinds to the same step.
			t.On(train.AfterStep, func(st *train.State) error {
				if st.Step == l.RewindSteps {
					rewind = g.Clone()
				}
				return nil
			})
		}, inside)
		if err != nil {
			return nil, err
		}
		if aerr != nil {
			return nil, aerr
		}
		if rewind == nil {
			return nil, fieldErr("schedule.rewind_steps", "lottery: training had fewer than %d steps to rewind to", l.RewindSteps)
		}
		if err := p.Step(target); err != nil {
			return nil, err
		}
		copyParams(g, rewind)
		if err := p.Masks.Apply(g); err != nil {
			return nil, err
		}
		s.Log(fmt.Sprintf("lottery round %d/%d: ratio %.4f, rewound", k+1, rounds, p.Plan.Ratio()))
		if err := s.checkpoint(p, boundary{round: k + 1, rewind: rewind}); err != nil {
			return nil, err
		}
	}
	if l.Control && done <= rounds {
		c := g.Clone()
		prune.Reinit(c, l.Seed+1)
		if err := p.Masks.Apply(c); err != nil {
			return nil, err
		}
		var aerr error
		cp := &prune.Pruner{Masks: p.Masks}
		// The control trains a copy: interrupted, it starts over.
		if err := s.fitTracked("control", 1-p.Plan.Ratio(), c, s.HoldMasks(cp, &aerr), nil); err != nil {
			return nil, err
		}
		acc, err := s.Accuracy(c)
		if err != nil {
			return nil, err
		}
		s.Metrics().AccuracyReinit = acc
		if err := s.checkpoint(p, boundary{round: rounds + 1, rewind: rewind}); err != nil {
			return nil, err
		}
	}
	if done > rounds+1 {
		return nil, nil
	}
	var aerr error
	ticket := &trackedPhase{p: p, phase: rounds + 1, rewind: func() *graph.Graph { return rewind }}
	if err := s.fitTracked("ticket", 1-p.Plan.Ratio(), g, s.HoldMasks(p, &aerr), ticket); err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	return nil, s.checkpoint(p, boundary{round: rounds + 2, rewind: rewind})
}

// TrainingRun is one training of a lottery-ticket experiment: the network
// at one pruning level, with its test accuracy after every epoch.
type TrainingRun struct {
	Name          string    `json:"name"`           // dense, round K, ticket or control
	Remaining     float64   `json:"remaining"`      // fraction of the prunable weights kept
	EpochAccuracy []float64 `json:"epoch_accuracy"` // test top-1 after each epoch
}

// trackedPhase lets a lottery training of p.Graph checkpoint inside: the
// checkpoint's Round while it trains, and the rewind weights so far.
type trackedPhase struct {
	p      *prune.Pruner
	phase  int
	rewind func() *graph.Graph
}

// fitTracked trains g for the fine-tuning epochs like fit, measuring test
// accuracy after every epoch (when there is a test split) into the
// report's Lottery runs: whether a ticket reaches the dense accuracy
// within the dense epochs is the lottery ticket's claim. With ph, the
// training checkpoints inside and a resumed run continues inside it.
func (s *Session) fitTracked(name string, remaining float64, g *graph.Graph, attach func(*train.Trainer), ph *trackedPhase) error {
	run := TrainingRun{Name: name, Remaining: remaining}
	per := s.StepsPerEpoch()
	var everr error
	if ph != nil {
		if c := s.Env.Resume; s.insideRound(ph.phase) && c.Partial != nil && c.Partial.Name == name {
			run.EpochAccuracy = slices.Clone(c.Partial.EpochAccuracy)
			s.fitResume = c.Trainer
		}
		s.inFit = &fitCheckpoint{p: ph.p, at: func() (boundary, bool) {
			part := run
			part.EpochAccuracy = slices.Clone(run.EpochAccuracy)
			// An epoch whose accuracy was not measured cannot be resumed.
			return boundary{round: ph.phase, rewind: ph.rewind(), partial: &part}, everr == nil
		}}
		defer func() { s.inFit, s.fitResume = nil, nil }()
	}
	err := s.Fit(g, s.Recipe.Finetune.Epochs, func(t *train.Trainer) {
		attach(t)
		if s.Env.Test == nil {
			return
		}
		t.On(train.AfterStep, func(st *train.State) error {
			if st.Step%per == 0 && everr == nil {
				var acc float64
				acc, everr = s.Evaluate(g)
				run.EpochAccuracy = append(run.EpochAccuracy, acc)
			}
			return nil
		})
	})
	if err == nil {
		err = everr
	}
	if err != nil {
		return err
	}
	if n := len(run.EpochAccuracy); n > 0 {
		s.Log(fmt.Sprintf("%s (%.1f%% of the weights): test top-1 %.2f%%", name, 100*remaining, 100*run.EpochAccuracy[n-1]))
	}
	s.Report.Lottery = append(s.Report.Lottery, run)
	return nil
}

// LotteryPlot draws the test accuracy per epoch of the dense network, the
// ticket and its control from a lottery report.
func LotteryPlot(w io.Writer, title string, runs []TrainingRun) error {
	p := Plot{Title: title, XLabel: "epoch"}
	for _, r := range runs {
		if r.Name != "dense" && r.Name != "ticket" && r.Name != "control" {
			continue
		}
		s := Series{Name: fmt.Sprintf("%s %.3g%%", r.Name, 100*r.Remaining), Y: r.EpochAccuracy}
		for k := range r.EpochAccuracy {
			s.X = append(s.X, float64(k+1))
		}
		p.Series = append(p.Series, s)
	}
	if len(p.Series) == 0 {
		return fmt.Errorf("lottery plot: no test accuracy was measured (no test split)")
	}
	return p.Draw(w)
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
