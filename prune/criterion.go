package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
)

// Requirement says what a criterion needs beyond the weights.
type Requirement int

const (
	NeedsNothing     Requirement = iota // the weights alone
	NeedsCalibration                    // images run through the model
	NeedsLabels                         // labelled images: gradients of the loss
)

func (r Requirement) String() string {
	switch r {
	case NeedsCalibration:
		return "calibration data"
	case NeedsLabels:
		return "labelled data"
	}
	return "nothing"
}

// Criterion scores units: higher is more important, the lowest go first.
// A criterion fills Layer.Scores for every layer (one score per unit), and
// says which granularities it can score (Fits), so that a recipe is
// checked before any work.
//
// Criteria defined on weights (magnitude, Taylor and SNIP on weights,
// LAMP) score elements; a unit's score is the sum over its elements, and a
// channel's is the sum over the elements it owns in each coupled slice,
// reduced across slices with Context.Reduction. Criteria defined on
// channels (BatchNorm scale, APoZ, activations, Taylor on activations,
// FPGM) score group channels directly.
type Criterion interface {
	Name() string
	Needs() Requirement
	// Fits reports, as an error saying what to use instead, a
	// granularity whose units the criterion cannot score; nil when it
	// can.
	Fits(g Granularity) error
	Score(c *Context, layers []*Layer) error
}

// Selector is a criterion that chooses each layer's kept units itself
// instead of only ranking them — ThiNet's greedy channel selection, a
// LASSO regression over channels. Score still fills Layer.Scores (global
// allocation counts with them); once allocation has decided how many
// units of a layer stay, it asks Select which. Units pruned earlier
// (Context.Prior) must stay pruned.
type Selector interface {
	Criterion
	// Select returns keep[u] for every unit of l, exactly k of them true.
	Select(c *Context, l *Layer, k int) (keep []bool, err error)
}

// Context is what criteria read: the graph, its dependency analysis and,
// for criteria that need data, calibration images with labels.
type Context struct {
	Graph *graph.Graph
	Dep   *DepGraph   // nil when the granularity is not structured and analysis failed
	Calib Calibration // calibration images; nil when none were given
	Batch int         // calibration batch size (64 when 0)
	Seed  uint64
	// Reduction combines a channel's scores across the slices of its
	// group: "sum" (default), "mean" or "max".
	Reduction string
	// Filters restricts weight-based channel scores to the filters
	// (Channels.Filters).
	Filters bool
	// Prior lists, per layer index, units pruned earlier (iterative
	// schedules): they score −Inf and stay pruned.
	Prior [][]bool

	// grams holds what Selector criteria measured in Score for Select
	// (ThiNet's and LASSO's channel contribution Gram matrices).
	grams map[*Layer]*channelGram
	// obs holds what OBS measured in Score for Select.
	obs map[*Layer]*obsLayer
}

// Calibration is the labelled images that data-driven criteria run
// through the model. *data.Dataset implements it; the interface keeps the
// pruning core free of the data sets.
type Calibration interface {
	// Batches calls f with consecutive batches of at most size images
	// (B×C×H×W) and their labels, in a fixed order, and stops at f's
	// first error.
	Batches(size int, f func(x *tensor.Tensor, labels []int) error) error
}

// Score runs crit over layers, checks the scores, marks units pruned
// earlier with −Inf and normalises each layer's scores (see Normalize).
func Score(c *Context, crit Criterion, layers []*Layer, normalize string) error {
	if crit.Needs() != NeedsNothing && c.Calib == nil {
		return fmt.Errorf("criterion %s needs %s", crit.Name(), crit.Needs())
	}
	if err := crit.Score(c, layers); err != nil {
		return err
	}
	sel, selects := crit.(Selector)
	for i, l := range layers {
		l.choose = nil
		if selects {
			l.choose = func(k int) ([]bool, error) { return sel.Select(c, l, k) }
		}
		if len(l.Scores) != l.Units {
			return fmt.Errorf("prune: criterion %s gave %s %d scores for %d units", crit.Name(), l.Name, len(l.Scores), l.Units)
		}
		for _, v := range l.Scores {
			if math.IsNaN(v) {
				return fmt.Errorf("prune: criterion %s: %s has a NaN score", crit.Name(), l.Name)
			}
		}
		if err := Normalize(l.Scores, normalize); err != nil {
			return err
		}
		if i < len(c.Prior) && c.Prior[i] != nil {
			for u, pruned := range c.Prior[i] {
				if pruned {
					l.Scores[u] = math.Inf(-1)
				}
			}
		}
	}
	return nil
}

// Normalize rescales one layer's scores so that layers compare in a
// global ranking, as Torch-Pruning's normalisers: "none", "mean" (divide
// by the mean), "max", "sum", "gaussian" (subtract the mean, divide by the
// standard deviation).
func Normalize(s []float64, how string) error {
	if len(s) == 0 {
		return nil
	}
	var sum, mx float64
	for _, v := range s {
		sum += v
		mx = max(mx, v)
	}
	mean := sum / float64(len(s))
	div, sub := 1.0, 0.0
	switch how {
	case "", "none":
		return nil
	case "mean":
		div = mean
	case "max":
		div = mx
	case "sum":
		div = sum
	case "gaussian":
		var ss float64
		for _, v := range s {
			ss += (v - mean) * (v - mean)
		}
		sub, div = mean, math.Sqrt(ss/float64(len(s)))
	default:
		return fmt.Errorf("unknown normalisation %q (none, mean, max, sum, gaussian)", how)
	}
	if div == 0 || math.IsInf(div, 0) || math.IsNaN(div) {
		div = 1
	}
	for i := range s {
		s[i] = (s[i] - sub) / div
	}
	return nil
}

