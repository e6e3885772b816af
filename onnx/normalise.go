package onnx

import (
	"fmt"
	"slices"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// attrToInput describes an attribute that became an input in a later opset.
type attrToInput struct {
	attr   string
	input  int
	scalar bool // a scalar (Clip min/max, Pad value) rather than a 1-D list
}

// movedAttrs lists, per op, the opset from which attributes became inputs
// and which.
var movedAttrs = map[string]struct {
	since int
	moves []attrToInput
}{
	"Squeeze":   {13, []attrToInput{{"axes", 1, false}}},
	"Unsqueeze": {13, []attrToInput{{"axes", 1, false}}},
	"ReduceSum": {13, []attrToInput{{"axes", 1, false}}},
	"Split":     {13, []attrToInput{{"split", 1, false}}},
	"TopK":      {10, []attrToInput{{"k", 1, false}}},
	"Slice":     {10, []attrToInput{{"starts", 1, false}, {"ends", 2, false}, {"axes", 3, false}}},
	"Pad":       {11, []attrToInput{{"pads", 1, false}, {"value", 2, true}}},
	"Clip":      {11, []attrToInput{{"min", 1, true}, {"max", 2, true}}},
}

// normalise rewrites a node from the model's opset into the opset-13 form
// the IR uses.
func (d *decoder) normalise(n *graph.Node) error {
	if mv, ok := movedAttrs[n.Op]; ok && d.opset < mv.since {
		for _, m := range mv.moves {
			v, ok := n.Attrs[m.attr]
			if !ok {
				continue
			}
			var t *tensor.Tensor
			switch v := v.(type) {
			case []int:
				t = intsTensor(v)
			case int:
				t = intsTensor([]int{v})
			case float32:
				t = &tensor.Tensor{Shape: []int{}, Data: []float32{v}}
			default:
				return d.nodeErr(n, "attribute %q has the wrong type %T", m.attr, v)
			}
			if m.scalar && t.Len() != 1 {
				return d.nodeErr(n, "attribute %q must be a scalar", m.attr)
			}
			if m.scalar {
				t.Shape = []int{}
			}
			if n.Op == "Pad" && m.attr == "value" && t.Data[0] == 0 {
				delete(n.Attrs, m.attr) // the default
				continue
			}
			if m.input < len(n.Inputs) && n.Inputs[m.input] != "" {
				return d.nodeErr(n, "has both attribute %q and input %d", m.attr, m.input)
			}
			name := d.fresh(n.Name + "_" + m.attr)
			for len(n.Inputs) <= m.input {
				n.Inputs = append(n.Inputs, "")
			}
			n.Inputs[m.input] = name
			d.g.AddParam(name, t, false)
			delete(n.Attrs, m.attr)
		}
		if len(n.Attrs) == 0 {
			n.Attrs = nil
		}
	}
	if d.opset < 7 {
		if err := d.normaliseOpset6(n); err != nil {
			return err
		}
	}
	switch n.Op {
	case "Upsample":
		if err := d.upsampleToResize(n); err != nil {
			return err
		}
	case "Softmax", "LogSoftmax", "Hardmax":
		if d.opset >= 13 {
			break
		}
		axis, err := n.Attrs.Int("axis", 1)
		if err != nil {
			return d.nodeErr(n, "%v", err)
		}
		if n.Attrs == nil {
			n.Attrs = graph.Attrs{}
		}
		n.Attrs["axis"] = axis
		if axis != -1 {
			d.legacySoftmax = append(d.legacySoftmax, n)
		}
	case "BatchNormalization":
		if v, ok := n.Attrs["spatial"]; ok {
			if v != 1 {
				return d.nodeErr(n, "spatial=%v (per-activation statistics) is not supported", v)
			}
			delete(n.Attrs, "spatial")
		}
	}
	if d.opset >= 18 {
		return d.normaliseOpset18(n)
	}
	return nil
}

// checkLegacySoftmax checks that pre-opset-13 Softmax-like nodes, which
// flatten their input to 2-D at axis, compute what the opset-13 op does
// with the same axis: true when every dimension after axis is 1.
func (d *decoder) checkLegacySoftmax() error {
	if len(d.legacySoftmax) == 0 {
		return nil
	}
	s1, s2, err := inferShapes(d.g)
	if err != nil {
		n := d.legacySoftmax[0]
		return d.nodeErr(n, "opset %d %s flattens its input to 2-D; checking that opset 13 means the same needs shape inference, which failed: %v", d.opset, n.Op, err)
	}
	for _, n := range d.legacySoftmax {
		axis, _ := n.Attrs.Int("axis", 1)
		if len(n.Inputs) == 0 {
			return d.nodeErr(n, "no input")
		}
		in := n.Inputs[0]
		shape := s1[in]
		r := len(shape)
		a := axis
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r {
			return d.nodeErr(n, "axis %d is out of range for input shape %s", axis, shapeStr(shape))
		}
		for i := a + 1; i < r; i++ {
			if shape[i] != 1 || (s2 != nil && s2[in][i] != 1) {
				return d.nodeErr(n, "opset %d %s flattens its input (shape %s) to 2-D at axis %d, which opset 13 does not do: re-export the model with opset 13 or later", d.opset, n.Op, shapeStr(shape), axis)
			}
		}
	}
	return nil
}

// inferShapes compiles a shallow copy of g and infers the shapes of every
// value at batch 1 and, when the graph allows it, batch 2 (s2 is nil
// otherwise). The op implementations are not the reader's own, so a panic
// in one is turned into an error rather than crash the caller.
func inferShapes(g *graph.Graph) (s1, s2 map[string][]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			s1, s2 = nil, nil
			err = fmt.Errorf("panic in shape inference (a bug in package graph): %v", r)
		}
	}()
	sg := *g
	sg.Nodes = append([]*graph.Node(nil), g.Nodes...)
	p, err := cpu.Compile(&sg)
	if err != nil {
		return nil, nil, err
	}
	m, err := p.InferShapes(1)
	if err != nil {
		return nil, nil, err
	}
	s1 = make(map[string][]int, len(m))
	for k, v := range m {
		s1[k] = append([]int(nil), v...)
	}
	if m, err := p.InferShapes(2); err == nil {
		s2 = m
	}
	return s1, s2, nil
}

