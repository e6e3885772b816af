package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at a step (0-based) of a run of total
// steps.
type Schedule interface {
	LR(step, total int) float32
}

// Constant keeps the base rate.
type Constant struct{ Base float32 }

func (s Constant) LR(step, total int) float32 { return s.Base }

// Cosine decays from Base to Min along half a cosine, per step (as
// PyTorch's CosineAnnealingLR stepped every batch with T_max = total).
type Cosine struct{ Base, Min float32 }

func (s Cosine) LR(step, total int) float32 {
	if total <= 0 {
		return s.Base
	}
	f := 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
	return s.Min + (s.Base-s.Min)*float32(f)
}

// Step multiplies Base by Gamma every Every steps.
type Step struct {
	Base  float32
	Every int
	Gamma float32
}

func (s Step) LR(step, total int) float32 {
	if s.Every <= 0 {
		return s.Base
	}
	return s.Base * float32(math.Pow(float64(s.Gamma), float64(step/s.Every)))
}

// Warmup ramps linearly from 0 to the wrapped schedule over Steps steps,
// then follows it (over the remaining steps).
type Warmup struct {
	Steps int
	Then  Schedule
}

func (s Warmup) LR(step, total int) float32 {
	if step < s.Steps {
		return s.Then.LR(0, total-s.Steps) * float32(step+1) / float32(s.Steps)
	}
	return s.Then.LR(step-s.Steps, total-s.Steps)
}

// NewSchedule makes a schedule by name: constant, cosine, step (every
// stepEvery steps ×0.1), with warmup steps of linear warm-up when > 0.
func NewSchedule(name string, base float32, stepEvery, warmup int) (Schedule, error) {
	var s Schedule
	switch name {
	case "constant":
		s = Constant{base}
	case "cosine":
		s = Cosine{Base: base}
	case "step":
		if stepEvery <= 0 {
			return nil, fmt.Errorf("step schedule needs a positive step interval")
		}
		s = Step{Base: base, Every: stepEvery, Gamma: 0.1}
	default:
		return nil, fmt.Errorf("unknown lr schedule %q (constant, cosine, step)", name)
	}
	if warmup > 0 {
		s = Warmup{Steps: warmup, Then: s}
	}
	return s, nil
}
