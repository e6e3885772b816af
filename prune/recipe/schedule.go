package recipe

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// Schedule says when pruning happens during a run: once (OneShot), in
// rounds with recovery between them (Iterative), gradually during
// training (AGP), or by training, pruning and rewinding (Lottery).
//
// Schedules live here, not in the pruning core, because they interleave
// pruning with training and evaluation, which are this package's Session;
// the core keeps their building blocks (prune.Pruner.Step,
// prune.IterativeTargets, prune.AGP).
type Schedule interface {
	// Name is the schedule's recipe name (schedule.kind).
	Name() string
	// Gradual reports whether the schedule prunes in several steps with
	// training between them: it then needs data and at least one epoch,
	// and a granularity with a fixed sparsity (N:M) cannot use it.
	Gradual() bool
	// Validate checks the recipe's settings for this schedule; errors
	// are *FieldError naming the recipe field.
	Validate(r *Recipe) error
	// Prune runs the schedule on p to the recipe's target and returns the
	// test accuracy right after the last pruning step, before recovery
	// (nil when not measured). Schedules that recover between steps call
	// s.Recovery.Step.
	Prune(s *Session, p *prune.Pruner) (accPruned *float64, err error)
}

// Schedules maps each schedule.kind to its constructor: the one place a
// new schedule is registered. The recipe parser and the CLI read it.
var Schedules = map[string]func(r *Recipe) Schedule{
	"oneshot":   func(r *Recipe) Schedule { return OneShot{Ratio: r.Target.Ratio, Sensitivity: r.Sensitivity} },
	"iterative": func(r *Recipe) Schedule { return Iterative{Ratio: r.Target.Ratio, Rounds: r.Schedule.Rounds} },
	"agp": func(r *Recipe) Schedule {
		s := r.Schedule
		return AGP{Initial: s.Initial, Final: r.Target.Ratio, Start: s.Start, Steps: s.Rounds, Every: s.Every, Epochs: r.Finetune.Epochs}
	},
	"sfp": func(r *Recipe) Schedule {
		return SFP{Ratio: r.Target.Ratio, Every: r.Schedule.Every, Epochs: r.Finetune.Epochs}
	},
	"dns": func(r *Recipe) Schedule { return DNS{Ratio: r.Target.Ratio, Epochs: r.Finetune.Epochs, Seed: r.Seed} },
	"sparsevd": func(r *Recipe) Schedule {
		return SparseVD{Ratio: r.Target.Ratio, Epochs: r.Finetune.Epochs, Warmup: r.Schedule.Rounds, LR: r.Finetune.LR, Seed: r.Seed}
	},
	"morphnet": func(r *Recipe) Schedule {
		s := r.Schedule
		return MorphNet{Ratio: r.Target.Ratio, Lambda: s.Lambda, Epochs: s.RegEpochs, Threshold: s.Threshold, Cost: s.Cost}
	},
	"lottery": func(r *Recipe) Schedule {
		s := r.Schedule
		return Lottery{Ratio: r.Target.Ratio, Rounds: s.Rounds, RewindSteps: s.RewindSteps, Control: s.Reinit, Seed: r.Seed}
	},
}

// ScheduleNames lists the registered schedules, sorted.
func ScheduleNames() []string { return slices.Sorted(maps.Keys(Schedules)) }

// NewSchedule builds the recipe's schedule (schedule.kind).
func NewSchedule(r *Recipe) (Schedule, error) {
	mk, ok := Schedules[r.Schedule.Kind]
	if !ok {
		return nil, fieldErr("schedule.kind", "unknown schedule %q (%s)", r.Schedule.Kind, strings.Join(ScheduleNames(), ", "))
	}
	return mk(r), nil
}

// validateGradual checks what every gradual schedule needs: rounds not
// negative, training between steps, and no training from scratch (which
// starts over after the last step, so rounds of recovery would be lost).
func validateGradual(r *Recipe, name string) error {
	if r.Schedule.Rounds < 0 {
		return fieldErr("schedule.rounds", "must be ≥ 1, have %d", r.Schedule.Rounds)
	}
	if r.Finetune.Epochs < 1 {
		return fieldErr("finetune.epochs", "schedule %s trains: want ≥ 1 epoch", name)
	}
	if r.Finetune.FromScratch {
		return fieldErr("finetune.from_scratch", "goes with the oneshot schedule only")
	}
	return nil
}

// OneShot prunes once, to the target ratio or to per-layer ratios from a
// sensitivity analysis, then recovers once.
type OneShot struct {
	Ratio       float64
	Sensitivity *SensitivitySpec // nil: prune every layer to Ratio
}

func (OneShot) Name() string             { return "oneshot" }
func (OneShot) Gradual() bool            { return false }
func (OneShot) Validate(r *Recipe) error { return nil }

