package prune

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
)

// Magnitude scores by Σ|w|^P over a unit's weights: P = 1 is the L1 norm
// of Li et al. 2017 ("Pruning Filters for Efficient ConvNets") for
// filters and of Han et al. 2015 ("Learning both Weights and Connections
// for Efficient Neural Networks") for single weights; P = 2 is the
// squared L2 norm of Torch-Pruning's GroupMagnitudeImportance. On channels
// it reads the filters (granularity filter) or every coupled weight slice
// and BatchNorm scale (channel), reduced across slices.
type Magnitude struct{ P float64 }

func (m Magnitude) Name() string         { return fmt.Sprintf("l%g", m.P) }
func (Magnitude) Needs() Requirement     { return NeedsNothing }
func (Magnitude) Fits(Granularity) error { return nil } // every granularity

func (m Magnitude) Score(c *Context, layers []*Layer) error {
	return c.scoreWeights(layers, func(p *graph.Param) ([]float64, error) {
		e := make([]float64, p.Value.Len())
		for i, v := range p.Value.Data {
			a := math.Abs(float64(v))
			if m.P == 1 {
				e[i] = a
			} else {
				e[i] = math.Pow(a, m.P)
			}
		}
		return e, nil
	})
}
