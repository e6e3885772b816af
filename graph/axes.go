package graph

import (
	"fmt"
	"sort"
	"strings"
)

// LabelAxes sets every param's axis roles and trainability from how nodes
// use it, as each op's spec declares (OpSpec.Params), so that zoo builders
// and the ONNX importer agree on one rule. A param trains when any use
// declares it trainable; a param no spec claims (reshape shapes, pads,
// constants in arithmetic) has no channel axes and does not train. The
// graph's overrides (SetTrainable) are applied last; an override naming a
// param the graph no longer has is ignored here (CheckTrainOverrides
// reports it).
func LabelAxes(g *Graph) {
	for _, p := range g.Params {
		p.Axes = make([]AxisRole, p.Value.Rank())
		p.Trainable = false
	}
	params := g.ParamMap()
	for _, n := range g.Nodes {
		for _, u := range ParamUses(g, n, params) {
			p := params[n.Inputs[u.Input]]
			roles := u.Axes
			for i := range p.Axes {
				switch {
				case i < len(roles):
					p.Axes[i] = roles[i]
				case len(roles) > 0 && roles[len(roles)-1] == AxisSpatial:
					p.Axes[i] = AxisSpatial
				}
			}
			p.Trainable = p.Trainable || u.Trainable
		}
	}
	for name, on := range g.TrainOverrides {
		if p := params[name]; p != nil {
			p.Trainable = on
		}
	}
}

// SetTrainable overrides whether param name trains, whatever its ops
// declare (a learned gate to train, a layer to freeze). The override is
// kept by Clone and LabelAxes and written into ONNX files.
func (g *Graph) SetTrainable(name string, on bool) error {
	p := g.Param(name)
	if p == nil {
		return fmt.Errorf("graph: SetTrainable: no param %q", name)
	}
	if g.TrainOverrides == nil {
		g.TrainOverrides = map[string]bool{}
	}
	g.TrainOverrides[name] = on
	p.Trainable = on
	return nil
}

// CheckTrainOverrides reports overrides that name a param g does not have,
// naming them.
func (g *Graph) CheckTrainOverrides() error {
	params := g.ParamMap()
	var missing []string
	for name := range g.TrainOverrides {
		if params[name] == nil {
			missing = append(missing, fmt.Sprintf("%q", name))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	word := "param"
	if len(missing) > 1 {
		word = "params"
	}
	return fmt.Errorf("graph: trainability override for %s %s, which the graph does not have", word, strings.Join(missing, ", "))
}
