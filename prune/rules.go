package prune

// The channel rule of each op: which channels of its inputs and outputs
// are the same, which param slices they own, and what is opaque.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// elementwise are the ops that act on each element separately: their
// output has their input's channels, on whichever axis they are.
var elementwise = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true,
	"Tanh": true, "Identity": true, "Neg": true, "Sqrt": true, "Exp": true, "Log": true,
	"Abs": true, "Reciprocal": true, "Clip": true, "Cast": true, "Dropout": true, "Erf": true,
	"Elu": true, "Selu": true, "Celu": true, "Softplus": true, "Softsign": true, "ThresholdedRelu": true,
}

// pools act on each channel of an N×C×… value separately: their output
// has their input's channels, which must be on axis 1.
var pools = map[string]bool{
	"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true,
}

// anyAxis are the ops whose rule follows the channels wherever a Transpose
// put them; every other op expects them on axis 1.
var anyAxis = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "PRelu": true, "MatMul": true,
	"Sum": true, "Mean": true, "Max": true, "Min": true,
	"Transpose": true, "ReduceMean": true, "ReduceSum": true, "ReduceMax": true, "ReduceMin": true,
	"Softmax": true, "LogSoftmax": true, "LayerNormalization": true, "Resize": true, "Shape": true,
	"Constant": true,
}

func (a *analyzer) node(n *graph.Node) {
	a.rule(n)
	// Every output with a channel axis must have a layout covering it; a
	// rule that left one out would otherwise drop channels silently.
	for _, o := range n.Outputs {
		if s := a.shapes[o]; o != "" && len(s) >= 2 && a.lays[o].size() != s[min(a.axisOf(o), len(s)-1)] {
			l := a.freshValue(o)
			a.sources = append(a.sources, source{n.Name, o, l, ""})
			a.block(l, fmt.Sprintf("%s %s: its output channels were not traced (a bug in package prune)", n.Op, n.Name))
		}
	}
	// Every param axis that holds the layer's output features must be in
	// a group, prunable or refused with the reason: a layer the rule could
	// not group is reported, never skipped. A node made opaque owns its
	// output's fixed channels, weights included; anything else left
	// unbound is a rule's oversight.
	for _, f := range a.featureParams(n) {
		if _, ok := a.bound[fmt.Sprintf("%s/%d", f.param, f.axis)]; ok {
			continue
		}
		size := a.params[f.param].Value.Shape[f.axis]
		why, opaque := a.opaques[n.Name]
		if l := a.lays[n.Outputs[0]]; opaque && l.size() == size {
			a.bind(f.param, f.axis, l)
			continue
		}
		if !opaque {
			why = fmt.Sprintf("%s %s: its weight %s was not grouped (a bug in package prune)", n.Op, n.Name, f.param)
		}
		a.refuse(n, why, "feature", f)
	}
}

// batchShape writes a value's shape with N for the batch (the analysis
// infers shapes at batch 2 when the batch is dynamic): N×8×6×6.
func batchShape(s []int) string {
	if len(s) == 0 {
		return tensor.ShapeString(s)
	}
	return "N" + strings.TrimPrefix(tensor.ShapeString(s), fmt.Sprint(s[0]))
}

// paramAxis is axis Axis of param Param.
type paramAxis struct {
	param string
	axis  int
}

