package prune

// The channel rule of each op: which channels of its inputs and outputs
// are the same, which param slices they own, and what is opaque.

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Rule is the channel rule of an op type: how a node of that type moves,
// makes or fixes channels. Rules are registered per op type with
// RegisterRule (Torch-Pruning's per-layer pruner table); the built-in ones
// are registered in this file's init, and an op without a rule is opaque.
type Rule struct {
	// Apply traces the node through the analysis: give each output its
	// channels (Analysis.Pass, Analysis.NewChannels, Analysis.SetLayout),
	// bind the param axes that hold them (Analysis.Bind), tie channels
	// that must stay equal (Analysis.Unite), or give up on the node with
	// a reason (Analysis.Opaque).
	Apply func(a *Analysis, n *graph.Node)
	// AnyAxis says that Apply follows the channels wherever a Transpose
	// put them. Otherwise an input whose channels are not on axis 1 makes
	// the node opaque before Apply runs.
	AnyAxis bool
	// Features lists the param axes of the node that hold its output
	// features (a conv's filters and bias). Analyze checks that each ends
	// up grouped: bound by Apply, owned by an opaque node's fixed
	// channels, or else reported as a bug in the rule, never skipped. Nil:
	// the op owns no such params.
	Features func(a *Analysis, n *graph.Node) []ParamAxis
}

var (
	rulesMu sync.RWMutex
	rules   = map[string]Rule{}
)

// RegisterRule sets the channel rule of an op type, replacing any earlier
// one (a custom op registered with graph.RegisterOp gets one this way).
// It panics on a rule without Apply, a programming error.
func RegisterRule(opType string, r Rule) {
	if r.Apply == nil {
		panic(fmt.Sprintf("prune: RegisterRule(%q) needs an Apply function", opType))
	}
	rulesMu.Lock()
	defer rulesMu.Unlock()
	rules[opType] = r
}

// RuleFor returns the channel rule of an op type.
func RuleFor(opType string) (Rule, bool) {
	rulesMu.RLock()
	defer rulesMu.RUnlock()
	r, ok := rules[opType]
	return r, ok
}

func init() {
	// Elementwise ops act on each element separately: their output has
	// their input's channels, on whichever axis they are.
	for _, op := range []string{"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish",
		"Tanh", "Identity", "Neg", "Sqrt", "Exp", "Log", "Abs", "Reciprocal", "Clip", "Cast", "Dropout", "Erf",
		"Elu", "Selu", "Celu", "Softplus", "Softsign", "ThresholdedRelu", "Gelu", "Mish", "Not", "IsNaN", "IsInf", "Floor", "Ceil", "Round", "Sign"} {
		RegisterRule(op, Rule{Apply: (*Analysis).Pass, AnyAxis: true})
	}
	// Pools act on each channel of an N×C×… value separately: their
	// output has their input's channels, which must be on axis 1.
	for _, op := range []string{"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"} {
		RegisterRule(op, Rule{Apply: (*Analysis).Pass})
	}
	// Elementwise ops of several operands (comparisons, logic, Where's
	// condition and branches included) couple their operands' channels.
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Sum", "Mean", "Max", "Min",
		"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Mod", "Where"} {
		RegisterRule(op, Rule{Apply: (*Analysis).binary, AnyAxis: true})
	}
	for _, op := range []string{"Flatten", "Reshape", "Squeeze", "Unsqueeze"} {
		RegisterRule(op, Rule{Apply: (*Analysis).view, AnyAxis: true})
	}
	// Reductions pass the channels they do not reduce.
	for _, op := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
		"ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"} {
		RegisterRule(op, Rule{Apply: (*Analysis).reduce, AnyAxis: true})
	}
	for _, op := range []string{"Softmax", "LogSoftmax"} {
		RegisterRule(op, Rule{Apply: (*Analysis).softmax, AnyAxis: true})
	}
	RegisterRule("Conv", Rule{Apply: (*Analysis).conv, AnyAxis: true, Features: features(1, 0, 2, 0)})
	RegisterRule("ConvTranspose", Rule{Apply: (*Analysis).convTranspose, Features: features(1, 1, 2, 0)})
	RegisterRule("Gemm", Rule{Apply: (*Analysis).gemm, Features: gemmFeatures})
	RegisterRule("MatMul", Rule{Apply: (*Analysis).matmul, AnyAxis: true, Features: matmulFeatures})
	RegisterRule("BatchNormalization", Rule{Apply: (*Analysis).batchNorm, Features: features(1, 0, 2, 0, 3, 0, 4, 0)})
	RegisterRule("InstanceNormalization", Rule{Apply: (*Analysis).instanceNorm, Features: features(1, 0, 2, 0)})
	RegisterRule("LayerNormalization", Rule{Apply: (*Analysis).layerNorm, AnyAxis: true, Features: features(1, 0, 2, 0)})
	RegisterRule("GroupNormalization", Rule{Apply: (*Analysis).groupNorm, Features: features(1, 0, 2, 0)})
	RegisterRule("LRN", Rule{Apply: opaqueRule("LRN %s normalises across neighbouring channels")})
	RegisterRule("Concat", Rule{Apply: (*Analysis).concat, AnyAxis: true})
	RegisterRule("Split", Rule{Apply: (*Analysis).split})
	RegisterRule("Slice", Rule{Apply: (*Analysis).slice})
	RegisterRule("Transpose", Rule{Apply: (*Analysis).transpose, AnyAxis: true})
	RegisterRule("Pad", Rule{Apply: (*Analysis).pad, AnyAxis: true})
	RegisterRule("Resize", Rule{Apply: (*Analysis).resize, AnyAxis: true})
	RegisterRule("Gather", Rule{Apply: (*Analysis).gather})
	RegisterRule("Expand", Rule{Apply: (*Analysis).expand})
	RegisterRule("ConstantOfShape", Rule{Apply: (*Analysis).constantOfShape})
	RegisterRule("Shape", Rule{Apply: opaqueRule("Shape %s reads the channel count"), AnyAxis: true})
	RegisterRule("Size", Rule{Apply: opaqueRule("Size %s reads the channel count"), AnyAxis: true})
	for _, op := range []string{"ArgMax", "ArgMin"} {
		RegisterRule(op, Rule{Apply: (*Analysis).argExtreme, AnyAxis: true})
	}
	RegisterRule("Constant", Rule{Apply: opaqueRule("Constant %s holds its tensor in an attribute (make it a param to prune it)"), AnyAxis: true})
	RegisterRule("Tile", Rule{Apply: (*Analysis).tile, AnyAxis: true})
	RegisterRule("Einsum", Rule{Apply: (*Analysis).einsum, AnyAxis: true, Features: einsumFeatures})
	// A recurrent layer's hidden units feed back into all its gates at
	// every step; no rule traces them yet.
	RegisterRule("LSTM", Rule{Apply: opaqueRule("LSTM %s: its hidden units feed back into every gate at each step, which no channel rule traces"), AnyAxis: true})
	RegisterRule("GRU", Rule{Apply: opaqueRule("GRU %s: its hidden units feed back into every gate at each step, which no channel rule traces"), AnyAxis: true})
}

