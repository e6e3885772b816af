package prune

import (
	"fmt"
	"slices"

	"github.com/shearsml/shears/graph"
)

// Layer is one thing allocation distributes a budget over: a dependency
// group (structured granularities) or one conv or linear weight (the
// others). Its units are what a criterion scores and allocation keeps or
// removes whole.
type Layer struct {
	Name   string       // the group's owner, or the weight's name
	Group  *Group       // structured granularities
	Param  *graph.Param // element granularities
	Units  int
	Scores []float64 // per unit, higher is more important (see Score)
	// Skip, when set, says why the layer is left unpruned (a criterion
	// that cannot score it); allocation warns with it.
	Skip string

	unit  []int32 // element of Param → unit
	elems []int   // elements per unit; nil for channels (one each)
	sets  []int32 // N:M: unit → its set of M
	n     int     // N of N:M
	// choose picks the kept units itself (a Selector criterion, set by
	// Score); nil: the highest scores stay.
	choose func(k int) ([]bool, error)
}

// Size is the number of elements unit u removes (1 for a channel: ratios
// over channels count channels).
func (l *Layer) Size(u int) int {
	if l.elems == nil {
		return 1
	}
	return l.elems[u]
}

// Layers lists the layers of g for a granularity: the prunable groups of
// d, or the conv and linear weights of g. Weights that an N:M pattern
// does not fit are left out with a warning naming them.
func Layers(g *graph.Graph, d *DepGraph, gr Granularity) (layers []*Layer, warnings []string, err error) {
	if Structured(gr) {
		if d == nil {
			return nil, nil, fmt.Errorf("prune: %s granularity needs the dependency analysis", gr.Name())
		}
		for _, grp := range d.Groups() {
			layers = append(layers, &Layer{Name: grp.Owner, Group: grp, Units: grp.Channels})
		}
		return layers, nil, nil
	}
	for _, p := range Weights(g) {
		unit, n, err := gr.Units(p)
		if err != nil {
			return nil, nil, err
		}
		l := &Layer{Name: p.Name, Param: p, Units: n, unit: unit, elems: make([]int, n)}
		for _, u := range unit {
			l.elems[u]++
		}
		sets, keep, err := gr.Sets(p)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s left dense: %v", p.Name, err))
			continue
		}
		l.sets, l.n = sets, keep
		layers = append(layers, l)
	}
	if len(layers) == 0 {
		return nil, warnings, fmt.Errorf("prune: no conv or linear weight to prune at granularity %s", gr.Name())
	}
	return layers, warnings, nil
}

// unitSums adds element scores e of the layer's weight into its units.
func (l *Layer) unitSums(e []float64) []float64 {
	s := make([]float64, l.Units)
	for i, u := range l.unit {
		s[u] += e[i]
	}
	return s
}

// channelElems calls f(lo, hi) for every run of elements of param p that
// group channel ch owns in slice s (a row block of the slice's axis).
func channelElems(p *graph.Param, s Slice, ch int, f func(lo, hi int)) {
	lo, hi, ok := s.Elems(ch)
	if !ok {
		return
	}
	outer, n, inner := axisBlocks(p.Value.Shape, s.Axis)
	for o := range outer {
		f((o*n+lo)*inner, (o*n+hi)*inner)
	}
}

// isFilter reports whether slice s cuts filters (the out axis) of a conv
// or linear weight.
func isFilter(p *graph.Param, s Slice) bool {
	o, i := p.WeightAxes()
	return o == s.Axis && i >= 0 && p.Value.Rank() >= 2
}

// bnScales returns the names of BatchNorm scale params (γ): as the op
// specs declare them, the per-channel scales of nodes that normalise with
// running statistics (a LayerNorm's or InstanceNorm's scale, or a PReLU
// slope, is not one).
func bnScales(g *graph.Graph) map[string]bool {
	m := map[string]bool{}
	params := g.ParamMap()
	for _, n := range g.Nodes {
		uses := graph.ParamUses(g, n, params)
		if !slices.ContainsFunc(uses, func(u graph.ParamUse) bool { return u.Kind == graph.ParamMean }) {
			continue
		}
		for _, u := range uses {
			if u.Kind == graph.ParamScale {
				m[n.Inputs[u.Input]] = true
			}
		}
	}
	return m
}

// scoredSlices returns the slices of grp whose weights a magnitude-like
// criterion reads: the filters only (filters), or every coupled conv and
// linear weight slice plus the BatchNorm scales (Torch-Pruning's group).
func scoredSlices(g *graph.Graph, grp *Group, filters bool) []Slice {
	params := g.ParamMap()
	bn := bnScales(g)
	var out []Slice
	for _, s := range grp.Slices {
		p := params[s.Param]
		if p == nil || !p.Trainable {
			continue
		}
		o, i := p.WeightAxes()
		weight := o >= 0 && i >= 0 && p.Value.Rank() >= 2
		if (filters && isFilter(p, s)) || (!filters && (weight || bn[s.Param])) {
			out = append(out, s)
		}
	}
	return out
}

// layerNames lists the layers' names (for error messages).
func layerNames(layers []*Layer) []string {
	var s []string
	for _, l := range layers {
		s = append(s, l.Name)
	}
	return slices.Clip(s)
}