// featureParams lists the param axes of n that hold its output features:
// a Conv's filters and bias (axis 0), a ConvTranspose's (weight axis 1),
// a Gemm's out axis and per-feature C,
// a MatMul param operand's out axis (the last of x·B, the second to last
// of A·x), BatchNormalization's four params, InstanceNormalization's scale
// and B and LayerNormalization's Scale and B (axis 0).
func (a *analyzer) featureParams(n *graph.Node) []paramAxis {
	var out []paramAxis
	add := func(i, axis int) {
		p := a.paramOf(n, i)
		if p == nil {
			return
		}
		if axis < 0 {
			axis += p.Value.Rank()
		}
		if axis >= 0 && axis < p.Value.Rank() {
			out = append(out, paramAxis{p.Name, axis})
		}
	}
	switch n.Op {
	case "InstanceNormalization":
		add(1, 0)
		add(2, 0)
	case "Conv":
		add(1, 0)
		add(2, 0)
	case "ConvTranspose":
		add(1, 1)
		add(2, 0)
	case "Gemm":
		if tb, _ := n.Attrs.Int("transB", 0); tb != 0 {
			add(1, 0)
		} else {
			add(1, 1)
		}
		if c := a.paramOf(n, 2); c != nil && c.Value.Rank() > 0 && c.Value.Shape[c.Value.Rank()-1] > 1 {
			add(2, -1)
		}
	case "MatMul":
		if p := a.paramOf(n, 1); p != nil && p.Value.Rank() >= 2 {
			add(1, -1)
		}
		if p := a.paramOf(n, 0); p != nil && p.Value.Rank() >= 2 {
			add(0, -2)
		}
	case "BatchNormalization":
		for i := 1; i <= 4; i++ {
			add(i, 0)
		}
	case "LayerNormalization":
		add(1, 0)
		add(2, 0)
	}
	return out
}

// refuse reports param axes of n that hold no channels of any value (a
// MatMul along a spatial axis, a LayerNorm's per-position scale): they
// become one fixed set of units, owned by n and refused with why. Axes of
// different sizes get a set each.
func (a *analyzer) refuse(n *graph.Node, why, word string, axes ...paramAxis) {
	bySize := map[int]layout{}
	for _, f := range axes {
		size := a.params[f.param].Value.Shape[f.axis]
		l := bySize[size]
		if l == nil {
			l = a.fresh(size)
			bySize[size] = l
			a.sources = append(a.sources, source{n.Name, n.Outputs[0], l, word})
			a.block(l, why)
		}
		a.bind(f.param, f.axis, l)
	}
}

func (a *analyzer) rule(n *graph.Node) {
	if !elementwise[n.Op] && !anyAxis[n.Op] {
		for _, in := range n.Inputs {
			if ax := a.axisOf(in); ax != 1 && a.lays[in] != nil {
				switch n.Op {
				case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
					a.opaque(n, "%s %s reshapes %s, whose channels a Transpose moved to axis %d (the end of a channel shuffle?)", n.Op, n.Name, in, ax)
				default:
					a.opaque(n, "%s %s reads %s with its channels on axis %d (moved there by a Transpose), not axis 1", n.Op, n.Name, in, ax)
				}
				return
			}
		}
	}
	switch {
	case elementwise[n.Op], pools[n.Op]:
		a.pass(n)
	default:
		switch n.Op {
		case "Conv":
			a.conv(n)
		case "ConvTranspose":
			a.convTranspose(n)
		case "Gemm":
			a.gemm(n)
		case "MatMul":
			a.matmul(n)
		case "BatchNormalization":
			a.batchNorm(n)
		case "InstanceNormalization":
			a.instanceNorm(n)
		case "LRN":
			a.opaque(n, "LRN %s normalises across neighbouring channels", n.Name)
		case "Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Sum", "Mean", "Max", "Min":
			a.binary(n)
		case "Concat":
			a.concat(n)
		case "Split":
			a.split(n)
		case "Slice":
			a.slice(n)
		case "Flatten", "Reshape", "Squeeze", "Unsqueeze":
			a.view(n)
		case "Transpose":
			a.transpose(n)
		case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin":
			a.reduce(n)
		case "Softmax", "LogSoftmax":
			a.softmax(n)
		case "LayerNormalization":
			a.layerNorm(n)
		case "Pad":
			a.pad(n)
		case "Resize":
			a.resize(n)
		case "Gather":
			a.gather(n)
		case "Expand":
			a.expand(n)
		case "Shape":
			a.opaque(n, "Shape %s reads the channel count", n.Name)
		case "Constant":
			a.opaque(n, "Constant %s holds its tensor in an attribute (make it a param to prune it)", n.Name)
		default:
			a.opaque(n, "%s %s: no channel rule for op %s", n.Op, n.Name, n.Op)
		}
	}
}

