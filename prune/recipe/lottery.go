package recipe

import (
	"fmt"
	"io"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// lottery runs iterative magnitude pruning with rewinding (Frankle &
// Carbin 2019, "The Lottery Ticket Hypothesis"; rewinding to step k:
// Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket
// Hypothesis"): train, prune a fraction of what remains, reset the
// survivors to their rewind values, repeat; then train the ticket. With
// the control, a random re-initialisation under the same mask is trained
// too.
func (ru *runner) lottery(p *prune.Pruner) error {
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
	for k, target := range prune.IterativeTargets(ru.r.Target.Ratio, rounds) {
		var aerr error
		step := 0
		run := fmt.Sprintf("round %d", k+1)
		if k == 0 {
			run = "dense"
		}
		err := ru.fitTracked(run, 1-p.Plan.Ratio(), g, func(t *train.Trainer) {
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
		prune.Reinit(c, ru.r.Seed+1)
		if err := p.Masks.Apply(c); err != nil {
			return err
		}
		var aerr error
		cp := &prune.Pruner{Masks: p.Masks}
		if err := ru.fitTracked("control", 1-p.Plan.Ratio(), c, holdMasks(cp, &aerr)); err != nil {
			return err
		}
		acc, err := ru.accuracy(c)
		if err != nil {
			return err
		}
		ru.metrics().AccuracyReinit = acc
	}
	var aerr error
	if err := ru.fitTracked("ticket", 1-p.Plan.Ratio(), g, holdMasks(p, &aerr)); err != nil {
		return err
	}
	return aerr
}

// TrainingRun is one training of a lottery-ticket experiment: the network
// at one pruning level, with its test accuracy after every epoch.
type TrainingRun struct {
	Name          string    `json:"name"`           // dense, round K, ticket or control
	Remaining     float64   `json:"remaining"`      // fraction of the prunable weights kept
	EpochAccuracy []float64 `json:"epoch_accuracy"` // test top-1 after each epoch
}

// fitTracked trains g for the fine-tuning epochs like fit, measuring test
// accuracy after every epoch (when there is a test split) into the
// report's Lottery runs: whether a ticket reaches the dense accuracy
// within the dense epochs is the lottery ticket's claim.
func (ru *runner) fitTracked(name string, remaining float64, g *graph.Graph, attach func(*train.Trainer)) error {
	run := TrainingRun{Name: name, Remaining: remaining}
	per := ru.stepsPerEpoch()
	var everr error
	step := 0
	err := ru.fit(g, ru.r.Finetune.Epochs, func(t *train.Trainer) {
		attach(t)
		if ru.env.Test == nil {
			return
		}
		prev := t.AfterStep
		t.AfterStep = func() {
			if prev != nil {
				prev()
			}
			if step++; step%per == 0 && everr == nil {
				var acc float64
				acc, everr = ru.evaluate(g)
				run.EpochAccuracy = append(run.EpochAccuracy, acc)
			}
		}
	})
	if err == nil {
		err = everr
	}
	if err != nil {
		return err
	}
	if n := len(run.EpochAccuracy); n > 0 {
		ru.log(fmt.Sprintf("%s (%.1f%% of the weights): test top-1 %.2f%%", name, 100*remaining, 100*run.EpochAccuracy[n-1]))
	}
	ru.rep.Lottery = append(ru.rep.Lottery, run)
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
