package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shearsml/shears/data"
)

// Config is a training run's hyper-parameters.
type Config struct {
	Recipe      string
	Epochs      int
	Batch       int
	LR          float32
	Optimizer   string // sgd, adam, adamw
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
	Schedule    string // constant, cosine, step
	StepEvery   int    // steps between ×0.1 decays for the step schedule
	Warmup      int    // linear warm-up steps
	Augment     data.Augment
	Seed        uint64
	Threads     int
}

// Recipes are docs/ZOO.md's training recipes. dense-mnist's learning rate is
// per model (0.1 for lenet300, 0.01 for lenet5); zoo.Model carries it.
var Recipes = map[string]Config{
	"dense-mnist": {Recipe: "dense-mnist", Epochs: 20, Batch: 128, LR: 0.1, Optimizer: "sgd", Momentum: 0.9,
		WeightDecay: 1e-4, Schedule: "cosine"},
	"dense-fashion": {Recipe: "dense-fashion", Epochs: 30, Batch: 128, LR: 0.1, Optimizer: "sgd", Momentum: 0.9,
		Nesterov: true, WeightDecay: 5e-4, Schedule: "cosine", Augment: data.RecipeAugment},
	"finetune": {Recipe: "finetune", Epochs: 10, Batch: 128, LR: 0.01, Optimizer: "sgd", Momentum: 0.9,
		WeightDecay: 1e-4, Schedule: "cosine"},
}

// Recipe returns a named recipe or an error listing them.
func Recipe(name string) (Config, error) {
	c, ok := Recipes[name]
	if !ok {
		var names []string
		for k := range Recipes {
			names = append(names, k)
		}
		sort.Strings(names)
		return Config{}, fmt.Errorf("unknown recipe %q (%s)", name, strings.Join(names, ", "))
	}
	return c, nil
}

// Validate reports the first nonsensical setting.
func (c *Config) Validate() error {
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("epochs must be ≥ 0, have %d", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("batch must be ≥ 1, have %d", c.Batch)
	case !(c.LR >= 0) || c.LR > 1e3:
		return fmt.Errorf("learning rate must be in [0, 1000], have %g", c.LR)
	case c.WeightDecay < 0:
		return fmt.Errorf("weight decay must be ≥ 0, have %g", c.WeightDecay)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("momentum must be in [0, 1), have %g", c.Momentum)
	}
	if _, err := NewOptimizer(c.Optimizer, c.Momentum, c.Nesterov, c.WeightDecay); err != nil {
		return err
	}
	if _, err := NewSchedule(c.Schedule, c.LR, max(c.StepEvery, 1), c.Warmup); err != nil {
		return err
	}
	return nil
}