// conv: a new channel axis on the output (W axis 0 and the bias); the
// input's channels are read through W axis 1. Grouped convolutions with one
// input channel per group (depthwise, possibly with a channel multiplier)
// are pruned a group at a time: input channel k and output channels of
// group k go together, and the group count shrinks. Other grouped
// convolutions keep their group count: channel p of every group is coupled
// with channel p of the others, on the input side and on the output side.
func (a *analyzer) conv(n *graph.Node) {
	x := n.Inputs[0]
	w := a.paramOf(n, 1)
	if w == nil || (hasInput(n, 2) && a.paramOf(n, 2) == nil) {
		a.opaque(n, "Conv %s: weight or bias is not a param", n.Name)
		return
	}
	xl := a.layoutOf(x)
	if xl == nil {
		a.opaque(n, "Conv %s: input %s has no channel axis", n.Name, x)
		return
	}
	group, _ := n.Attrs.Int("group", 1)
	m, cg := w.Value.Shape[0], w.Value.Shape[1]
	c := a.shapes[x][1]
	var out layout
	switch {
	case group == 1:
		a.bind(w.Name, 1, xl)
		out = a.fresh(m)
		a.sources = append(a.sources, source{n.Name, n.Outputs[0], out, ""})
	case len(xl) != c:
		a.opaque(n, "grouped conv %s: each channel of its input %s spans several positions (made by a Reshape that merged axes, such as a channel shuffle)", n.Name, x)
		return
	case cg == 1:
		mult := m / group
		out = a.fresh(m)
		for k := range group {
			for j := range mult {
				a.union(out[k*mult+j].e, xl[k].e)
			}
		}
		a.fixups = append(a.fixups, convGroupFixup{node: n.Name, weight: w.Name, perGroup: mult})
	default:
		for k := 1; k < group; k++ {
			for p := range cg {
				a.union(xl[k*cg+p].e, xl[p].e)
			}
		}
		a.bind(w.Name, 1, xl[:cg])
		out = a.fresh(m)
		mg := m / group
		for k := 1; k < group; k++ {
			for p := range mg {
				a.union(out[k*mg+p].e, out[p].e)
			}
		}
		a.sources = append(a.sources, source{n.Name, n.Outputs[0], out, ""})
	}
	a.bind(w.Name, 0, out)
	if b := a.paramOf(n, 2); b != nil {
		a.bind(b.Name, 0, out)
	}
	a.setLayout(n.Outputs[0], out)
}

// convTranspose: like a Conv with the weight's axes swapped, W being
// in×out×k…: new channels on its output (W axis 1 and the bias), the
// input's read through W axis 0. Grouped ones are refused.
func (a *analyzer) convTranspose(n *graph.Node) {
	x := n.Inputs[0]
	w := a.paramOf(n, 1)
	if w == nil || (hasInput(n, 2) && a.paramOf(n, 2) == nil) {
		a.opaque(n, "ConvTranspose %s: weight or bias is not a param", n.Name)
		return
	}
	xl := a.layoutOf(x)
	if xl == nil {
		a.opaque(n, "ConvTranspose %s: input %s has no channel axis", n.Name, x)
		return
	}
	if group, _ := n.Attrs.Int("group", 1); group != 1 {
		a.opaque(n, "ConvTranspose %s has %d groups (only ungrouped transposed convolutions are pruned)", n.Name, group)
		return
	}
	a.bind(w.Name, 0, xl)
	out := a.fresh(w.Value.Shape[1])
	a.sources = append(a.sources, source{n.Name, n.Outputs[0], out, ""})
	a.bind(w.Name, 1, out)
	if b := a.paramOf(n, 2); b != nil {
		a.bind(b.Name, 0, out)
	}
	a.setLayout(n.Outputs[0], out)
}

// linear is Gemm and MatMul by a 2-D param: new features on the output,
// the input's features read through the weight's in axis. The features
// are on axis 1 of an N×F input, or on the last axis of an N-d MatMul
// input whose channels a Transpose moved there (N×H×W×C).
func (a *analyzer) linear(n *graph.Node, w *graph.Param, inAxis int) {
	al := a.layoutOf(n.Inputs[0])
	if al == nil {
		a.opaque(n, "%s %s: input has no feature axis", n.Op, n.Name)
		return
	}
	ax := a.axisOf(n.Inputs[0])
	a.bind(w.Name, inAxis, al)
	o := n.Outputs[0]
	out := a.fresh(a.shapes[o][ax])
	a.bind(w.Name, 1-inAxis, out)
	a.sources = append(a.sources, source{n.Name, o, out, ""})
	a.setLayoutAt(o, out, ax)
}

