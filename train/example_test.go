package train_test

import (
	"context"
	"fmt"
	"math"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/zoo"
)

// A penalty on parameters: λ·Σ|w| over one layer's weights, its value
// counted in the reported loss and its gradient added after backward.
func ExampleTrainer_On() {
	ds, err := data.Load("mnist", "", data.Train)
	if err != nil {
		fmt.Println(err)
		return
	}
	run := func(lambda float32) float64 {
		cfg := train.Recipes["dense-mnist"]
		cfg.Epochs, cfg.Batch, cfg.Seed, cfg.Threads = 1, 64, 1, 1
		t := &train.Trainer{Graph: zoo.LeNet300(1), Config: cfg, Train: ds.Limit(256)}
		t.On(train.AfterBackward, func(s *train.State) error {
			w := s.Graph.Param("fc3.weight").Value.Data
			g := s.Program.Grad("fc3.weight").Data
			for i, v := range w {
				s.Loss.Loss += float64(lambda) * math.Abs(float64(v))
				if v > 0 {
					g[i] += lambda
				} else if v < 0 {
					g[i] -= lambda
				}
			}
			return nil
		})
		res, err := t.Run(context.Background())
		if err != nil {
			fmt.Println(err)
			return 0
		}
		return res.TrainLoss
	}
	fmt.Println("the penalty raises the loss:", run(1e-3) > run(0))
	// Output: the penalty raises the loss: true
}