// opaqueRule makes every node of an op opaque, format being the reason
// with %s for the node's name.
func opaqueRule(format string) func(*Analysis, *graph.Node) {
	return func(a *Analysis, n *graph.Node) { a.Opaque(n, format, n.Name) }
}

func (a *Analysis) node(n *graph.Node) {
	r, ok := RuleFor(n.Op)
	a.rule(n, r, ok)
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
	var feats []ParamAxis
	if r.Features != nil {
		feats = r.Features(a, n)
	}
	for _, f := range feats {
		if p := a.params[f.Param]; p == nil || f.Axis < 0 || f.Axis >= p.Value.Rank() {
			a.Opaque(n, "%s %s: its rule lists axis %d of param %q as a feature axis, which the param does not have (a bug in the rule)", n.Op, n.Name, f.Axis, f.Param)
			continue
		}
		if _, ok := a.bound[fmt.Sprintf("%s/%d", f.Param, f.Axis)]; ok {
			continue
		}
		size := a.params[f.Param].Value.Shape[f.Axis]
		why, opaque := a.opaques[n.Name]
		if l := a.lays[n.Outputs[0]]; opaque && l.size() == size {
			a.bind(f.Param, f.Axis, l)
			continue
		}
		if !opaque {
			why = fmt.Sprintf("%s %s: its weight %s was not grouped (a bug in package prune)", n.Op, n.Name, f.Param)
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

// ParamAxis is axis Axis of param Param.
type ParamAxis struct {
	Param string
	Axis  int
}

// features lists, as Rule.Features, axis pairs[k+1] of the param at input
// pairs[k] for each k (a negative axis counts from the end), skipping
// inputs that are not params and axes the param lacks.
func features(pairs ...int) func(*Analysis, *graph.Node) []ParamAxis {
	return func(a *Analysis, n *graph.Node) []ParamAxis {
		var out []ParamAxis
		for k := 0; k+1 < len(pairs); k += 2 {
			out = a.feature(out, n, pairs[k], pairs[k+1])
		}
		return out
	}
}

// feature appends axis axis of the param at input i, if there is one.
func (a *Analysis) feature(out []ParamAxis, n *graph.Node, i, axis int) []ParamAxis {
	p := a.paramOf(n, i)
	if p == nil {
		return out
	}
	if axis < 0 {
		axis += p.Value.Rank()
	}
	if axis >= 0 && axis < p.Value.Rank() {
		out = append(out, ParamAxis{Param: p.Name, Axis: axis})
	}
	return out
}

// gemmFeatures: the weight's out axis (where its op spec says) and a
// per-feature C's last axis.
func gemmFeatures(a *Analysis, n *graph.Node) []ParamAxis {
	var out []ParamAxis
	if _, use, ok := graph.WeightOf(a.g, n, a.params); ok {
		out = a.feature(out, n, use.Input, use.Out)
	}
	if c := a.paramOf(n, 2); c != nil && c.Value.Rank() > 0 && c.Value.Shape[c.Value.Rank()-1] > 1 {
		out = a.feature(out, n, 2, -1)
	}
	return out
}

// matmulFeatures: a param operand's out axis, the last of x·B and the
// second to last of A·x.
func matmulFeatures(a *Analysis, n *graph.Node) []ParamAxis {
	var out []ParamAxis
	if p := a.paramOf(n, 1); p != nil && p.Value.Rank() >= 2 {
		out = a.feature(out, n, 1, -1)
	}
	if p := a.paramOf(n, 0); p != nil && p.Value.Rank() >= 2 {
		out = a.feature(out, n, 0, -2)
	}
	return out
}

// refuse reports param axes of n that hold no channels of any value (a
// MatMul along a spatial axis, a LayerNorm's per-position scale): they
// become one fixed set of units, owned by n and refused with why. Axes of
// different sizes get a set each.
func (a *Analysis) refuse(n *graph.Node, why, word string, axes ...ParamAxis) {
	bySize := map[int]layout{}
	for _, f := range axes {
		size := a.params[f.Param].Value.Shape[f.Axis]
		l := bySize[size]
		if l == nil {
			l = a.fresh(size)
			bySize[size] = l
			a.sources = append(a.sources, source{n.Name, n.Outputs[0], l, word})
			a.block(l, why)
		}
		a.bind(f.Param, f.Axis, l)
	}
}

// rule applies n's channel rule; an op without one is opaque.
func (a *Analysis) rule(n *graph.Node, r Rule, ok bool) {
	if !r.AnyAxis {
		for _, in := range n.Inputs {
			a.relayoutInput(in, 1)
		}
		if a.offAxis(n, false) {
			return
		}
	}
	if !ok {
		a.Opaque(n, "%s %s: no channel rule for op %s", n.Op, n.Name, n.Op)
		return
	}
	r.Apply(a, n)
}

// offAxis makes n opaque, and reports so, when it reads a value whose
// channels a Transpose moved off axis 1; reshapes say why that is likely
// (the end of a channel shuffle).
func (a *Analysis) offAxis(n *graph.Node, reshapes bool) bool {
	for _, in := range n.Inputs {
		if ax := a.axisOf(in); ax != 1 && a.lays[in] != nil {
			if reshapes {
				a.Opaque(n, "%s %s reshapes %s, whose channels a Transpose moved to axis %d (the end of a channel shuffle?)", n.Op, n.Name, in, ax)
			} else {
				a.Opaque(n, "%s %s reads %s with its channels on axis %d (moved there by a Transpose), not axis 1", n.Op, n.Name, in, ax)
			}
			return true
		}
	}
	return false
}

// conv: a new channel axis on the output (W axis 0 and the bias); the
// input's channels are read through W axis 1. Grouped convolutions with one
// input channel per group (depthwise, possibly with a channel multiplier)
// are pruned a group at a time: input channel k and output channels of
// group k go together, and the group count shrinks. Other grouped
// convolutions keep their group count: channel p of every group is coupled
// with channel p of the others, on the input side and on the output side.
func (a *Analysis) conv(n *graph.Node) {
	x := n.Inputs[0]
	w := a.paramOf(n, 1)
	if w == nil || (hasInput(n, 2) && a.paramOf(n, 2) == nil) {
		a.Opaque(n, "Conv %s: weight or bias is not a param", n.Name)
		return
	}
	a.relayoutInput(x, 1)
	xl := a.layoutOf(x)
	if xl == nil {
		a.Opaque(n, "Conv %s: input %s has no channel axis", n.Name, x)
		return
	}
	group, _ := n.Attrs.Int("group", 1)
	m, cg := w.Value.Shape[0], w.Value.Shape[1]
	if ax := a.axisOf(x); ax != 1 {
		a.convOffAxis(n, w, group, ax)
		return
	}
	c := a.shapes[x][1]
	var out layout
	switch {
	case group == 1:
		a.bind(w.Name, 1, xl)
		out = a.fresh(m)
		a.sources = append(a.sources, source{n.Name, n.Outputs[0], out, ""})
	case len(xl) != c:
		a.Opaque(n, "grouped conv %s: each channel of its input %s spans several positions (made by a Reshape that merged axes, such as a channel shuffle)", n.Name, x)
		return
	case cg == 1:
		mult := m / group
		out = a.fresh(m)
		for k := range group {
			for j := range mult {
				a.union(out[k*mult+j].e, xl[k].e)
			}
		}
		a.fixups = append(a.fixups, groupCountFixup{node: n.Name, what: "conv", attr: "group", perGroup: mult})
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

// convOffAxis is a Conv reading a value whose channels a Transpose moved
// to axis ax: what its weight reads on axis 1 is no channel axis, so those
// channels and W's in axis are fixed. Its output still starts new
// channels on axis 1, its filters, whatever its input's layout; they are
// prunable unless the conv is grouped (a depthwise conv's outputs are its
// inputs' channels).
func (a *Analysis) convOffAxis(n *graph.Node, w *graph.Param, group, ax int) {
	x, o := n.Inputs[0], n.Outputs[0]
	why := fmt.Sprintf("Conv %s reads %s with its channels on axis %d (moved there by a Transpose), not axis 1", n.Name, x, ax)
	a.block(a.lays[x], why)
	a.refuse(n, why, "channel", ParamAxis{Param: w.Name, Axis: 1})
	out := a.fresh(w.Value.Shape[0])
	a.sources = append(a.sources, source{n.Name, o, out, ""})
	if group != 1 {
		a.opaques[n.Name] = why
		a.block(out, why)
	}
	a.bind(w.Name, 0, out)
	if b := a.paramOf(n, 2); b != nil {
		a.bind(b.Name, 0, out)
	}
	a.setLayout(o, out)
}

// convTranspose: like a Conv with the weight's axes swapped, W being
// in×out×k…: new channels on its output (W axis 1 and the bias), the
// input's read through W axis 0. Grouped ones are refused.
func (a *Analysis) convTranspose(n *graph.Node) {
	x := n.Inputs[0]
	w := a.paramOf(n, 1)
	if w == nil || (hasInput(n, 2) && a.paramOf(n, 2) == nil) {
		a.Opaque(n, "ConvTranspose %s: weight or bias is not a param", n.Name)
		return
	}
	xl := a.layoutOf(x)
	if xl == nil {
		a.Opaque(n, "ConvTranspose %s: input %s has no channel axis", n.Name, x)
		return
	}
	if group, _ := n.Attrs.Int("group", 1); group != 1 {
		a.Opaque(n, "ConvTranspose %s has %d groups (only ungrouped transposed convolutions are pruned)", n.Name, group)
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
func (a *Analysis) linear(n *graph.Node, w *graph.Param, inAxis int) {
	al := a.layoutOf(n.Inputs[0])
	if al == nil {
		a.Opaque(n, "%s %s: input has no feature axis", n.Op, n.Name)
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

func (a *Analysis) gemm(n *graph.Node) {
	ta, _ := n.Attrs.Int("transA", 0)
	w := a.paramOf(n, 1)
	switch {
	case ta != 0:
		a.Opaque(n, "Gemm %s: transA=1 puts the batch on axis 1", n.Name)
		return
	case w == nil:
		a.Opaque(n, "Gemm %s: B is not a param", n.Name)
		return
	case a.params[n.Inputs[0]] != nil:
		a.Opaque(n, "Gemm %s: A is a param", n.Name)
		return
	}
	_, use, _ := graph.WeightOf(a.g, n, a.params)
	a.linear(n, w, use.In)
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

func (a *Analysis) matmul(n *graph.Node) {
	if a.batchedMatMul(n) {
		return
	}
	b := a.paramOf(n, 1)
	sa := a.shapes[n.Inputs[0]]
	if len(sa) > 2 {
		// x·B reads the last axis of a graph input's N×…×F value.
		a.relayoutInput(n.Inputs[0], len(sa)-1)
	}
	switch {
	case b == nil || b.Value.Rank() != 2 || a.params[n.Inputs[0]] != nil:
		a.Opaque(n, "MatMul %s: only activation × 2-D param is understood", n.Name)
	case len(sa) < 2:
		a.Opaque(n, "MatMul %s: input %s has no channel axis", n.Name, n.Inputs[0])
	case len(sa) == 2 || a.axisOf(n.Inputs[0]) == len(sa)-1:
		a.linear(n, b, 0)
	default:
		// x[N,C,…,K]·B[K,M] acts on the last axis, not the channels:
		// they pass, and B's M outputs are no channels.
		a.Pass(n)
		a.refuse(n, fmt.Sprintf("MatMul %s multiplies along axis %d, not the channel axis (axis %d of %s): its weight %s makes no channels",
			n.Name, len(sa)-1, a.axisOf(n.Inputs[0]), batchShape(sa), b.Name), "feature", ParamAxis{Param: b.Name, Axis: 1})
	}
}

// batchedMatMul handles a product of two activations whose channels are
// on the same leading (batch) axis of the product, not on a multiplied
// one: attention's scores Q·Kᵀ and its weighted sum P·V, per head. The
// operands' channels are coupled and pass to the output. It reports
// whether n was one.
func (a *Analysis) batchedMatMul(n *graph.Node) bool {
	x, y := n.Inputs[0], n.Inputs[1]
	if a.params[x] != nil || a.params[y] != nil {
		return false
	}
	lx, ly := a.lays[x], a.lays[y]
	sx, sy := a.shapes[x], a.shapes[y]
	if lx == nil || ly == nil || len(sx) != len(sy) || len(sx) < 3 {
		return false
	}
	ch := a.axisOf(x)
	if ch != a.axisOf(y) || ch == 0 || ch >= len(sx)-2 {
		return false
	}
	a.unite(lx, ly, fmt.Sprintf("MatMul %s: its operands' channels differ in structure", n.Name))
	a.setLayoutAt(n.Outputs[0], lx, ch)
	return true
}

func (a *Analysis) batchNorm(n *graph.Node) {
	for i := 1; i <= 4; i++ {
		if a.paramOf(n, i) == nil {
			a.Opaque(n, "BatchNormalization %s: input %d is not a param", n.Name, i)
			return
		}
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && len(a.readers[o]) > 0 {
			a.Opaque(n, "BatchNormalization %s: its statistics outputs are used", n.Name)
			return
		}
	}
	xl := a.layoutOf(n.Inputs[0])
	if xl == nil {
		a.Opaque(n, "BatchNormalization %s: input has no channel axis", n.Name)
		return
	}
	for i := 1; i <= 4; i++ {
		a.bind(n.Inputs[i], 0, xl)
	}
	a.setLayout(n.Outputs[0], xl)
}

// instanceNorm: InstanceNormalization normalises each channel plane on
// its own, so channels pass, with their scale and B attached.
func (a *Analysis) instanceNorm(n *graph.Node) {
	for i := 1; i <= 2; i++ {
		if a.paramOf(n, i) == nil {
			a.Opaque(n, "InstanceNormalization %s: input %d is not a param", n.Name, i)
			return
		}
	}
	xl := a.layoutOf(n.Inputs[0])
	if xl == nil {
		a.Opaque(n, "InstanceNormalization %s: input has no channel axis", n.Name)
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
func (a *Analysis) binary(n *graph.Node) {
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
				a.Opaque(n, "%s %s: operand %s (%s) broadcasts its channel axis onto axis %d", n.Op, n.Name, in, tensor.ShapeString(s), ax+r-len(s))
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
			a.Opaque(n, "%s %s: operand %s (%s) broadcasts its axis %d onto the channel axis", n.Op, n.Name, in, tensor.ShapeString(s), k)
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

// concat lays its inputs' channels side by side when it joins them along
// their channel axis (axis 1, or the last axis of N×H×W×C values): each
// consumer prunes every producer's slice at its offset (DenseNet), and a
// param operand (zeros padding a shortcut to more channels) gets its slice
// of that axis. Along another axis the inputs' channels are the same.
func (a *Analysis) concat(n *graph.Node) {
	o := n.Outputs[0]
	so := a.shapes[o]
	if len(so) < 2 {
		return
	}
	axis, _ := n.Attrs.Int("axis", 0)
	ax, _ := resolveAxis(axis, len(so))
	ch := 1
	for _, in := range n.Inputs {
		if l := a.lays[in]; l != nil && a.params[in] == nil && len(l) > 0 && a.inputs[l[0].e] == "" {
			ch = a.axisOf(in)
			break
		}
	}
	lays := make([]layout, len(n.Inputs))
	for i, in := range n.Inputs {
		switch {
		case a.params[in] != nil && ch != 1:
			l := a.lays[in]
			if l == nil || a.axisOf(in) != ch {
				l = a.freshValueAt(in, ch)
				a.sources = append(a.sources, source{in, in, l, ""})
				a.bind(in, ch, l)
			}
			lays[i] = l
		default:
			a.relayoutInput(in, ch)
			lays[i] = a.layoutOf(in)
			if lays[i] != nil && a.axisOf(in) != ch {
				a.Opaque(n, "Concat %s: input %s has its channels on axis %d, the others on axis %d", n.Name, in, a.axisOf(in), ch)
				return
			}
		}
	}
	var out layout
	if ax == ch {
		base := 0
		for i, in := range n.Inputs {
			for _, u := range lays[i] {
				out = append(out, unit{u.e, u.off + base, u.span})
			}
			base += a.shapes[in][ch]
		}
	} else {
		for _, l := range lays {
			if out == nil {
				out = l
			} else {
				a.unite(out, l, fmt.Sprintf("Concat %s: inputs' channels differ in structure", n.Name))
			}
		}
	}
	a.setLayoutAt(o, out, ch)
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

func (a *Analysis) split(n *graph.Node) {
	x := n.Inputs[0]
	si := a.shapes[x]
	axis, _ := n.Attrs.Int("axis", 0)
	ax, _ := resolveAxis(axis, len(si))
	if len(si) < 2 || ax != 1 {
		a.Pass(n)
		return
	}
	if slices.Contains(n.Outputs, "") || (hasInput(n, 1) && a.paramOf(n, 1) == nil) {
		a.Opaque(n, "Split %s: an output is omitted or the sizes are not a param", n.Name)
		return
	}
	xl := a.layoutOf(x)
	pos := 0
	outs := make([]layout, len(n.Outputs))
	for i, o := range n.Outputs {
		sz := a.shapes[o][1]
		l, ok := xl.sub(pos, pos+sz)
		if !ok {
			a.Opaque(n, "Split %s cuts through a channel's features", n.Name)
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

func (a *Analysis) slice(n *graph.Node) {
	x := n.Inputs[0]
	si := a.shapes[x]
	if len(si) < 2 {
		a.Pass(n)
		return
	}
	sl, err := readSlice(n, a.params)
	if err != nil {
		a.Opaque(n, "Slice %s: %v", n.Name, err)
		return
	}
	entry := -1
	for i, ax := range sl.axes {
		if r, ok := resolveAxis(ax, len(si)); ok && r == 1 {
			entry = i
		}
	}
	if entry < 0 {
		a.Pass(n)
		return
	}
	step := 1
	if sl.steps != nil {
		step = sl.steps[entry]
	}
	if step != 1 {
		a.Opaque(n, "Slice %s takes every %d-th channel", n.Name, step)
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
		a.Opaque(n, "Slice %s cuts through a channel's features", n.Name)
		return
	}
	a.setLayout(n.Outputs[0], l)
	a.fixups = append(a.fixups, sliceFixup{node: n.Name, entry: entry, input: x, lo: b, hi: e})
}

// view is Flatten, Reshape, Squeeze and Unsqueeze: the data is unchanged
// and a channel occupies the same flat range of each sample; it must fill
// whole positions of the new axis 1 (N×C×H×W → N×(C·H·W) gives each
// channel H·W consecutive features).
func (a *Analysis) view(n *graph.Node) {
	a.relayoutInput(n.Inputs[0], 1)
	if si, so := a.shapes[n.Inputs[0]], a.shapes[n.Outputs[0]]; a.lays[n.Inputs[0]] != nil && len(si) > 2 && a.axisOf(n.Inputs[0]) == len(si)-1 &&
		len(so) >= 2 && so[0] == si[0] && so[len(so)-1] == si[len(si)-1] {
		// A channels-last view that keeps the last axis (Keras' global
		// pooling squeezed, N×1×1×C → N×C; tokens, N×H×W×C → N×H·W×C):
		// the channels stay where they are, last.
		a.setLayoutAt(n.Outputs[0], a.lays[n.Inputs[0]], len(so)-1)
		if n.Op == "Reshape" {
			a.fixups = append(a.fixups, reshapeFixup{node: n.Name, axis: len(so) - 1})
		}
		return
	}
	if si, so := a.shapes[n.Inputs[0]], a.shapes[n.Outputs[0]]; len(si) > 2 && len(so) == 2 && a.lays[n.Inputs[0]] != nil && a.axisOf(n.Inputs[0]) == len(si)-1 {
		// Keras' Flatten of an N×H×W×C value: channel c owns every C-th
		// feature, not a run of them.
		a.Opaque(n, "%s %s flattens %s channels-last (%s → %s): each channel's features are strided, which pruning cannot slice",
			n.Op, n.Name, n.Inputs[0], batchShape(si), batchShape(so))
		return
	}
	if x, o := n.Inputs[0], n.Outputs[0]; a.lays[x] != nil && !a.fromInput(a.lays[x]) {
		// A view that only inserts or drops axes of size 1 (Unsqueeze(x, 1)
		// of an N×C×L signal, Squeeze of N×1×C×L) moves the channel axis
		// but keeps it whole: the channels follow it. (A graph input's
		// channels are wherever its consumers put them: relayoutInput.)
		ch := a.axisOf(x)
		if k, ok := unitAxesMove(a.shapes[x], a.shapes[o], ch); ok && (k != 1 || ch != 1) {
			a.setLayoutAt(o, a.lays[x], k)
			if n.Op == "Reshape" {
				a.fixups = append(a.fixups, reshapeFixup{node: n.Name, axis: k})
			}
			return
		}
	}
	if n.Op == "Reshape" && a.headView(n) {
		return
	}
	if a.offAxis(n, true) {
		return
	}
	x, o := n.Inputs[0], n.Outputs[0]
	si, so := a.shapes[x], a.shapes[o]
	xl := a.layoutOf(x)
	if xl == nil {
		if len(so) >= 2 {
			a.Opaque(n, "%s %s makes a channel axis from %s", n.Op, n.Name, tensor.ShapeString(si))
		}
		return
	}
	if len(so) < 2 || so[0] != si[0] {
		a.Opaque(n, "%s %s mixes the channel axis with the batch (%s → %s)", n.Op, n.Name, tensor.ShapeString(si), tensor.ShapeString(so))
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
		a.Opaque(n, "%s %s: empty tensor", n.Op, n.Name)
		return
	}
	out := make(layout, len(xl))
	for i, u := range xl {
		lo, hi := u.off*ii, (u.off+u.span)*ii
		if lo%io != 0 || hi%io != 0 {
			a.Opaque(n, "%s %s splits the channel axis (%s → %s; a channel shuffle?)", n.Op, n.Name, tensor.ShapeString(si), tensor.ShapeString(so))
			return
		}
		out[i] = unit{u.e, lo / io, (hi - lo) / io}
	}
	a.setLayout(o, out)
	if n.Op == "Reshape" {
		a.fixups = append(a.fixups, reshapeFixup{node: n.Name, axis: 1})
	}
}

// headView handles the Reshapes of an exported attention block, on token
// values whose channels are last (N×T×E): the split of the features into
// heads, N×T×E → N×T×H×D, and the merge back, N×T×H×D → N×T×E, with the
// heads as the channel axis in between. A split unites the D channels of
// each head, so that heads are pruned whole (the queries' and keys' heads
// meet in their product, the values' in the attention-weighted sum); the
// merge gives each head its D features again. It reports whether n was one
// of these.
func (a *Analysis) headView(n *graph.Node) bool {
	x, o := n.Inputs[0], n.Outputs[0]
	si, so := a.shapes[x], a.shapes[o]
	l := a.lays[x]
	if l == nil || len(si) < 3 || a.fromInput(l) {
		return false
	}
	ch := a.axisOf(x)
	switch {
	case ch == len(si)-1 && len(so) == len(si)+1 && slices.Equal(so[:ch], si[:ch]) &&
		so[ch] > 1 && so[ch+1] > 1 && so[ch]*so[ch+1] == si[ch]:
		// The split into H heads of D features.
		d := so[ch+1]
		units := slices.SortedFunc(slices.Values(l), func(u, v unit) int { return u.off - v.off })
		var out layout
		for i := 0; i < len(units); {
			u := units[i]
			if u.off%d == 0 && u.span%d == 0 {
				// One unit covers whole heads (a channel that already
				// spans several features).
				out = append(out, unit{u.e, u.off / d, u.span / d})
				i++
				continue
			}
			h := u.off / d
			j := i
			for j < len(units) && units[j].off+units[j].span <= (h+1)*d {
				a.union(u.e, units[j].e)
				j++
			}
			if u.off != h*d || j == i || units[j-1].off+units[j-1].span != (h+1)*d {
				a.Opaque(n, "Reshape %s splits %s into %d heads of %d, and a channel straddles two heads", n.Name, x, so[ch], d)
				return true
			}
			out = append(out, unit{u.e, h, 1})
			i = j
		}
		a.setLayoutAt(o, out, ch)
		a.fixups = append(a.fixups, reshapeFixup{node: n.Name, axis: ch})
		return true
	case ch == len(si)-2 && len(so) == len(si)-1 && slices.Equal(so[:ch], si[:ch]) && so[ch] == si[ch]*si[ch+1] && si[ch+1] > 1:
		// The merge of the heads' features.
		d := si[ch+1]
		out := make(layout, len(l))
		for i, u := range l {
			out[i] = unit{u.e, u.off * d, u.span * d}
		}
		a.setLayoutAt(o, out, ch)
		a.fixups = append(a.fixups, reshapeFixup{node: n.Name, axis: ch})
		return true
	}
	return false
}

// fromInput reports whether a layout's channels are a graph input's.
func (a *Analysis) fromInput(l layout) bool {
	return slices.ContainsFunc(l, func(u unit) bool { return a.inputs[u.e] != "" })
}

// unitAxesMove reports where axis ch of a value of shape si lands in the
// view so when the view only inserts or drops axes of size 1 (the batch
// staying first): ok is false when it does more, or when axis ch has size
// 1 and so cannot be told from the axes around it.
func unitAxesMove(si, so []int, ch int) (k int, ok bool) {
	if ch <= 0 || ch >= len(si) || si[ch] <= 1 || len(so) < 2 || so[0] != si[0] {
		return 0, false
	}
	var a, b []int // positions of the axes larger than 1, past the batch
	for i := 1; i < len(si); i++ {
		if si[i] > 1 {
			a = append(a, i)
		}
	}
	for j := 1; j < len(so); j++ {
		if so[j] > 1 {
			b = append(b, j)
		}
	}
	if len(a) != len(b) {
		return 0, false
	}
	k = -1
	for r := range a {
		if si[a[r]] != so[b[r]] {
			return 0, false
		}
		if a[r] == ch {
			k = b[r]
		}
	}
	return k, k > 0
}

// transpose follows the channel axis to its new place (ConvNeXt's
// N×C×H×W → N×H×W×C and back); moving the batch axis is opaque.
func (a *Analysis) transpose(n *graph.Node) {
	x := n.Inputs[0]
	r := len(a.shapes[x])
	perm, _ := n.Attrs.Ints("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, i)
		}
	}
	if r < 2 || a.layoutOf(x) == nil {
		a.Pass(n)
		return
	}
	if perm[0] != 0 {
		a.Opaque(n, "Transpose %s moves the batch axis (perm %v)", n.Name, perm)
		return
	}
	ax := a.axisOf(x)
	a.PassTo(n, slices.Index(perm, ax))
}

func (a *Analysis) reduce(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	axes, _ := n.Attrs.Ints("axes", nil)
	if p := a.paramOf(n, 1); p != nil {
		axes = ints(p)
	} else if hasInput(n, 1) {
		a.Opaque(n, "%s %s: axes are not a param", n.Op, n.Name)
		return
	}
	noop, _ := n.Attrs.Int("noop_with_empty_axes", 0)
	if len(axes) == 0 && noop != 0 {
		a.Pass(n)
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
		a.Opaque(n, "%s %s %s", n.Op, n.Name, why)
		return
	}
	a.PassTo(n, oax)
}

// argExtreme: ArgMax and ArgMin pass the channels when they pick along
// another axis (a per-pixel class map picks along the channels, which are
// then fixed).
func (a *Analysis) argExtreme(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	axis, _ := n.Attrs.Int("axis", 0)
	x, ok := resolveAxis(axis, r)
	ch := a.axisOf(n.Inputs[0])
	if !ok || x == 0 || x == ch {
		a.Opaque(n, "%s %s picks along the batch or channel axis", n.Op, n.Name)
		return
	}
	oax := ch
	if keep, _ := n.Attrs.Int("keepdims", 1); keep == 0 && x < ch {
		oax--
	}
	a.PassTo(n, oax)
}

func (a *Analysis) softmax(n *graph.Node) {
	axis, _ := n.Attrs.Int("axis", -1)
	if ax, _ := resolveAxis(axis, len(a.shapes[n.Inputs[0]])); ax == a.axisOf(n.Inputs[0]) {
		a.Opaque(n, "%s %s normalises across channels", n.Op, n.Name)
		return
	}
	a.Pass(n)
}

// layerNorm: LayerNormalization normalises over the axes from axis on; if
// they include the channels, removing one changes the others' mean and
// variance, so the channels are fixed. Otherwise its Scale and B run along
// the normalised axes only, and channels pass.
func (a *Analysis) layerNorm(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	axis, _ := n.Attrs.Int("axis", -1)
	ax, _ := resolveAxis(axis, r)
	ch := a.axisOf(n.Inputs[0])
	if ax <= ch {
		a.Opaque(n, "LayerNormalization %s normalises across channels", n.Name)
		// Its Scale and B are per channel along the channel axis: they
		// belong to the fixed channels it makes.
		for i := 1; i <= 2; i++ {
			if p := a.paramOf(n, i); p != nil && ch-ax < p.Value.Rank() {
				a.bind(p.Name, ch-ax, a.lays[n.Outputs[0]])
			}
		}
		return
	}
	a.Pass(n)
	// Scale and B run along the normalised axes, after the channels: they
	// are per position, not per channel.
	var axes []ParamAxis
	for i := 1; i <= 2; i++ {
		if p := a.paramOf(n, i); p != nil && p.Value.Rank() > 0 {
			axes = append(axes, ParamAxis{Param: p.Name, Axis: 0})
		}
	}
	a.refuse(n, fmt.Sprintf("LayerNormalization %s normalises along axis %d onwards, not the channel axis (axis %d): its scale and bias are per position, not per channel",
		n.Name, ax, ch), "feature", axes...)
}

// resize: Resize (and imported Upsample) interpolates along the axes it
// resizes; the channels pass through unless it resizes their axis or the
// batch's.
func (a *Analysis) resize(n *graph.Node) {
	x, y := n.Inputs[0], n.Outputs[0]
	sx, sy := a.shapes[x], a.shapes[y]
	ch := a.axisOf(x)
	if len(sx) != len(sy) || ch >= len(sx) {
		a.Opaque(n, "Resize %s: input %v and output %v", n.Name, sx, sy)
		return
	}
	if sx[0] != sy[0] || sx[ch] != sy[ch] {
		a.Opaque(n, "Resize %s resizes the batch or channel axis (%v → %v)", n.Name, sx, sy)
		return
	}
	if p := a.paramOf(n, 2); p != nil && len(p.Value.Data) == len(sx) && (p.Value.Data[0] != 1 || p.Value.Data[ch] != 1) {
		a.Opaque(n, "Resize %s scales the batch or channel axis (scales %v)", n.Name, p.Value.Data)
		return
	}
	a.Pass(n)
	// Sizes (F.interpolate(x, size=t.shape[2:]) with a fixed batch,
	// folded at import) hold the channel count: surgery rewrites it.
	if p := a.paramOf(n, 3); p != nil && p.Value.Len() == len(sx) {
		a.fixups = append(a.fixups, shapeFixup{node: n.Name, input: 3, axis: ch, rank: len(sy)})
	}
}

func (a *Analysis) pad(n *graph.Node) {
	r := len(a.shapes[n.Inputs[0]])
	pads, _ := n.Attrs.Ints("pads", nil)
	if pads == nil {
		pads, _ = n.Attrs.Ints("paddings", nil)
	}
	var axes []int
	if hasInput(n, 1) {
		p := a.paramOf(n, 1)
		if p == nil {
			a.Opaque(n, "Pad %s: pads are not a param", n.Name)
			return
		}
		pads = ints(p)
		if hasInput(n, 3) {
			q := a.paramOf(n, 3)
			if q == nil {
				a.Opaque(n, "Pad %s: axes are not a param", n.Name)
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
		a.Opaque(n, "Pad %s: %d pads for %d axes", n.Name, len(pads), len(axes))
		return
	}
	// Pads of the spatial axes pass the channels, wherever they are (a
	// tf2onnx Pad of N×H×W×C); the batch must stay.
	ch := a.axisOf(n.Inputs[0])
	before, after := 0, 0
	for i, ax := range axes {
		x, _ := resolveAxis(ax, r)
		if (x != 0 && x != ch) || (pads[i] == 0 && pads[i+len(axes)] == 0) {
			continue
		}
		mode, _ := n.Attrs.String("mode", "constant")
		if x == 0 || mode != "constant" || pads[i] < 0 || pads[i+len(axes)] < 0 {
			a.Opaque(n, "Pad %s pads the batch axis, or the channel axis other than with a constant", n.Name)
			return
		}
		before, after = pads[i], pads[i+len(axes)]
	}
	if before == 0 && after == 0 {
		a.Pass(n)
		return
	}
	// Constant channels padded on (a shortcut zero-padded to a wider
	// block, which the import makes of Concat(x, ConstantOfShape)): x's
	// channels keep theirs, shifted; the padded ones hold no weights and
	// go with whatever they meet (the block's conv filters at the Add).
	xl := a.layoutOf(n.Inputs[0])
	if xl == nil {
		a.Opaque(n, "Pad %s: input has no channel axis", n.Name)
		return
	}
	pb, pa := a.fresh(before), a.fresh(after)
	for i := range pa {
		pa[i].off += before + xl.size()
	}
	out := slices.Clone(pb)
	for _, u := range xl {
		out = append(out, unit{u.e, u.off + before, u.span})
	}
	out = append(out, pa...)
	a.sources = append(a.sources, source{n.Name, n.Outputs[0], append(slices.Clone(pb), pa...), ""})
	a.setLayoutAt(n.Outputs[0], out, ch)
	a.fixups = append(a.fixups, padFixup{node: n.Name, before: before, width: xl.size(), after: after, axis: ch, rank: r})
}

func (a *Analysis) gather(n *graph.Node) {
	axis, _ := n.Attrs.Int("axis", 0)
	if ax, _ := resolveAxis(axis, len(a.shapes[n.Inputs[0]])); ax <= 1 {
		a.Opaque(n, "Gather %s picks along the batch or channel axis", n.Name)
		return
	}
	a.Pass(n)
}

// expand: Expand broadcasts its input to a shape; the channels pass when
// their axis keeps its size, and a single channel broadcast to C (a
// spatial gate expand_as'd to its feature map) makes C new channels, all
// copies of it, which whatever they meet couples. Either way the shape
// param holds the channel count, which surgery rewrites.
func (a *Analysis) expand(n *graph.Node) {
	x, o := n.Inputs[0], n.Outputs[0]
	si, so := a.shapes[x], a.shapes[o]
	if len(si) != len(so) {
		a.Opaque(n, "Expand %s changes the rank", n.Name)
		return
	}
	ch := a.axisOf(x)
	if len(si) >= 2 && a.layoutOf(x) != nil && si[0] == so[0] && si[ch] == 1 && so[ch] > 1 {
		l := a.freshValueAt(o, ch)
		a.sources = append(a.sources, source{n.Name, o, l, ""})
	} else {
		a.Pass(n)
	}
	if a.lays[o] != nil && a.paramOf(n, 1) != nil {
		a.fixups = append(a.fixups, shapeFixup{node: n.Name, input: 1, axis: a.axisOf(o), rank: len(so)})
	}
}

// constantOfShape: a ConstantOfShape left as a node (too large to fold
// at import) makes new channels, all alike, coupled with whatever they
// meet; its shape param holds their count, which surgery rewrites.
func (a *Analysis) constantOfShape(n *graph.Node) {
	o := n.Outputs[0]
	if len(a.shapes[o]) < 2 {
		return
	}
	if a.paramOf(n, 0) == nil {
		a.Opaque(n, "ConstantOfShape %s: its shape is not a param", n.Name)
		return
	}
	l := a.freshValue(o)
	a.sources = append(a.sources, source{n.Name, o, l, ""})
	a.fixups = append(a.fixups, shapeFixup{node: n.Name, input: 0, axis: 1, rank: len(a.shapes[o])})
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

// einsum: an Einsum that is a linear layer over the last axis, x·W with
// W a 2-D param ("bsd,df->bsf", or "bsd,fd->bsf"), is a MatMul by a
// weight: new features from W's out axis when x's channels are its last
// axis, else the channels pass and W makes no channels. Other equations
// are opaque, with the equation in the reason.
func (a *Analysis) einsum(n *graph.Node) {
	eq, _ := n.Attrs.String("equation", "")
	w, use, ok := graph.WeightOf(a.g, n, a.params)
	if !ok {
		a.Opaque(n, "Einsum %s (%q): only a linear layer x·W with W a 2-D param, such as \"bsd,df->bsf\", has a channel rule", n.Name, eq)
		return
	}
	sa := a.shapes[n.Inputs[0]]
	if len(sa) == 2 || a.axisOf(n.Inputs[0]) == len(sa)-1 {
		a.linear(n, w, use.In)
		return
	}
	a.Pass(n)
	a.refuse(n, fmt.Sprintf("Einsum %s (%q) multiplies along axis %d, not the channel axis (axis %d of %s): its weight %s makes no channels",
		n.Name, eq, len(sa)-1, a.axisOf(n.Inputs[0]), batchShape(sa), w.Name), "feature", ParamAxis{Param: w.Name, Axis: use.Out})
}

// einsumFeatures: the out axis of a linear-layer Einsum's weight.
func einsumFeatures(a *Analysis, n *graph.Node) []ParamAxis {
	if _, use, ok := graph.WeightOf(a.g, n, a.params); ok {
		return a.feature(nil, n, use.Input, use.Out)
	}
	return nil
}

// tile: Tile repeats its input along axes; channels pass when the channel
// axis (and the batch) is repeated once. Repeating the channel axis makes
// output channels that are copies of input ones, interleaved in blocks,
// which no channel slice describes: opaque.
func (a *Analysis) tile(n *graph.Node) {
	p := a.paramOf(n, 1)
	if p == nil {
		a.Opaque(n, "Tile %s: repeats are not a param", n.Name)
		return
	}
	reps := ints(p)
	ch := a.axisOf(n.Inputs[0])
	if ch < len(reps) && reps[ch] != 1 {
		a.Opaque(n, "Tile %s repeats the channel axis (axis %d) %d times: its output channels are copies of its input's", n.Name, ch, reps[ch])
		return
	}
	a.Pass(n)
}

// groupNorm: GroupNormalization normalises each group of C/num_groups
// channels by the group's own statistics, so removing one channel of a
// group changes the others; removing a whole group does not touch the
// rest. The channels of a group are coupled into one unit (pruned
// together, with their scale and bias), and num_groups shrinks with the
// groups removed. One group (a LayerNorm over channels and positions)
// leaves nothing to prune.
func (a *Analysis) groupNorm(n *graph.Node) {
	x := n.Inputs[0]
	for i := 1; i <= 2; i++ {
		if a.paramOf(n, i) == nil {
			a.Opaque(n, "GroupNormalization %s: input %d is not a param", n.Name, i)
			return
		}
	}
	xl := a.layoutOf(x)
	if xl == nil {
		a.Opaque(n, "GroupNormalization %s: input has no channel axis", n.Name)
		return
	}
	groups, _ := n.Attrs.Int("num_groups", 0)
	c := a.shapes[x][1]
	switch {
	case groups <= 1:
		a.Opaque(n, "GroupNormalization %s normalises all its channels together (num_groups %d)", n.Name, groups)
		return
	case c%groups != 0:
		a.Opaque(n, "GroupNormalization %s: %d channels do not split into %d groups", n.Name, c, groups)
		return
	case len(xl) != c:
		a.Opaque(n, "GroupNormalization %s: each channel of its input %s spans several positions (made by a Reshape that merged axes)", n.Name, x)
		return
	}
	for i := 1; i <= 2; i++ {
		if p := a.paramOf(n, i); p.Value.Len() != c {
			a.Opaque(n, "GroupNormalization %s: its %s has one value per group, not per channel", n.Name, []string{"scale", "bias"}[i-1])
			return
		}
	}
	cpg := c / groups
	for k := range groups {
		for j := 1; j < cpg; j++ {
			a.union(xl[k*cpg+j].e, xl[k*cpg].e)
		}
	}
	a.bind(n.Inputs[1], 0, xl)
	a.bind(n.Inputs[2], 0, xl)
	a.setLayout(n.Outputs[0], xl)
	a.fixups = append(a.fixups, groupCountFixup{node: n.Name, what: "GroupNormalization", attr: "num_groups", perGroup: cpg})
}
