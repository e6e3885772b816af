package recipe

import (
	"fmt"
	"strings"

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

// MorphNet is Gordon et al.'s shrink-and-expand (prune.MorphNet) as a
// schedule: Epochs of training (schedule.reg_epochs, default 10) with the
// cost-weighted L1 on BatchNorm scales (group lasso on the filters of
// groups without BatchNorm) at Lambda (schedule.lambda, default 1e-4),
// the channels below Threshold (schedule.threshold, default 1e-2) dead,
// then a uniform expansion of the live widths to remove Ratio of the
// cost (schedule.cost: macs, the paper's FLOPs, or params), and the
// recovery (fine-tuning). It needs a structured granularity and data.
type MorphNet struct {
	Ratio, Lambda, Threshold float64
	Epochs                   int
	Cost                     string
}

func (MorphNet) Name() string  { return "morphnet" }
func (MorphNet) Gradual() bool { return true }

func (m MorphNet) Validate(r *Recipe) error {
	if err := validateGradual(r, m.Name()); err != nil {
		return err
	}
	if gran, err := prune.ParseGranularity(r.Method.Granularity); err == nil && !gran.Structured() {
		return fieldErr("method.granularity", "schedule morphnet shrinks whole channels: granularity %s is not supported (filter or channel)", gran.Name())
	}
	if m.Lambda < 0 {
		return fieldErr("schedule.lambda", "must be > 0, have %g", m.Lambda)
	}
	if m.Threshold < 0 {
		return fieldErr("schedule.threshold", "must be ≥ 0, have %g", m.Threshold)
	}
	if m.Epochs < 0 {
		return fieldErr("schedule.reg_epochs", "must be ≥ 1, have %d", m.Epochs)
	}
	switch m.Cost {
	case "", "macs", "params":
	default:
		return fieldErr("schedule.cost", "want macs or params, have %q", m.Cost)
	}
	if !(r.Target.Ratio > 0) {
		return fieldErr("target.ratio", "schedule morphnet removes this fraction of the cost: want > 0")
	}
	return nil
}

func (m MorphNet) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	if s.resumedRound() == 1 {
		return s.Env.Resume.AccPruned, nil
	}
	lambda, epochs, costName := m.Lambda, m.Epochs, m.Cost
	if lambda == 0 {
		lambda = 1e-4
	}
	if epochs == 0 {
		epochs = 10
	}
	if costName == "" {
		costName = "macs"
	}
	cost, err := prune.ParseCost(costName)
	if err != nil {
		return nil, &FieldError{Path: "schedule.cost", Err: err}
	}
	mn := &prune.MorphNet{Lambda: lambda, Cost: cost, Threshold: m.Threshold}
	if err := mn.Prepare(p.Graph, p.Layers); err != nil {
		return nil, err
	}
	s.Log(fmt.Sprintf("MorphNet: %d epochs with %s", epochs, mn.Name()))
	if err := s.Fit(p.Graph, epochs, func(t *train.Trainer) { prune.AttachRegularizer(t, mn) }); err != nil {
		if strings.Contains(err.Error(), "train: loss is") {
			return nil, fieldErr("schedule.lambda", "the penalty at λ = %g made training diverge: %v", lambda, err)
		}
		return nil, err
	}
	plan, alive, omega, err := mn.Plan(p.Graph, 1-m.Ratio)
	if err != nil {
		return nil, err
	}
	masks, err := plan.Apply(p.Graph)
	if err != nil {
		return nil, err
	}
	p.Plan, p.Masks = plan, masks
	s.Log(fmt.Sprintf("MorphNet: live channels per group %v, expanded by ω = %.3f", alive, omega))
	if omega < 1 {
		s.Warn(fmt.Sprintf("MorphNet: after shrinking the model still costs more than the target (1 − %g of the %s): the live widths were narrowed by ω = %.3f; raise schedule.lambda or schedule.reg_epochs for a sparser start", m.Ratio, costName, omega))
	}
	acc, err := s.Accuracy(p.Graph)
	if err != nil {
		return nil, err
	}
	// No checkpoint inside: a resumed run starts again with the
	// regularised training.
	if err := s.recover(p, boundary{round: 0, accPruned: acc, roundPruned: acc}, false, false); err != nil {
		return nil, err
	}
	return acc, s.checkpoint(p, boundary{round: 1, accPruned: acc})
}