// Criteria lists the criteria by name.
var Criteria = map[string]Criterion{
	"random":   Random{},
	"l1":       Magnitude{P: 1},
	"l2":       Magnitude{P: 2},
	"bn":       BNScale{},
	"apoz":     APoZ{},
	"mean-act": MeanActivation{},
	"taylor":   Taylor{},
	"snip":     SNIP{},
	"fpgm":     FPGM{},
	"lamp":     LAMP{},
	"thinet":   ThiNet{},
	"lasso":    ChannelLasso{},
	"obs":      OBS{},
	"wanda":    Wanda{},
	"obd":      OBD{},
}

// ParseCriterion returns a criterion by name ("magnitude" is l1).
func ParseCriterion(name string) (Criterion, error) {
	if name == "magnitude" {
		name = "l1"
	}
	c, ok := Criteria[name]
	if !ok {
		names := make([]string, 0, len(Criteria))
		for k := range Criteria {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("unknown criterion %q (%s)", name, strings.Join(names, ", "))
	}
	return c, nil
}

// scoreWeights scores every layer from element scores: elem returns one
// score per element of a weight or BatchNorm scale.
func (c *Context) scoreWeights(layers []*Layer, elem func(p *graph.Param) ([]float64, error)) error {
	cache := map[string][]float64{}
	get := func(p *graph.Param) ([]float64, error) {
		if e, ok := cache[p.Name]; ok {
			return e, nil
		}
		e, err := elem(p)
		cache[p.Name] = e
		return e, err
	}
	params := c.Graph.ParamMap()
	for _, l := range layers {
		if l.Group == nil {
			e, err := get(l.Param)
			if err != nil {
				return err
			}
			l.Scores = l.unitSums(e)
			continue
		}
		per := make([][]float64, l.Units) // per channel, one sum per slice
		for _, s := range scoredSlices(c.Graph, l.Group, c.Filters) {
			p := params[s.Param]
			e, err := get(p)
			if err != nil {
				return err
			}
			for ch := s.First; ch < s.First+s.Count; ch++ {
				var sum float64
				channelElems(p, s, ch, func(lo, hi int) {
					for _, v := range e[lo:hi] {
						sum += v
					}
				})
				per[ch] = append(per[ch], sum)
			}
		}
		var err error
		if l.Scores, err = c.reduce(per); err != nil {
			return fmt.Errorf("%s: %w", l.Name, err)
		}
	}
	return nil
}

// reduce combines each channel's per-slice scores with c.Reduction. A
// channel without any score (no slice of the kind read) scores 0.
func (c *Context) reduce(per [][]float64) ([]float64, error) {
	out := make([]float64, len(per))
	for i, v := range per {
		if len(v) == 0 {
			continue
		}
		switch c.Reduction {
		case "", "sum":
			for _, x := range v {
				out[i] += x
			}
		case "mean":
			for _, x := range v {
				out[i] += x
			}
			out[i] /= float64(len(v))
		case "max":
			out[i] = slices.Max(v)
		default:
			return nil, fmt.Errorf("unknown reduction %q (sum, mean, max)", c.Reduction)
		}
	}
	return out, nil
}

// channelsFit is Fits for criteria that score group channels only:
// an error unless the units are channels (structured).
func channelsFit(name string, structured bool) error {
	if !structured {
		return fmt.Errorf("criterion %s scores channels: use granularity filter or channel", name)
	}
	return nil
}

// weightsFit is Fits for criteria that score elements of one weight only:
// an error when the units are channels (structured).
func weightsFit(name string, structured bool) error {
	if structured {
		return fmt.Errorf("criterion %s scores weights: use granularity weight, shape, N:M or blockAxB", name)
	}
	return nil
}

// channelsOnly reports an error for a criterion that only scores group
// channels when a layer is a weight (layers made for another granularity
// than the one checked with Fits).
func channelsOnly(name string, layers []*Layer) error {
	for _, l := range layers {
		if l.Group == nil {
			return channelsFit(name, false)
		}
	}
	return nil
}

// weightsOnly reports an error for a criterion that only scores weights
// when a layer is a group.
func weightsOnly(name string, layers []*Layer) error {
	for _, l := range layers {
		if l.Group != nil {
			return weightsFit(name, true)
		}
	}
	return nil
}

// batches runs the calibration set through a compiled program in
// inference mode, calling f after each forward (and, with backward, after
// the backward of the mean cross-entropy loss).
func (c *Context) batches(backward bool, f func(prog *cpu.Program, n int) error) error {
	if c.Calib == nil {
		return fmt.Errorf("prune: no calibration data")
	}
	prog, err := cpu.Compile(c.Graph)
	if err != nil {
		return err
	}
	bs := c.Batch
	if bs <= 0 {
		bs = 64
	}
	return c.Calib.Batches(bs, func(x *tensor.Tensor, labels []int) error {
		if backward && len(labels) != x.Shape[0] {
			return fmt.Errorf("the calibration images have no labels, and the loss gradients need them: give labelled images (class subfolders) or use a criterion that needs only images")
		}
		outs, err := prog.Forward(false, x)
		if err != nil {
			return err
		}
		if backward {
			grad := outs[0].Clone()
			if _, _, err := train.SoftmaxCrossEntropy(outs[0], labels, grad); err != nil {
				return err
			}
			if err := prog.Backward(grad); err != nil {
				return err
			}
		}
		return f(prog, len(labels))
	})
}