// dropoutRatios turns the constant ratio input of Dropout nodes (opset 12
// and later) back into the ratio attribute, the IR's form for Dropout (its
// op accepts both, and pre-12 files have the attribute): a param read by
// nothing else becomes the attribute and is dropped. Encode writes the
// attribute as an input again, so Dropout round-trips exactly.
func (d *decoder) dropoutRatios() {
	uses := map[string]int{}
	for _, n := range d.g.Nodes {
		for _, in := range n.Inputs {
			uses[in]++
		}
	}
	for _, o := range d.g.Outputs {
		uses[o.Name]++
	}
	params := d.g.ParamMap()
	drop := map[string]bool{}
	for _, n := range d.g.Nodes {
		if n.Op != "Dropout" || len(n.Inputs) < 2 || n.Inputs[1] == "" {
			continue
		}
		p := params[n.Inputs[1]]
		if p == nil || uses[p.Name] != 1 || len(p.Value.Data) != 1 || len(p.Value.Shape) != 0 {
			continue
		}
		if _, has := n.Attrs["ratio"]; has {
			continue
		}
		if n.Attrs == nil {
			n.Attrs = graph.Attrs{}
		}
		n.Attrs["ratio"] = p.Value.Data[0]
		n.Inputs[1] = ""
		for len(n.Inputs) > 1 && n.Inputs[len(n.Inputs)-1] == "" {
			n.Inputs = n.Inputs[:len(n.Inputs)-1]
		}
		drop[p.Name] = true
	}
	if len(drop) > 0 {
		d.g.Params = slices.DeleteFunc(d.g.Params, func(p *graph.Param) bool { return drop[p.Name] })
	}
}

// legacyBC is an opset-6 binary op whose second input broadcasts from
// axis of the first.
type legacyBC struct {
	n    *graph.Node
	axis int
}

// legacyBroadcastOps take opset 6's broadcast and axis attributes.
var legacyBroadcastOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true,
	"And": true, "Or": true, "Xor": true, "Equal": true, "Greater": true, "Less": true}