// SparseVD is sparse variational dropout (Molchanov et al. 2017,
// prune.SparseVD) as a schedule: Epochs (finetune.epochs) of training of
// the model rewritten with per-weight log-variances and the local
// reparameterisation trick, with Adam at finetune.lr (default 1e-3, the
// paper's), the KL term weighted 1/N and warmed up over the first
// schedule.rounds epochs (default 5); then weights with log α > 3 are
// removed, and the deterministic model, without log-variances, is the
// result. Ratio, when set, is the sparsity hoped for: a run that ends
// below it warns with the value reached. It needs granularity weight,
// labels and data; it starts from a trained model or from scratch.
type SparseVD struct {
	Ratio  float64
	Epochs int
	Warmup int // epochs
	LR     float64
	Seed   uint64
}

func (SparseVD) Name() string  { return "sparsevd" }
func (SparseVD) Gradual() bool { return true }

func (v SparseVD) Validate(r *Recipe) error {
	if err := validateGradual(r, v.Name()); err != nil {
		return err
	}
	if gran, err := prune.ParseGranularity(r.Method.Granularity); err == nil && gran.Name() != "weight" {
		return fieldErr("method.granularity", "schedule sparsevd learns single weights' dropout rates: granularity %s is not supported (weight)", gran.Name())
	}
	return nil
}

func (v SparseVD) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	if s.resumedRound() == 1 {
		return s.Env.Resume.AccPruned, nil
	}
	var names []string
	for _, l := range p.Layers {
		names = append(names, l.Param.Name)
	}
	vd, err := prune.NewSparseVD(p.Graph, names)
	if err != nil {
		return nil, err
	}
	warm := v.Warmup
	if warm == 0 {
		warm = 5
	}
	vd.KLWeight, vd.WarmupSteps, vd.Seed = 1/float64(s.Train.N), warm*s.StepsPerEpoch(), v.Seed
	vd.Reset()
	saved := s.Config
	s.Config.Optimizer, s.Config.Momentum, s.Config.Nesterov, s.Config.WeightDecay, s.Config.Schedule = "adam", 0, false, 0, "cosine"
	s.Config.LR = 1e-3
	if v.LR > 0 {
		s.Config.LR = float32(v.LR)
	}
	defer func() { s.Config = saved }()
	s.Log(fmt.Sprintf("sparse variational dropout: %d epochs with adam, lr %g, KL warm-up %d epochs", v.Epochs, s.Config.LR, warm))
	err = s.Fit(vd.Train, v.Epochs, func(t *train.Trainer) {
		t.Loss = vd.Loss(t.Loss)
		vd.Attach(t)
	})
	if err != nil {
		return nil, err
	}
	masks, err := vd.Fold()
	if err != nil {
		return nil, err
	}
	keep := make([][]bool, len(p.Layers))
	for i, l := range p.Layers {
		keep[i] = l.KeepOf(masks[l.Param.Name])
	}
	p.Plan, p.Masks = &prune.Plan{Layers: p.Layers, Keep: keep}, masks
	if got := p.Plan.Ratio(); v.Ratio > 0 && got < v.Ratio-0.005 {
		s.Warn(fmt.Sprintf("sparse VD reached sparsity %.4f, short of the target %g, in %d epochs: train longer", got, v.Ratio, v.Epochs))
	}
	acc, err := s.Accuracy(p.Graph)
	if err != nil {
		return nil, err
	}
	return acc, s.checkpoint(p, boundary{round: 1, accPruned: acc})
}
