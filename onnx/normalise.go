package onnx

import (
	"fmt"
	"slices"

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
	switch n.Op {
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
	p, err := graph.Compile(&sg)
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
