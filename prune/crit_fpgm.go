package prune

import (
	"math"

	"github.com/shearsml/shears/graph"
)

// FPGM is filter pruning via the geometric median (He et al. 2019,
// "Filter Pruning via Geometric Median for Deep Convolutional Neural
// Networks Acceleration"): filters close to the geometric median of their
// layer are the most replaceable by the others. A channel's score is the
// sum of Euclidean distances from its filter to every other filter of the
// layer (the median minimises that sum, so it scores lowest), reduced
// across the group's coupled convs.
type FPGM struct{}

func (FPGM) Name() string               { return "fpgm" }
func (FPGM) Needs() Requirement         { return NeedsNothing }
func (c FPGM) Fits(g Granularity) error { return channelsFit(c.Name(), g.Structured()) }

func (FPGM) Score(c *Context, layers []*Layer) error {
	if err := channelsOnly("fpgm", layers); err != nil {
		return err
	}
	params := c.Graph.ParamMap()
	for _, l := range layers {
		per := make([][]float64, l.Units)
		for _, s := range scoredSlices(c.Graph, l.Group, true) {
			p := params[s.Param]
			vec := make([][]float64, 0, s.Count)
			for ch := s.First; ch < s.First+s.Count; ch++ {
				vec = append(vec, filterOf(p, s, ch))
			}
			for i := range vec {
				var sum float64
				for j := range vec {
					sum += dist(vec[i], vec[j])
				}
				per[s.First+i] = append(per[s.First+i], sum)
			}
		}
		var err error
		if l.Scores, err = c.reduce(per); err != nil {
			return err
		}
	}
	return nil
}

func filterOf(p *graph.Param, s Slice, ch int) []float64 {
	var f []float64
	channelElems(p, s, ch, func(lo, hi int) {
		for _, v := range p.Value.Data[lo:hi] {
			f = append(f, float64(v))
		}
	})
	return f
}

func dist(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}
