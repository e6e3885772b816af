package recipe

import (
	"maps"
	"slices"

	"github.com/shearsml/shears/prune"
)

// Recovery is how a run wins back the accuracy that pruning lost: none,
// fine-tuning with the masks held (FineTune), or training the pruned
// architecture from scratch (FromScratch), or refitting the kept weights
// by least squares on calibration images (Reconstruct). Distillation
// would be one more type registered in Recoveries.
//
// Recoveries live here with the schedules, since they train and evaluate
// through the Session.
type Recovery interface {
	// Name is the recovery as the report names it.
	Name() string
	// Step recovers after one pruning step of a schedule (one-shot: once;
	// iterative: after every round), with p's masks on p.Graph.
	Step(s *Session, p *prune.Pruner) error
	// Finish runs once the schedule has ended and the result is slimmed
	// (s.Report.Slim, for structured granularities). It returns the final
	// test accuracy, nil when the model was not trained after pruning or
	// there is no test split.
	Finish(s *Session, p *prune.Pruner) (*float64, error)
}

// Recoveries maps each recovery name to its constructor: the one place a
// new recovery is registered. A recipe selects one with its finetune
// section (RecoveryName).
var Recoveries = map[string]func(r *Recipe) Recovery{
	"none":         func(r *Recipe) Recovery { return NoRecovery{} },
	"finetune":     func(r *Recipe) Recovery { return FineTune{Epochs: r.Finetune.Epochs} },
	"from_scratch": func(r *Recipe) Recovery { return FromScratch{Epochs: r.Finetune.Epochs, Seed: r.Seed + 1} },
	"distill":      func(r *Recipe) Recovery { return newDistill(r) },
	"reconstruct": func(r *Recipe) Recovery {
		f := r.Finetune
		return Reconstruct{Samples: f.ReconstructSamples, BN: !f.ReconstructKeepBN, Epochs: f.Epochs, Seed: r.Seed}
	},
}

// RecoveryNames lists the registered recoveries, sorted.
func RecoveryNames() []string { return slices.Sorted(maps.Keys(Recoveries)) }

// RecoveryName is the recovery a recipe asks for: reconstruct when
// finetune.reconstruct is set (then fine-tuning for its epochs),
// from_scratch when finetune.from_scratch is set, distill when
// finetune.distill is, finetune with epochs, none without.
func (r *Recipe) RecoveryName() string {
	switch {
	case r.Finetune.Reconstruct:
		return "reconstruct"
	case r.Finetune.FromScratch:
		return "from_scratch"
	case r.Finetune.Distill:
		return "distill"
	case r.Finetune.Epochs > 0:
		return "finetune"
	}
	return "none"
}

// NewRecovery builds the recipe's recovery.
func NewRecovery(r *Recipe) (Recovery, error) {
	name := r.RecoveryName()
	mk, ok := Recoveries[name]
	if !ok {
		return nil, fieldErr("finetune", "no recovery %q registered", name)
	}
	return mk(r), nil
}

// NoRecovery leaves the pruned model as it is.
type NoRecovery struct{}

func (NoRecovery) Name() string                                     { return "none" }
func (NoRecovery) Step(*Session, *prune.Pruner) error               { return nil }
func (NoRecovery) Finish(*Session, *prune.Pruner) (*float64, error) { return nil, nil }

// FineTune trains the pruned model for Epochs with its masks held
// (prune.Masks.Attach), after every pruning step.
type FineTune struct{ Epochs int }

func (FineTune) Name() string { return "finetune" }

func (f FineTune) Step(s *Session, p *prune.Pruner) error {
	var aerr error
	if err := s.Fit(p.Graph, f.Epochs, s.HoldMasks(p, &aerr)); err != nil {
		return err
	}
	return aerr
}

func (FineTune) Finish(s *Session, p *prune.Pruner) (*float64, error) { return s.Accuracy(p.Graph) }

// FromScratch re-initialises the pruned architecture (prune.Reinit with
// Seed) and trains it for Epochs once the schedule has ended: the
// slimmed graph for structured granularities (the masked model is then no
// output), the masked one with its masks held otherwise (Liu et al. 2019,
// "Rethinking the Value of Network Pruning").
type FromScratch struct {
	Epochs int
	Seed   uint64
}

func (FromScratch) Name() string                       { return "from_scratch" }
func (FromScratch) Step(*Session, *prune.Pruner) error { return nil }

func (f FromScratch) Finish(s *Session, p *prune.Pruner) (*float64, error) {
	if slim := s.Report.Slim; slim != nil {
		prune.Reinit(slim, f.Seed)
		s.Report.Masked = nil
		if err := s.Fit(slim, f.Epochs, nil); err != nil {
			return nil, err
		}
		return s.Accuracy(slim)
	}
	g := p.Graph
	prune.Reinit(g, f.Seed)
	var aerr error
	if err := s.Fit(g, f.Epochs, s.HoldMasks(p, &aerr)); err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	return s.Accuracy(g)
}