func (a *analyzer) gemm(n *graph.Node) {
	ta, _ := n.Attrs.Int("transA", 0)
	tb, _ := n.Attrs.Int("transB", 0)
	w := a.paramOf(n, 1)
	switch {
	case ta != 0:
		a.opaque(n, "Gemm %s: transA=1 puts the batch on axis 1", n.Name)
		return
	case w == nil:
		a.opaque(n, "Gemm %s: B is not a param", n.Name)
		return
	case a.params[n.Inputs[0]] != nil:
		a.opaque(n, "Gemm %s: A is a param", n.Name)
		return
	}
	inAxis := 0
	if tb != 0 {
		inAxis = 1
	}
	a.linear(n, w, inAxis)
	out := a.lays[n.Outputs[0]]
	if out == nil || !hasInput(n, 2) {
		return
	}
	cName := n.Inputs[2]
	cs := a.shapes[cName]
	switch {
	case a.params[cName] != nil && len(cs) == 1 && cs[0] == len(out):
		a.bind(cName, 0, out)
	case a.params[cName] != nil && len(cs) == 2 && cs[1] == len(out):
		a.bind(cName, 1, out)
	case a.params[cName] == nil && len(cs) == 2 && cs[1] == len(out):
		if cl := a.layoutOf(cName); cl != nil {
			a.unite(out, cl, fmt.Sprintf("Gemm %s: C's features differ in structure from the output's", n.Name))
		}
	}
}

func (a *analyzer) matmul(n *graph.Node) {
	b := a.paramOf(n, 1)
	sa := a.shapes[n.Inputs[0]]
	switch {
	case b == nil || b.Value.Rank() != 2 || a.params[n.Inputs[0]] != nil:
		a.opaque(n, "MatMul %s: only activation × 2-D param is understood", n.Name)
	case len(sa) < 2:
		a.opaque(n, "MatMul %s: input %s has no channel axis", n.Name, n.Inputs[0])
	case len(sa) == 2 || a.axisOf(n.Inputs[0]) == len(sa)-1:
		a.linear(n, b, 0)
	default:
		// x[N,C,…,K]·B[K,M] acts on the last axis, not the channels:
		// they pass, and B's M outputs are no channels.
		a.pass(n)
		a.refuse(n, fmt.Sprintf("MatMul %s multiplies along axis %d, not the channel axis (axis %d of %s): its weight %s makes no channels",
			n.Name, len(sa)-1, a.axisOf(n.Inputs[0]), batchShape(sa), b.Name), "feature", paramAxis{b.Name, 1})
	}
}

func (a *analyzer) batchNorm(n *graph.Node) {
	for i := 1; i <= 4; i++ {
		if a.paramOf(n, i) == nil {
			a.opaque(n, "BatchNormalization %s: input %d is not a param", n.Name, i)
			return
		}
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && len(a.readers[o]) > 0 {
			a.opaque(n, "BatchNormalization %s: its statistics outputs are used", n.Name)
			return
		}
	}
	xl := a.layoutOf(n.Inputs[0])
	if xl == nil {
		a.opaque(n, "BatchNormalization %s: input has no channel axis", n.Name)
		return
	}
	for i := 1; i <= 4; i++ {
		a.bind(n.Inputs[i], 0, xl)
	}
	a.setLayout(n.Outputs[0], xl)
}

// instanceNorm: InstanceNormalization normalises each channel plane on
// its own, so channels pass, with their scale and B attached.
func (a *analyzer) instanceNorm(n *graph.Node) {
	for i := 1; i <= 2; i++ {
		if a.paramOf(n, i) == nil {
			a.opaque(n, "InstanceNormalization %s: input %d is not a param", n.Name, i)
			return
		}
	}
	xl := a.layoutOf(n.Inputs[0])
	if xl == nil {
		a.opaque(n, "InstanceNormalization %s: input has no channel axis", n.Name)
		return
	}
	a.bind(n.Inputs[1], 0, xl)
	a.bind(n.Inputs[2], 0, xl)
	a.setLayout(n.Outputs[0], xl)
}

