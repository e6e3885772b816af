package prune

import (
	"hash/fnv"
	"math/rand/v2"
)

// Random scores units uniformly at random, seeded by Context.Seed and the
// layer's name: the baseline every criterion must beat (Liu et al. 2019,
// "Rethinking the Value of Network Pruning", and Blalock et al. 2020,
// "What is the State of Neural Network Pruning?").
type Random struct{}

func (Random) Name() string           { return "random" }
func (Random) Needs() Requirement     { return NeedsNothing }
func (Random) Fits(Granularity) error { return nil } // every granularity

func (Random) Score(c *Context, layers []*Layer) error {
	for _, l := range layers {
		h := fnv.New64a()
		h.Write([]byte(l.Name))
		r := rand.New(rand.NewPCG(c.Seed, h.Sum64()))
		l.Scores = make([]float64, l.Units)
		for u := range l.Scores {
			l.Scores[u] = r.Float64()
		}
	}
	return nil
}
