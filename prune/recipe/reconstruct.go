package recipe

import (
	"fmt"

	"github.com/shearsml/shears/prune"
)

// Reconstruct refits the pruned model's kept weights by least squares so
// that each layer's output on the calibration images matches the dense
// model's (prune.Reconstruct: He et al. 2017's and ThiNet's refit,
// sequential, with BatchNorm statistics re-estimated when BN), after every
// pruning step; then, with Epochs, fine-tunes with the masks held. It
// works after any criterion, needs calibration images but no labels, and
// without Epochs no training at all.
type Reconstruct struct {
	Samples int  // output positions per image and layer (0: 10)
	BN      bool // re-estimate the statistics of BatchNorms after refit layers
	Epochs  int  // fine-tuning after the refit (0: none)
	Seed    uint64
}

func (Reconstruct) Name() string { return "reconstruct" }

func (r Reconstruct) Step(s *Session, p *prune.Pruner) error {
	calib := p.Ctx.Calib
	if calib == nil {
		if s.Train == nil {
			return &DataError{"reconstruction needs calibration images: pass --data (data: in a recipe)", []string{"data.name"}}
		}
		calib = s.Train.Limit(s.Recipe.Data.Calib)
	}
	res, err := prune.Reconstruct(s.dense, p.Graph, p.Masks, calib, prune.ReconstructOptions{
		Samples: r.Samples, BN: r.BN, Seed: r.Seed, Threads: s.Env.Threads})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		s.Warn("reconstruction: " + w)
	}
	s.Log(fmt.Sprintf("reconstruction: refit %d layers by least squares, re-estimated %d BatchNorms", len(res.Refit), len(res.BN)))
	if r.Epochs == 0 {
		return nil
	}
	var aerr error
	if err := s.Fit(p.Graph, r.Epochs, s.HoldMasks(p, &aerr)); err != nil {
		return err
	}
	return aerr
}

func (Reconstruct) Finish(s *Session, p *prune.Pruner) (*float64, error) { return s.Accuracy(p.Graph) }