// binary: numpy broadcasting aligns trailing axes; an operand whose axis
// aligned with the output's channel axis has the full channel count shares
// the channels (residual Add, squeeze-excitation Mul with N×C×1×1), a param
// operand contributes the slice of that axis, and operands of size 1 there
// (scalars, N×1×H×W maps) are broadcast and not coupled. The output's
// channel axis is that of the operands with channels (axis 1, or the last
// axis of N×H×W×C values); operands must agree on it.
func (a *analyzer) binary(n *graph.Node) {
	o := n.Outputs[0]
	so := a.shapes[o]
	r := len(so)
	if r < 2 {
		return
	}
	// oc is the output's channel axis: where the first operand with more
	// than one channel has them, else where the first operand with a
	// channel axis (of size 1) has it, else 1.
	oc, full := -1, false
	for _, in := range n.Inputs {
		s := a.shapes[in]
		if a.params[in] != nil || len(s) < 2 || a.layoutOf(in) == nil {
			continue
		}
		ax := a.axisOf(in)
		if k := ax + r - len(s); s[ax] != 1 && !full {
			oc, full = k, true
		} else if oc < 0 {
			oc = k
		}
	}
	if oc < 1 {
		oc = 1
	}
	var out, single layout
	type pv struct {
		name string
		axis int
	}
	var params []pv
	for _, in := range n.Inputs {
		s := a.shapes[in]
		k := oc - (r - len(s))
		if a.params[in] == nil && len(s) >= 2 {
			if ax := a.axisOf(in); ax != k && s[ax] != 1 {
				a.opaque(n, "%s %s: operand %s (%s) broadcasts its channel axis onto axis %d", n.Op, n.Name, in, tensor.ShapeString(s), ax+r-len(s))
				return
			}
		}
		if k < 0 || s[k] == 1 {
			// One channel (N×H×W×1 + ε in a LayerNorm): if the output
			// has one channel too, it is this one.
			if single == nil && a.params[in] == nil && len(s) >= 2 && k == a.axisOf(in) && so[oc] == 1 {
				single = a.layoutOf(in)
			}
			continue
		}
		if a.params[in] != nil {
			params = append(params, pv{in, k})
			continue
		}
		if len(s) < 2 || k != a.axisOf(in) {
			a.opaque(n, "%s %s: operand %s (%s) broadcasts its axis %d onto the channel axis", n.Op, n.Name, in, tensor.ShapeString(s), k)
			return
		}
		l := a.layoutOf(in)
		if out == nil {
			out = l
		} else {
			a.unite(out, l, fmt.Sprintf("%s %s: operands' channels differ in structure", n.Op, n.Name))
		}
	}
	if out == nil {
		out = single
	}
	if out == nil {
		out = a.freshValueAt(o, oc)
		a.sources = append(a.sources, source{n.Name, o, out, ""})
	}
	for _, p := range params {
		a.bind(p.name, p.axis, out)
	}
	a.setLayoutAt(o, out, oc)
}

func (a *analyzer) concat(n *graph.Node) {
	o := n.Outputs[0]
	so := a.shapes[o]
	if len(so) < 2 {
		return
	}
	axis, _ := n.Attrs.Int("axis", 0)
	ax, _ := resolveAxis(axis, len(so))
	var out layout
	if ax == 1 {
		base := 0
		for _, in := range n.Inputs {
			for _, u := range a.layoutOf(in) {
				out = append(out, unit{u.e, u.off + base, u.span})
			}
			base += a.shapes[in][1]
		}
	} else {
		for _, in := range n.Inputs {
			l := a.layoutOf(in)
			if out == nil {
				out = l
			} else {
				a.unite(out, l, fmt.Sprintf("Concat %s: inputs' channels differ in structure", n.Name))
			}
		}
	}
	a.setLayout(o, out)
}

// sub returns the units of l covering positions [lo, hi), shifted to start
// at 0; ok is false when a unit straddles lo or hi.
func (l layout) sub(lo, hi int) (layout, bool) {
	var s layout
	for _, u := range l {
		end := u.off + u.span
		switch {
		case end <= lo || u.off >= hi:
		case u.off >= lo && end <= hi:
			s = append(s, unit{u.e, u.off - lo, u.span})
		default:
			return nil, false
		}
	}
	return s, true
}

