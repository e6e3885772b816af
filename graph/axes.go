package graph

// LabelAxes sets every param's axis roles and trainability from how nodes
// use it, so that zoo builders and the ONNX importer agree on one rule:
//
//   - Conv W is out×in×spatial…, its bias out; ConvTranspose W is
//     in×out×spatial… (out per group), its bias out;
//   - Gemm B is out×in (transB=1) or in×out, its C out when 1-D;
//   - MatMul's 2-D param B is in×out;
//   - BatchNormalization scale and bias are out (trainable), mean and var
//     out (statistics, not trainable); InstanceNormalization scale and B
//     are out (trainable);
//   - LayerNormalization scale and bias are trainable, with no channel
//     axes (they run along the normalised axes, not the channels);
//   - anything else (reshape shapes, pads, constants in arithmetic) has no
//     channel axes and is not trained.
func LabelAxes(g *Graph) {
	for _, p := range g.Params {
		p.Axes = make([]AxisRole, p.Value.Rank())
		p.Trainable = false
	}
	params := g.ParamMap()
	set := func(name string, trainable bool, roles ...AxisRole) {
		p := params[name]
		if p == nil {
			return
		}
		for i := range p.Axes {
			switch {
			case i < len(roles):
				p.Axes[i] = roles[i]
			case len(roles) > 0 && roles[len(roles)-1] == AxisSpatial:
				p.Axes[i] = AxisSpatial
			}
		}
		p.Trainable = p.Trainable || trainable
	}
	in := func(n *Node, i int) string {
		if i < len(n.Inputs) {
			return n.Inputs[i]
		}
		return ""
	}
	for _, n := range g.Nodes {
		switch n.Op {
		case "Conv":
			set(in(n, 1), true, AxisOut, AxisIn, AxisSpatial)
			set(in(n, 2), true, AxisOut)
		case "ConvTranspose":
			set(in(n, 1), true, AxisIn, AxisOut, AxisSpatial)
			set(in(n, 2), true, AxisOut)
		case "Gemm":
			tb, _ := n.Attrs.Int("transB", 0)
			if tb != 0 {
				set(in(n, 1), true, AxisOut, AxisIn)
			} else {
				set(in(n, 1), true, AxisIn, AxisOut)
			}
			if p := params[in(n, 2)]; p != nil {
				if p.Value.Rank() == 1 {
					set(p.Name, true, AxisOut)
				} else if p.Value.Rank() == 2 {
					set(p.Name, true, AxisNone, AxisOut)
				}
			}
		case "MatMul":
			if p := params[in(n, 1)]; p != nil && p.Value.Rank() == 2 {
				set(p.Name, true, AxisIn, AxisOut)
			}
		case "BatchNormalization":
			set(in(n, 1), true, AxisOut)
			set(in(n, 2), true, AxisOut)
			set(in(n, 3), false, AxisOut)
			set(in(n, 4), false, AxisOut)
		case "InstanceNormalization":
			set(in(n, 1), true, AxisOut)
			set(in(n, 2), true, AxisOut)
		case "LayerNormalization":
			set(in(n, 1), true)
			set(in(n, 2), true)
		}
	}
}
