package prune

import (
	"fmt"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Apply zeros, in g, what the plan removes and returns the masks: for
// channels, MaskGroups (every coupled slice); for element granularities,
// the units' weights. g is the analysed graph or a copy of it (a copy is
// analysed again; its groups must match).
func (p *Plan) Apply(g *graph.Graph) (Masks, error) {
	if p.Structured() {
		keep, err := p.keepMap(g)
		if err != nil {
			return nil, err
		}
		return MaskGroups(g, keep)
	}
	params := g.ParamMap()
	m := Masks{}
	for i, l := range p.Layers {
		if numTrue(p.Keep[i]) == l.Units {
			continue
		}
		w := params[l.Param.Name]
		if w == nil || w.Value.Len() != len(l.unit) {
			return nil, fmt.Errorf("prune: %s is not the weight the plan was made for", l.Param.Name)
		}
		mk := tensor.New(w.Value.Shape...)
		for e, u := range l.unit {
			if p.Keep[i][u] {
				mk.Data[e] = 1
			}
		}
		m[w.Name] = mk
	}
	return m, m.Apply(g)
}

// Slim returns a physically smaller copy of g without the removed
// channels (PruneGroups); g itself is not changed. Only structured plans
// slim: element granularities keep shapes.
func (p *Plan) Slim(g *graph.Graph) (*graph.Graph, error) {
	if !p.Structured() {
		return nil, fmt.Errorf("prune: only filter and channel granularities slim a model; this plan masks weights")
	}
	c := g.Clone()
	keep, err := p.keepMap(c)
	if err != nil {
		return nil, err
	}
	if err := PruneGroups(c, keep); err != nil {
		return nil, err
	}
	return c, nil
}

// Structured reports whether the plan removes channels (and so slims),
// not single weights.
func (p *Plan) Structured() bool { return len(p.Layers) > 0 && p.Layers[0].Group != nil }

// keepMap lists the kept channels of each group for g, analysing g again
// when it is not the graph the plan's groups come from.
func (p *Plan) keepMap(g *graph.Graph) (map[*Group][]int, error) {
	groups := make([]*Group, len(p.Layers))
	for i, l := range p.Layers {
		groups[i] = l.Group
	}
	if len(groups) > 0 && groups[0].d.g != g {
		d, err := Analyze(g)
		if err != nil {
			return nil, err
		}
		byOwner := map[string]*Group{}
		for _, grp := range d.Groups() {
			byOwner[grp.Owner] = grp
		}
		for i, old := range groups {
			grp := byOwner[old.Owner]
			if grp == nil || grp.Channels != old.Channels {
				return nil, fmt.Errorf("prune: group %s differs in the graph to prune (analyse it and plan again)", old.Owner)
			}
			groups[i] = grp
		}
	}
	keep := map[*Group][]int{}
	for i, grp := range groups {
		var k []int
		for u, v := range p.Keep[i] {
			if v {
				k = append(k, u)
			}
		}
		if len(k) < grp.Channels {
			keep[grp] = k
		}
	}
	return keep, nil
}