func (a *analyzer) split(n *graph.Node) {
	x := n.Inputs[0]
	si := a.shapes[x]
	axis, _ := n.Attrs.Int("axis", 0)
	ax, _ := resolveAxis(axis, len(si))
	if len(si) < 2 || ax != 1 {
		a.pass(n)
		return
	}
	if slices.Contains(n.Outputs, "") || (hasInput(n, 1) && a.paramOf(n, 1) == nil) {
		a.opaque(n, "Split %s: an output is omitted or the sizes are not a param", n.Name)
		return
	}
	xl := a.layoutOf(x)
	pos := 0
	outs := make([]layout, len(n.Outputs))
	for i, o := range n.Outputs {
		sz := a.shapes[o][1]
		l, ok := xl.sub(pos, pos+sz)
		if !ok {
			a.opaque(n, "Split %s cuts through a channel's features", n.Name)
			return
		}
		outs[i] = l
		pos += sz
	}
	for i, o := range n.Outputs {
		a.setLayout(o, outs[i])
	}
	a.fixups = append(a.fixups, splitFixup{node: n.Name})
}

func (a *analyzer) slice(n *graph.Node) {
	x := n.Inputs[0]
	si := a.shapes[x]
	if len(si) < 2 {
		a.pass(n)
		return
	}
	sl, err := readSlice(n, a.params)
	if err != nil {
		a.opaque(n, "Slice %s: %v", n.Name, err)
		return
	}
	entry := -1
	for i, ax := range sl.axes {
		if r, ok := resolveAxis(ax, len(si)); ok && r == 1 {
			entry = i
		}
	}
	if entry < 0 {
		a.pass(n)
		return
	}
	step := 1
	if sl.steps != nil {
		step = sl.steps[entry]
	}
	if step != 1 {
		a.opaque(n, "Slice %s takes every %d-th channel", n.Name, step)
		return
	}
	dim := si[1]
	b, e := sl.starts[entry], sl.ends[entry]
	if b < 0 {
		b += dim
	}
	if e < 0 {
		e += dim
	}
	b, e = max(0, min(b, dim)), max(0, min(e, dim))
	e = max(e, b)
	l, ok := a.layoutOf(x).sub(b, e)
	if !ok {
		a.opaque(n, "Slice %s cuts through a channel's features", n.Name)
		return
	}
	a.setLayout(n.Outputs[0], l)
	a.fixups = append(a.fixups, sliceFixup{node: n.Name, entry: entry, input: x, lo: b, hi: e})
}

// view is Flatten, Reshape, Squeeze and Unsqueeze: the data is unchanged
// and a channel occupies the same flat range of each sample; it must fill
// whole positions of the new axis 1 (N×C×H×W → N×(C·H·W) gives each
// channel H·W consecutive features).
func (a *analyzer) view(n *graph.Node) {
	x, o := n.Inputs[0], n.Outputs[0]
	si, so := a.shapes[x], a.shapes[o]
	xl := a.layoutOf(x)
	if xl == nil {
		if len(so) >= 2 {
			a.opaque(n, "%s %s makes a channel axis from %s", n.Op, n.Name, tensor.ShapeString(si))
		}
		return
	}
	if len(so) < 2 || so[0] != si[0] {
		a.opaque(n, "%s %s mixes the channel axis with the batch (%s → %s)", n.Op, n.Name, tensor.ShapeString(si), tensor.ShapeString(so))
		return
	}
	inner := func(s []int) int {
		p := 1
		for _, d := range s[2:] {
			p *= d
		}
		return p
	}
	ii, io := inner(si), inner(so)
	if ii == 0 || io == 0 {
		a.opaque(n, "%s %s: empty tensor", n.Op, n.Name)
		return
	}
	out := make(layout, len(xl))
	for i, u := range xl {
		lo, hi := u.off*ii, (u.off+u.span)*ii
		if lo%io != 0 || hi%io != 0 {
			a.opaque(n, "%s %s splits the channel axis (%s → %s; a channel shuffle?)", n.Op, n.Name, tensor.ShapeString(si), tensor.ShapeString(so))
			return
		}
		out[i] = unit{u.e, lo / io, (hi - lo) / io}
	}
	a.setLayout(o, out)
	if n.Op == "Reshape" {
		a.fixups = append(a.fixups, reshapeFixup{node: n.Name})
	}
}

