package recipe

import (
	"fmt"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// SFP is Soft Filter Pruning (He et al. 2018, prune.SoftFilter) as a
// schedule: Epochs of training (finetune.epochs) in which the filters
// with the lowest scores (criterion l2 in the paper) are zeroed to Ratio
// at the end of every Every-th epoch (schedule.every, default 1) and stay
// trainable; the filters zeroed last are removed physically. The training
// is the schedule's own: the recovery's Step is not called. It needs a
// structured granularity and data.
type SFP struct {
	Ratio  float64
	Every  int
	Epochs int
}

func (SFP) Name() string  { return "sfp" }
func (SFP) Gradual() bool { return true }

func (sf SFP) Validate(r *Recipe) error {
	if err := validateGradual(r, sf.Name()); err != nil {
		return err
	}
	if gran, err := prune.ParseGranularity(r.Method.Granularity); err == nil && !gran.Structured() {
		return fieldErr("method.granularity", "schedule sfp zeroes whole filters: granularity %s is not supported (filter or channel)", gran.Name())
	}
	if err := (prune.SoftFilter{Ratio: sf.Ratio, Every: sf.Every}).Validate(); err != nil {
		return &FieldError{Path: "schedule.every", Err: err}
	}
	return nil
}

func (sf SFP) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	if s.resumedRound() == 1 {
		return s.Env.Resume.AccPruned, nil
	}
	soft := prune.SoftFilter{Ratio: sf.Ratio, Every: sf.Every}
	s.Log(fmt.Sprintf("soft filter pruning: zeroing %g of the filters every %d epoch(s) of %d", sf.Ratio, max(sf.Every, 1), sf.Epochs))
	// No checkpoint inside: a checkpoint's masks would zero whole groups
	// where SFP zeroed filters only, so a resumed run starts it again.
	if err := s.Fit(p.Graph, sf.Epochs, func(t *train.Trainer) { soft.Attach(t, p) }); err != nil {
		return nil, err
	}
	acc, err := s.Accuracy(p.Graph)
	if err != nil {
		return nil, err
	}
	return acc, s.checkpoint(p, boundary{round: 1, accPruned: acc})
}

// DNS is Dynamic Network Surgery (Guo et al. 2016, prune.Surgery) as a
// schedule: a first magnitude pruning to Ratio (with the recipe's
// allocation: global or per layer) sets each layer's starting mask and
// its threshold rate c_k; then Epochs of training (finetune.epochs)
// update every weight through W⊙T while the masks are pruned and spliced
// by the two thresholds; the final masks are applied. A sparsity that
// ends below the target is a warning with the value reached. It needs
// granularity weight and data.
type DNS struct {
	Ratio  float64
	Epochs int
	Seed   uint64
}

func (DNS) Name() string  { return "dns" }
func (DNS) Gradual() bool { return true }

func (d DNS) Validate(r *Recipe) error {
	if err := validateGradual(r, d.Name()); err != nil {
		return err
	}
	if gran, err := prune.ParseGranularity(r.Method.Granularity); err == nil && gran.Name() != "weight" {
		return fieldErr("method.granularity", "schedule dns masks single weights: granularity %s is not supported (weight)", gran.Name())
	}
	return nil
}

func (d DNS) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	if s.resumedRound() == 1 {
		return s.Env.Resume.AccPruned, nil
	}
	// Pruned weights keep their values under DNS: those before the
	// first step zeroed them.
	values := paramValues(p.Graph)
	if err := p.Step(d.Ratio); err != nil {
		return nil, err
	}
	sur := prune.DefaultSurgery(d.Seed)
	var aerr error
	s.Log(fmt.Sprintf("dynamic network surgery: %d epochs from sparsity %.4f", d.Epochs, p.Plan.Ratio()))
	// No checkpoint inside: the masked weights' values are not in one,
	// so a resumed run starts the surgery again.
	if err := s.Fit(p.Graph, d.Epochs, func(t *train.Trainer) { aerr = sur.Attach(t, p, values) }); err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	if err := sur.Finish(); err != nil {
		return nil, err
	}
	if got := p.Plan.Ratio(); got < d.Ratio-0.005 {
		s.Warn(fmt.Sprintf("DNS reached sparsity %.4f, short of the target %g, in %d epochs (splicing brought weights back): train longer or raise the ratio", got, d.Ratio, d.Epochs))
	}
	acc, err := s.Accuracy(p.Graph)
	if err != nil {
		return nil, err
	}
	return acc, s.checkpoint(p, boundary{round: 1, accPruned: acc})
}