// normaliseOpset6 rewrites opset-6 forms: the broadcast/axis attributes of
// binary ops (opset 7 broadcasts numpy-style; an axis is resolved by
// alignLegacyBroadcast once shapes are known), Gemm's broadcast, and the
// is_test attribute of BatchNormalization and Dropout (is_test=0, training
// BatchNorm, becomes training_mode=1).
func (d *decoder) normaliseOpset6(n *graph.Node) error {
	switch {
	case legacyBroadcastOps[n.Op]:
		bc, err := n.Attrs.Int("broadcast", 0)
		if err != nil {
			return d.nodeErr(n, "%v", err)
		}
		axis, hasAxis := n.Attrs["axis"]
		delete(n.Attrs, "broadcast")
		delete(n.Attrs, "axis")
		if bc != 0 && hasAxis {
			a, ok := axis.(int)
			if !ok {
				return d.nodeErr(n, "attribute axis: want int, have %T", axis)
			}
			d.legacyBroadcast = append(d.legacyBroadcast, legacyBC{n, a})
		}
	case n.Op == "PRelu":
		// Before opset 7 a 1-D slope holds one value per channel (axis 1);
		// numpy broadcasting would align it with the last axis instead.
		d.legacyBroadcast = append(d.legacyBroadcast, legacyBC{n, 1})
	case n.Op == "Gemm":
		delete(n.Attrs, "broadcast")
	case n.Op == "BatchNormalization" || n.Op == "Dropout":
		if v, ok := n.Attrs["is_test"]; ok {
			delete(n.Attrs, "is_test")
			if v == 0 && n.Op == "BatchNormalization" {
				if len(n.Outputs) > 3 {
					return d.nodeErr(n, "is_test=0 (training) with saved mean and variance outputs is not supported")
				}
				n.Attrs["training_mode"] = 1
			}
		}
	}
	if len(n.Attrs) == 0 {
		n.Attrs = nil
	}
	return nil
}

// alignLegacyBroadcast gives the second input of opset-6 binary ops with an
// axis trailing 1-dimensions, so that numpy broadcasting aligns it at the
// axis: a param is reshaped (copied when shared), a value unsqueezed.
func (d *decoder) alignLegacyBroadcast() error {
	if len(d.legacyBroadcast) == 0 {
		return nil
	}
	st := propagate(d.g, 1)
	params := d.g.ParamMap()
	reads := map[string]int{}
	for _, n := range d.g.Nodes {
		for _, in := range n.Inputs {
			reads[in]++
		}
	}
	for _, lb := range d.legacyBroadcast {
		n := lb.n
		if len(n.Inputs) != 2 {
			return d.nodeErr(n, "want 2 inputs, have %d", len(n.Inputs))
		}
		a, b := st.shapes[n.Inputs[0]], st.shapes[n.Inputs[1]]
		if n.Op == "PRelu" && b != nil && len(b) != 1 {
			continue // a slope of full rank broadcasts as it is
		}
		if a == nil || b == nil {
			return d.nodeErr(n, "opset %d broadcast with axis %d needs the ranks of the inputs, which shape inference could not find", d.opset, lb.axis)
		}
		axis := lb.axis
		if axis < 0 {
			axis += len(a)
		}
		trailing := len(a) - axis - len(b)
		if axis < 0 || trailing < 0 {
			return d.nodeErr(n, "axis %d does not fit input shapes %s and %s", lb.axis, shapeStr(a), shapeStr(b))
		}
		if trailing == 0 {
			continue
		}
		shape := append(slices.Clone(b), make([]int, trailing)...)
		for i := len(b); i < len(shape); i++ {
			shape[i] = 1
		}
		if p := params[n.Inputs[1]]; p != nil {
			t := &tensor.Tensor{Shape: shape, Data: p.Value.Data}
			if reads[p.Name] > 1 {
				name := d.fresh(p.Name + "_aligned")
				d.g.AddParam(name, &tensor.Tensor{Shape: shape, Data: slices.Clone(p.Value.Data)}, false)
				reads[p.Name]--
				n.Inputs[1] = name
				continue
			}
			p.Value = t
			p.Axes = make([]graph.AxisRole, len(shape))
			continue
		}
		axes := make([]int, trailing)
		for i := range axes {
			axes[i] = len(b) + i
		}
		an := d.fresh(n.Name + "_axes")
		d.g.AddParam(an, intsTensor(axes), false)
		out := d.fresh(n.Inputs[1] + "_aligned")
		un := &graph.Node{Name: d.fresh(n.Name + "_align"), Op: "Unsqueeze", Inputs: []string{n.Inputs[1], an}, Outputs: []string{out}}
		n.Inputs[1] = out
		i := slices.Index(d.g.Nodes, n)
		d.g.Nodes = slices.Insert(d.g.Nodes, i, un)
	}
	return nil
}

