package recipe

import (
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// lossRecovery is a Recovery that changes what every training of the
// session minimises (Session.Fit sets it as the trainer's Loss), so that
// it also acts in schedules that train themselves (AGP, SFP, DNS).
type lossRecovery interface {
	TrainLoss(s *Session) (train.Loss, error)
}

// Distill is fine-tuning with knowledge distillation (Hinton et al. 2015,
// train.Distill): after every pruning step the pruned model trains for
// Epochs with its masks held, as FineTune does, on α·T²·KL(teacher ‖
// student) at temperature T plus (1 − α) times the label loss, the
// teacher being the dense model the run started from, run in inference
// mode on the same batch. Every other training of the run (AGP's, SFP's,
// DNS's, a regularised pre-training) learns from the teacher too. It
// needs the labels and the training data.
type Distill struct {
	Epochs   int
	Alpha, T float64

	loss *train.Distill // compiled on first use, for the whole run
}

// newDistill is the recipe's Distill, with train's defaults for the
// settings left at 0.
func newDistill(r *Recipe) *Distill {
	f := r.Finetune
	d := &Distill{Epochs: f.Epochs, Alpha: f.DistillAlpha, T: f.DistillTemperature}
	if d.Alpha == 0 {
		d.Alpha = train.DefaultDistillAlpha
	}
	if d.T == 0 {
		d.T = train.DefaultDistillT
	}
	return d
}

func (*Distill) Name() string { return "distill" }

func (d *Distill) Step(s *Session, p *prune.Pruner) error {
	return FineTune{Epochs: d.Epochs}.Step(s, p)
}

func (*Distill) Finish(s *Session, p *prune.Pruner) (*float64, error) { return s.Accuracy(p.Graph) }

// TrainLoss implements lossRecovery: the distillation loss from the
// session's dense model.
func (d *Distill) TrainLoss(s *Session) (train.Loss, error) {
	if d.loss == nil {
		l, err := train.NewDistill(s.dense, d.Alpha, d.T, s.Config.Threads)
		if err != nil {
			return nil, &FieldError{Path: "finetune.distill", Err: err}
		}
		d.loss = l
	}
	return d.loss, nil
}

// validateDistill checks the distillation settings: they need
// finetune.distill, fine-tuning epochs, and no training from scratch
// (whose re-initialised network would learn the teacher from nothing:
// another experiment than recovery).
func (f FinetuneSpec) validateDistill() error {
	if !f.Distill {
		if f.DistillAlpha != 0 || f.DistillTemperature != 0 {
			return fieldErr("finetune.distill", "distill_alpha and distill_temperature need distill: true")
		}
		return nil
	}
	if f.FromScratch {
		return fieldErr("finetune.distill", "recovers by fine-tuning: it does not go with from_scratch")
	}
	if f.Epochs < 1 {
		return fieldErr("finetune.epochs", "distillation trains: want ≥ 1 epoch, have %d", f.Epochs)
	}
	alpha, t := f.DistillAlpha, f.DistillTemperature
	if alpha == 0 {
		alpha = train.DefaultDistillAlpha
	}
	if t == 0 {
		t = train.DefaultDistillT
	}
	if err := train.CheckDistill(alpha, t); err != nil {
		path := "finetune.distill_alpha"
		if alpha >= 0 && alpha <= 1 {
			path = "finetune.distill_temperature"
		}
		return &FieldError{Path: path, Err: err}
	}
	return nil
}
