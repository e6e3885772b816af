package prune

import "math"

// BNScale scores a channel by |γ|, the scale of the BatchNormalization
// that follows it (Liu et al. 2017, "Learning Efficient Convolutional
// Networks through Network Slimming"), reduced across the group's
// BatchNorms. Train with the BNL1 regulariser first so that the scales of
// unneeded channels go to zero. A group without a BatchNorm cannot be
// scored and is left unpruned with a warning.
type BNScale struct{}

func (BNScale) Name() string               { return "bn" }
func (BNScale) Needs() Requirement         { return NeedsNothing }
func (c BNScale) Fits(g Granularity) error { return channelsFit(c.Name(), g.Structured()) }

func (BNScale) Score(c *Context, layers []*Layer) error {
	if err := channelsOnly("bn", layers); err != nil {
		return err
	}
	bn := bnScales(c.Graph)
	params := c.Graph.ParamMap()
	for _, l := range layers {
		per := make([][]float64, l.Units)
		for _, s := range l.Group.Slices {
			if !bn[s.Param] {
				continue
			}
			g := params[s.Param].Value.Data
			for ch := s.First; ch < s.First+s.Count; ch++ {
				lo, hi, _ := s.Elems(ch)
				var sum float64
				for _, v := range g[lo:hi] {
					sum += math.Abs(float64(v))
				}
				per[ch] = append(per[ch], sum)
			}
		}
		if len(per) > 0 && per[0] == nil {
			l.Skip = "no BatchNormalization scale to read (criterion bn)"
		}
		var err error
		if l.Scores, err = c.reduce(per); err != nil {
			return err
		}
	}
	return nil
}