// upsampleToResize rewrites Upsample (opsets 7–9, deprecated since 10) as
// the Resize that computes the same: asymmetric coordinates, nearest
// rounding down, scales as input 2 (an attribute before opset 9).
func (d *decoder) upsampleToResize(n *graph.Node) error {
	mode, err := n.Attrs.String("mode", "nearest")
	if err != nil {
		return d.nodeErr(n, "%v", err)
	}
	if mode == "bilinear" {
		mode = "linear"
	}
	x := ""
	if len(n.Inputs) > 0 {
		x = n.Inputs[0]
	}
	scales := ""
	switch {
	case len(n.Inputs) > 1:
		scales = n.Inputs[1]
	default:
		v, err := n.Attrs.Floats("scales", nil)
		if err != nil || v == nil {
			return d.nodeErr(n, "Upsample needs scales (an attribute before opset 9, an input since)")
		}
		scales = d.fresh(n.Name + "_scales")
		d.g.AddParam(scales, &tensor.Tensor{Shape: []int{len(v)}, Data: slices.Clone(v)}, false)
	}
	n.Op = "Resize"
	n.Inputs = []string{x, "", scales}
	n.Attrs = graph.Attrs{"mode": mode, "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
	return nil
}

// groupNormPerChannel rewrites the per-group scale and bias of opset-18
// GroupNormalization (num_groups elements) into opset 21's per-channel
// form, the IR's, by repeating each group's value over its channels. Only
// constant (param) values are rewritten; a computed per-group scale stays
// as it is, which the op runs as well.
func (d *decoder) groupNormPerChannel() error {
	if d.opset >= 21 {
		return nil
	}
	var nodes []*graph.Node
	for _, n := range d.g.Nodes {
		if n.Op == "GroupNormalization" {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	shapes, _, err := inferShapes(d.g)
	if err != nil {
		return d.nodeErr(nodes[0], "opset %d GroupNormalization has one scale and bias per group; rewriting them per channel (opset 21) needs shape inference, which failed: %v", d.opset, err)
	}
	params := d.g.ParamMap()
	var replaced []string
	for _, n := range nodes {
		groups, err := n.Attrs.Int("num_groups", 0)
		if err != nil || len(n.Inputs) < 3 {
			continue // the op's own checks name the problem
		}
		x := shapes[n.Inputs[0]]
		if len(x) < 2 || groups < 1 || x[1] == groups || x[1]%groups != 0 {
			continue
		}
		c := x[1]
		for i := 1; i <= 2; i++ {
			p := params[n.Inputs[i]]
			if p == nil || p.Value.Len() != groups {
				continue
			}
			t := tensor.New(c)
			for ch := range c {
				t.Data[ch] = p.Value.Data[ch/(c/groups)]
			}
			name := d.fresh(p.Name + "_per_channel")
			d.g.AddParam(name, t, p.Trainable)
			n.Inputs[i] = name
			replaced = append(replaced, p.Name)
		}
	}
	// The per-group params go when nothing else reads them.
	d.dropUnread(replaced...)
	return nil
}

// rnnLayouts rewrites LSTM and GRU nodes with layout=1 (batch first, from
// opset 14) into the layout-0 form of opset 13, the IR's: Transposes move
// X and the initial states to sequence (or direction) first, and the
// outputs back. Files written by shears then stay valid opset 13.
func (d *decoder) rnnLayouts() error {
	var nodes []*graph.Node
	for _, n := range d.g.Nodes {
		layout, err := n.Attrs.Int("layout", 0)
		if (n.Op != "LSTM" && n.Op != "GRU") || err != nil || layout == 0 {
			nodes = append(nodes, n)
			continue
		}
		if layout != 1 {
			return d.nodeErr(n, "attribute layout is %d: want 0 or 1", layout)
		}
		transpose := func(in, out string, perm ...int) *graph.Node {
			return &graph.Node{Name: d.fresh(n.Name + "_layout"), Op: "Transpose", Attrs: graph.Attrs{"perm": perm},
				Inputs: []string{in}, Outputs: []string{out}}
		}
		// X [batch, seq, input] and initial_h, initial_c [batch, dirs,
		// hidden] swap their first two axes.
		for _, i := range []int{0, 5, 6} {
			if i < len(n.Inputs) && n.Inputs[i] != "" && (i != 6 || n.Op == "LSTM") {
				name := d.fresh(n.Inputs[i] + "_seq_first")
				nodes = append(nodes, transpose(n.Inputs[i], name, 1, 0, 2))
				n.Inputs[i] = name
			}
		}
		nodes = append(nodes, n)
		// Y [seq, dirs, batch, hidden] → [batch, seq, dirs, hidden]; Y_h
		// and Y_c [dirs, batch, hidden] → [batch, dirs, hidden].
		for k, o := range n.Outputs {
			if o == "" {
				continue
			}
			name := d.fresh(o + "_seq_first")
			perm := []int{1, 0, 2}
			if k == 0 {
				perm = []int{2, 0, 1, 3}
			}
			nodes = append(nodes, transpose(name, o, perm...))
			n.Outputs[k] = name
		}
		delete(n.Attrs, "layout")
	}
	d.g.Nodes = nodes
	return nil
}