// transpose follows the channel axis to its new place (ConvNeXt's
// N×C×H×W → N×H×W×C and back); moving the batch axis is opaque.
func (a *analyzer) transpose(n *graph.Node) {
	x := n.Inputs[0]
	r := len(a.shapes[x])
	perm, _ := n.Attrs.Ints("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, i)
		}
	}
	if r < 2 || a.layoutOf(x) == nil {
		a.pass(n)
		return
	}
	if perm[0] != 0 {
		a.opaque(n, "Transpose %s moves the batch axis (perm %v)", n.Name, perm)
		return
	}
	ax := a.axisOf(x)
	a.passTo(n, slices.Index(perm, ax))
}

func (a *analyzer) reduce(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	axes, _ := n.Attrs.Ints("axes", nil)
	if p := a.paramOf(n, 1); p != nil {
		axes = ints(p)
	} else if hasInput(n, 1) {
		a.opaque(n, "%s %s: axes are not a param", n.Op, n.Name)
		return
	}
	noop, _ := n.Attrs.Int("noop_with_empty_axes", 0)
	if len(axes) == 0 && noop != 0 {
		a.pass(n)
		return
	}
	ch := a.axisOf(n.Inputs[0])
	reduced := len(axes) == 0
	oax := ch
	keep, _ := n.Attrs.Int("keepdims", 1)
	for _, ax := range axes {
		x, ok := resolveAxis(ax, r)
		if ok && (x == 0 || x == ch) {
			reduced = true
		}
		if ok && x < ch && keep == 0 {
			oax--
		}
	}
	if reduced {
		why := "reduces over the batch or channel axis"
		if ch != 1 {
			why = fmt.Sprintf("reduces over the batch or channel axis (axis %d here; a LayerNorm over channels?)", ch)
		}
		a.opaque(n, "%s %s %s", n.Op, n.Name, why)
		return
	}
	a.passTo(n, oax)
}

func (a *analyzer) softmax(n *graph.Node) {
	axis, _ := n.Attrs.Int("axis", -1)
	if ax, _ := resolveAxis(axis, len(a.shapes[n.Inputs[0]])); ax == a.axisOf(n.Inputs[0]) {
		a.opaque(n, "%s %s normalises across channels", n.Op, n.Name)
		return
	}
	a.pass(n)
}

// layerNorm: LayerNormalization normalises over the axes from axis on; if
// they include the channels, removing one changes the others' mean and
// variance, so the channels are fixed. Otherwise its Scale and B run along
// the normalised axes only, and channels pass.
func (a *analyzer) layerNorm(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	axis, _ := n.Attrs.Int("axis", -1)
	ax, _ := resolveAxis(axis, r)
	ch := a.axisOf(n.Inputs[0])
	if ax <= ch {
		a.opaque(n, "LayerNormalization %s normalises across channels", n.Name)
		// Its Scale and B are per channel along the channel axis: they
		// belong to the fixed channels it makes.
		for i := 1; i <= 2; i++ {
			if p := a.paramOf(n, i); p != nil && ch-ax < p.Value.Rank() {
				a.bind(p.Name, ch-ax, a.lays[n.Outputs[0]])
			}
		}
		return
	}
	a.pass(n)
	// Scale and B run along the normalised axes, after the channels: they
	// are per position, not per channel.
	var axes []paramAxis
	for i := 1; i <= 2; i++ {
		if p := a.paramOf(n, i); p != nil && p.Value.Rank() > 0 {
			axes = append(axes, paramAxis{p.Name, 0})
		}
	}
	a.refuse(n, fmt.Sprintf("LayerNormalization %s normalises along axis %d onwards, not the channel axis (axis %d): its scale and bias are per position, not per channel",
		n.Name, ax, ch), "feature", axes...)
}