func (o OneShot) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	if s.resumedRound() == 1 {
		return s.Env.Resume.AccPruned, nil
	}
	// The fine-tuning checkpoints inside unless a sensitivity analysis
	// came before: resumed, it would score the fine-tuned weights.
	inside := o.Sensitivity == nil
	var acc *float64
	if inside && s.insideRound(0) {
		acc = s.Env.Resume.RoundPruned
	} else {
		if o.Sensitivity != nil {
			if err := s.sensitivity(p, o.Sensitivity); err != nil {
				return nil, err
			}
		} else if err := p.Step(o.Ratio); err != nil {
			return nil, err
		}
		var err error
		if acc, err = s.Accuracy(p.Graph); err != nil {
			return nil, err
		}
	}
	if err := s.recover(p, boundary{round: 0, roundPruned: acc}, inside, s.insideRound(0)); err != nil {
		return nil, err
	}
	return acc, s.checkpoint(p, boundary{round: 1, accPruned: acc})
}

// Iterative prunes in rounds to growing ratios (prune.IterativeTargets,
// Han et al. 2015), recovering after each.
type Iterative struct {
	Ratio  float64
	Rounds int // 0: 3
}

func (Iterative) Name() string                { return "iterative" }
func (Iterative) Gradual() bool               { return true }
func (it Iterative) Validate(r *Recipe) error { return validateGradual(r, it.Name()) }

func (it Iterative) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	rounds := it.Rounds
	if rounds == 0 {
		rounds = 3
	}
	var acc *float64
	if s.resuming() {
		acc = s.Env.Resume.AccPruned
	}
	for k, target := range prune.IterativeTargets(it.Ratio, rounds) {
		if k < s.resumedRound() {
			continue
		}
		var a *float64
		if s.insideRound(k) {
			a = s.Env.Resume.RoundPruned // stepped and measured before the checkpoint
		} else {
			if err := p.Step(target); err != nil {
				return nil, err
			}
			var err error
			if a, err = s.Accuracy(p.Graph); err != nil {
				return nil, err
			}
		}
		if k == rounds-1 {
			acc = a
		}
		if err := s.recover(p, boundary{round: k, accPruned: acc, roundPruned: a}, true, s.insideRound(k)); err != nil {
			return nil, err
		}
		// Han et al. report each round: accuracy pruned and retrained.
		line := fmt.Sprintf("round %d/%d: ratio %.4f", k+1, rounds, p.Plan.Ratio())
		if a != nil {
			after, err := s.Accuracy(p.Graph)
			if err != nil {
				return nil, err
			}
			line += fmt.Sprintf(", test top-1 pruned %.2f%%, fine-tuned %.2f%%", 100**a, 100**after)
		}
		s.Log(line)
		if err := s.checkpoint(p, boundary{round: k + 1, accPruned: acc}); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// AGP trains for Epochs while automated gradual pruning (prune.AGP, Zhu &
// Gupta 2017) raises the sparsity from Initial to Final: the training is
// the schedule's own, so the recovery's Step is not called. It
// checkpoints inside that training (after every epoch, and where an
// interrupt stops it), and a resumed run continues inside it.
type AGP struct {
	Initial, Final float64
	Start          int // first pruning step
	Steps          int // number of pruning steps n (0: 10)
	Every          int // optimiser steps between pruning steps (0: n steps over the first 3/4 of training)
	Epochs         int
}

func (AGP) Name() string  { return "agp" }
func (AGP) Gradual() bool { return true }

func (a AGP) Validate(r *Recipe) error {
	if err := validateGradual(r, a.Name()); err != nil {
		return err
	}
	// The step count is not known before the data: check with the
	// smallest legal spacing.
	ag := prune.AGP{Initial: a.Initial, Final: a.Final, Start: a.Start, N: max(a.Steps, 1), Every: max(a.Every, 1)}
	if err := ag.Validate(); err != nil {
		return &FieldError{Path: "schedule", Err: err}
	}
	return nil
}

func (a AGP) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	if s.resumedRound() == 1 {
		return nil, nil
	}
	n := a.Steps
	if n == 0 {
		n = 10
	}
	steps := s.StepsPerEpoch() * a.Epochs
	every := a.Every
	if every == 0 {
		every = max(1, (steps*3/4-a.Start)/n)
	}
	ag := prune.AGP{Initial: a.Initial, Final: a.Final, Start: a.Start, N: n, Every: every}
	if err := ag.Validate(); err != nil {
		return nil, &FieldError{Path: "schedule", Err: err}
	}
	if ag.Start+ag.N*ag.Every > steps {
		s.Warn(fmt.Sprintf("AGP: the schedule ends at step %d but training has %d steps; the final sparsity is set after training", ag.Start+ag.N*ag.Every, steps))
	}
	// A resumed run continues its training where it checkpointed, with
	// the masks of that moment (restored by Run).
	var resume *train.Checkpoint
	if s.resuming() {
		resume = s.Env.Resume.Trainer
	}
	if resume == nil {
		if err := p.Step(ag.At(0)); err != nil {
			return nil, err
		}
	}
	var aerr error
	perr := func() error { return nil }
	s.inFit = &fitCheckpoint{p: p, at: func() (boundary, bool) { return boundary{}, true }} // checkpoints inside the training
	err := s.fitFrom(p.Graph, a.Epochs, resume, func(t *train.Trainer) {
		aerr = p.Masks.Attach(t)
		perr = ag.Attach(t, p)
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	if err := perr(); err != nil {
		return nil, err
	}
	if p.Plan.Ratio() < ag.Final-1e-9 {
		if err := p.Step(ag.Final); err != nil {
			return nil, err
		}
	}
	return nil, s.checkpoint(p, boundary{round: 1})
}