// resize: Resize (and imported Upsample) interpolates along the axes it
// resizes; the channels pass through unless it resizes their axis or the
// batch's.
func (a *analyzer) resize(n *graph.Node) {
	x, y := n.Inputs[0], n.Outputs[0]
	sx, sy := a.shapes[x], a.shapes[y]
	ch := a.axisOf(x)
	if len(sx) != len(sy) || ch >= len(sx) {
		a.opaque(n, "Resize %s: input %v and output %v", n.Name, sx, sy)
		return
	}
	if sx[0] != sy[0] || sx[ch] != sy[ch] {
		a.opaque(n, "Resize %s resizes the batch or channel axis (%v → %v)", n.Name, sx, sy)
		return
	}
	if p := a.paramOf(n, 2); p != nil && len(p.Value.Data) == len(sx) && (p.Value.Data[0] != 1 || p.Value.Data[ch] != 1) {
		a.opaque(n, "Resize %s scales the batch or channel axis (scales %v)", n.Name, p.Value.Data)
		return
	}
	a.pass(n)
}

func (a *analyzer) pad(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	pads, _ := n.Attrs.Ints("pads", nil)
	if pads == nil {
		pads, _ = n.Attrs.Ints("paddings", nil)
	}
	var axes []int
	if hasInput(n, 1) {
		p := a.paramOf(n, 1)
		if p == nil {
			a.opaque(n, "Pad %s: pads are not a param", n.Name)
			return
		}
		pads = ints(p)
		if hasInput(n, 3) {
			q := a.paramOf(n, 3)
			if q == nil {
				a.opaque(n, "Pad %s: axes are not a param", n.Name)
				return
			}
			axes = ints(q)
		}
	}
	if axes == nil {
		for i := range r {
			axes = append(axes, i)
		}
	}
	if len(pads) != 2*len(axes) {
		a.opaque(n, "Pad %s: %d pads for %d axes", n.Name, len(pads), len(axes))
		return
	}
	for i, ax := range axes {
		if x, _ := resolveAxis(ax, r); x <= 1 && (pads[i] != 0 || pads[i+len(axes)] != 0) {
			a.opaque(n, "Pad %s pads the batch or channel axis", n.Name)
			return
		}
	}
	a.pass(n)
}

func (a *analyzer) gather(n *graph.Node) {
	axis, _ := n.Attrs.Int("axis", 0)
	if ax, _ := resolveAxis(axis, len(a.shapes[n.Inputs[0]])); ax <= 1 {
		a.opaque(n, "Gather %s picks along the batch or channel axis", n.Name)
		return
	}
	a.pass(n)
}

func (a *analyzer) expand(n *graph.Node) {
	si, so := a.shapes[n.Inputs[0]], a.shapes[n.Outputs[0]]
	if len(si) != len(so) {
		a.opaque(n, "Expand %s changes the rank", n.Name)
		return
	}
	a.pass(n)
}

// sliceArgs are a Slice node's starts, ends, axes and steps.
type sliceArgs struct{ starts, ends, axes, steps []int }

func readSlice(n *graph.Node, params map[string]*graph.Param) (sliceArgs, error) {
	var s sliceArgs
	if !hasInput(n, 1) {
		s.starts, _ = n.Attrs.Ints("starts", nil)
		s.ends, _ = n.Attrs.Ints("ends", nil)
		s.axes, _ = n.Attrs.Ints("axes", nil)
	} else {
		for i, dst := range []*[]int{&s.starts, &s.ends, &s.axes, &s.steps} {
			if !hasInput(n, i+1) {
				continue
			}
			p := params[n.Inputs[i+1]]
			if p == nil {
				return s, fmt.Errorf("input %d is not a param", i+1)
			}
			*dst = ints(p)
		}
	}
	if len(s.starts) != len(s.ends) {
		return s, fmt.Errorf("starts and ends differ in length")
	}
	if s.axes == nil {
		for i := range s.starts {
			s.axes = append(s.axes, i)
		}
	}
	if len(s.axes) != len(s.starts) || (s.steps != nil && len(s.steps) != len(s.starts)) {
		return s, fmt.Errorf("axes or steps differ in length from starts")
	}
	return s, nil
}
