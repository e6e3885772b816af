package prune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// unit is one channel of a value (or one entry of a param axis): the
// positions [off, off+span) of the channel axis, and the union-find element
// that identifies it. Units of different values with the same element root
// are the same channel and are pruned together.
type unit struct{ e, off, span int }

// layout is the channel axis of a value or param, unit by unit in order;
// the units cover the axis exactly.
type layout []unit

func (l layout) size() int {
	n := 0
	for _, u := range l {
		n += u.span
	}
	return n
}

func (l layout) sameShape(o layout) bool {
	if len(l) != len(o) {
		return false
	}
	for i := range l {
		if l[i].off != o[i].off || l[i].span != o[i].span {
			return false
		}
	}
	return true
}

// binding ties axis Axis of a param to a layout: entry positions of that
// axis belong to the layout's units.
type binding struct {
	param string
	axis  int
	lay   layout
}

// source is a value whose channels an op creates (a conv's or linear
// layer's output, a graph input, a constant, an op pruning cannot see
// through). All channels of one source belong to one group.
type source struct {
	owner, value string
	lay          layout
	word         string // what its units are, if not the value's channels or features
}

type block struct {
	e   int
	why string
}

// Analysis is the dependency analysis under way, as a channel Rule sees
// it: the values' shapes and channel layouts, and the operations that
// couple channels. Analyze makes one; rules only receive it.
type Analysis struct {
	g       *graph.Graph
	params  map[string]*graph.Param
	shapes  map[string][]int
	readers map[string][]*graph.Node
	parent  []int
	lays    map[string]layout
	axes    map[string]int // channel axis of values whose channels are not on axis 1
	order   []string       // values with a layout, in definition order
	binds   []binding
	bound   map[string]int // "param/axis" → index in binds
	sources []source
	blocks  []block
	fixups  []fixup
	opaques map[string]string // node → why, for nodes made opaque
}

// Analyze builds the dependency graph of g: which channel slices of which
// params are coupled and must be pruned together. g's shapes must infer
// (graph.InferShapes); it is not modified.
func Analyze(g *graph.Graph) (*DepGraph, error) {
	sg := *g
	sg.Nodes = slices.Clone(g.Nodes)
	if err := sg.Sort(); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	// Batch 2 when the batch is dynamic, so that a reshape that folds the
	// batch into the channels shows up as a changed first dimension.
	batch := 1
	for _, in := range g.Inputs {
		if slices.Contains(in.Shape, -1) {
			batch = 2
		}
	}
	shapes, err := graph.InferShapes(&sg, batch)
	if err != nil && batch == 2 {
		// A graph may declare a dynamic batch and still fix it to 1
		// inside (a Reshape to 1×…); at batch 1 it fails as Compile would.
		shapes, err = graph.InferShapes(&sg, 1)
	}
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	a := &Analysis{g: g, params: g.ParamMap(), shapes: shapes, readers: g.Consumers(),
		lays: map[string]layout{}, axes: map[string]int{}, bound: map[string]int{}, opaques: map[string]string{}}
	for _, in := range g.Inputs {
		if l := a.freshValue(in.Name); l != nil {
			a.sources = append(a.sources, source{in.Name, in.Name, l, ""})
			a.block(l, fmt.Sprintf("graph input %q: its channels cannot change", in.Name))
		}
	}
	for _, n := range sg.Nodes {
		a.node(n)
	}
	for _, o := range g.Outputs {
		if l := a.lays[o.Name]; l != nil {
			a.block(l, fmt.Sprintf("graph output %q: its %s cannot change", o.Name, count(l.size(), unitWord(a.shapes[o.Name]))))
		}
	}
	return a.finish(), nil
}

// unitWord names the units of a value's axis 1: features of an N×F
// value, channels otherwise.
func unitWord(shape []int) string {
	if len(shape) == 2 {
		return "feature"
	}
	return "channel"
}

// count writes "1 channel", "16 channels".
func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// union-find over elements

func (a *Analysis) newElem() int {
	a.parent = append(a.parent, len(a.parent))
	return len(a.parent) - 1
}

func (a *Analysis) find(e int) int {
	for a.parent[e] != e {
		a.parent[e] = a.parent[a.parent[e]]
		e = a.parent[e]
	}
	return e
}

func (a *Analysis) union(x, y int) {
	x, y = a.find(x), a.find(y)
	if x != y {
		a.parent[max(x, y)] = min(x, y)
	}
}

// fresh makes a layout of n new channels.
func (a *Analysis) fresh(n int) layout {
	l := make(layout, n)
	for i := range l {
		l[i] = unit{a.newElem(), i, 1}
	}
	return l
}

// freshValue gives value name new channels on axis 1 (nil for a value of
// rank < 2, which has no channel axis).
func (a *Analysis) freshValue(name string) layout { return a.freshValueAt(name, 1) }

// freshValueAt gives value name new channels on axis ax.
func (a *Analysis) freshValueAt(name string, ax int) layout {
	s := a.shapes[name]
	if len(s) < 2 || ax < 1 || ax >= len(s) {
		return nil
	}
	l := a.fresh(s[ax])
	a.setLayoutAt(name, l, ax)
	return l
}

// setLayout gives value name the channels l on axis 1.
func (a *Analysis) setLayout(name string, l layout) { a.setLayoutAt(name, l, 1) }

// setLayoutAt gives value name the channels l on axis ax. The channel axis
// is 1 (N×C×…) unless a Transpose moved it: ConvNeXt and transformer
// blocks run their linear layers on N×H×W×C values, channels last.
func (a *Analysis) setLayoutAt(name string, l layout, ax int) {
	if name == "" || l == nil {
		return
	}
	if _, ok := a.lays[name]; !ok {
		a.order = append(a.order, name)
	}
	a.lays[name] = l
	if ax != 1 {
		a.axes[name] = ax
	} else {
		delete(a.axes, name)
	}
}

// axisOf is the channel axis of a value (1 unless a Transpose moved it).
func (a *Analysis) axisOf(name string) int {
	if ax, ok := a.axes[name]; ok {
		return ax
	}
	return 1
}

// layoutOf returns the channel layout of a value, or of a param read as
// data (its axis 1, new channels bound to the param); nil when the operand
// has no channel axis.
func (a *Analysis) layoutOf(name string) layout {
	if l, ok := a.lays[name]; ok {
		return l
	}
	p := a.params[name]
	if p == nil || p.Value.Rank() < 2 {
		return nil
	}
	l := a.freshValue(name)
	a.sources = append(a.sources, source{name, name, l, ""})
	a.bind(name, 1, l)
	return l
}

// Layout is the channels of a value or a param axis, in order along the
// axis. Layouts come from the Analysis (Layout, NewChannels) and go back
// into it (SetLayout, Bind, Unite).
type Layout struct{ l layout }

// Len is the size of the axis the layout covers.
func (l Layout) Len() int { return l.l.size() }

// Sub returns the channels at positions [lo, hi) of the axis, as a layout
// starting at 0 (a Split's or Slice's part); ok is false when a channel
// straddles lo or hi.
func (l Layout) Sub(lo, hi int) (Layout, bool) {
	s, ok := l.l.sub(lo, hi)
	return Layout{s}, ok
}

// Shape returns a value's or param's shape (the batch as analysed, 1 or
// 2).
func (a *Analysis) Shape(value string) []int { return a.shapes[value] }

// Param returns the param that input i of n reads, or nil.
func (a *Analysis) Param(n *graph.Node, i int) *graph.Param { return a.paramOf(n, i) }

// ChannelAxis is the channel axis of a value: 1 unless a Transpose moved
// it.
func (a *Analysis) ChannelAxis(value string) int { return a.axisOf(value) }

// Layout returns the channels of a value, or of a param read as data (its
// axis 1, which becomes new channels bound to the param); ok is false
// when it has no channel axis.
func (a *Analysis) Layout(value string) (Layout, bool) {
	l := a.layoutOf(value)
	return Layout{l}, l != nil
}

// SetLayout gives value the channels l on axis axis (an output whose
// channels are an input's, rearranged).
func (a *Analysis) SetLayout(value string, l Layout, axis int) { a.setLayoutAt(value, l.l, axis) }

// NewChannels gives output value of n new channels on axis axis, which n
// makes (a conv's filters): they form a group of their own until coupled.
// ok is false when the value has no such axis.
func (a *Analysis) NewChannels(n *graph.Node, value string, axis int) (Layout, bool) {
	l := a.freshValueAt(value, axis)
	if l == nil {
		return Layout{}, false
	}
	a.sources = append(a.sources, source{n.Name, value, l, ""})
	return Layout{l}, true
}

// Bind ties axis axis of param to the channels l: pruning a channel
// removes its slice of the param.
func (a *Analysis) Bind(param string, axis int, l Layout) { a.bind(param, axis, l.l) }

// Unite makes x and y the same channels (a residual Add's operands); when
// their structure differs they cannot be matched, and both are fixed with
// reason why.
func (a *Analysis) Unite(x, y Layout, why string) { a.unite(x.l, y.l, why) }

// Refuse fixes param axes of n that hold no channels of any value (a
// LayerNorm's per-position scale), with reason why.
func (a *Analysis) Refuse(n *graph.Node, why string, axes ...ParamAxis) {
	a.refuse(n, why, "feature", axes...)
}

func (a *Analysis) block(l layout, why string) {
	for _, u := range l {
		a.blocks = append(a.blocks, block{u.e, why})
	}
}

// unite makes two layouts the same channels (operands of a residual Add,
// two uses of one param). Layouts whose units differ cannot be matched
// channel for channel; both are blocked.
func (a *Analysis) unite(x, y layout, why string) {
	if !x.sameShape(y) {
		a.block(x, why)
		a.block(y, why)
		return
	}
	for i := range x {
		a.union(x[i].e, y[i].e)
	}
}

// bind couples axis of param to layout l.
func (a *Analysis) bind(param string, axis int, l layout) {
	p := a.params[param]
	if p == nil || l == nil {
		return
	}
	if axis >= p.Value.Rank() || p.Value.Shape[axis] != l.size() {
		a.block(l, fmt.Sprintf("param %s: axis %d has shape %s, its channels cover %d", param, axis, tensor.ShapeString(p.Value.Shape), l.size()))
		return
	}
	key := fmt.Sprintf("%s/%d", param, axis)
	if i, ok := a.bound[key]; ok {
		a.unite(a.binds[i].lay, l, fmt.Sprintf("param %s is shared by layers whose channels differ in structure", param))
		return
	}
	a.bound[key] = len(a.binds)
	a.binds = append(a.binds, binding{param, axis, l})
}

// Opaque is the rule for an op pruning cannot see through: the channels
// it reads cannot change, and the channels it makes are new and fixed.
// An output of the rank of the first input with channels keeps that
// input's channel axis (a ReduceMean over the channels of an N×H×W×C
// value gives N×H×W×1: channels last, one of them), so that what follows
// still finds the channels where they are.
func (a *Analysis) Opaque(n *graph.Node, format string, args ...any) {
	why := fmt.Sprintf(format, args...)
	if _, ok := a.opaques[n.Name]; !ok {
		a.opaques[n.Name] = why
	}
	ax, rank := 1, -1
	for _, in := range n.Inputs {
		if l, ok := a.lays[in]; ok {
			a.block(l, why)
			if rank < 0 {
				ax, rank = a.axisOf(in), len(a.shapes[in])
			}
		}
	}
	for _, o := range n.Outputs {
		if o == "" {
			continue
		}
		oax := 1
		if len(a.shapes[o]) == rank {
			oax = ax
		}
		if l := a.freshValueAt(o, oax); l != nil {
			a.sources = append(a.sources, source{n.Name, o, l, ""})
			a.block(l, why)
		}
	}
}

// Pass gives output 0 (and any further same-shaped outputs) the channels
// of input 0, for ops that act on each channel separately.
func (a *Analysis) Pass(n *graph.Node) {
	if len(n.Inputs) == 0 {
		a.Opaque(n, "%s %s has no input", n.Op, n.Name)
		return
	}
	a.PassTo(n, a.axisOf(n.Inputs[0]))
}

// PassTo is Pass for an op that moves input 0's channel axis to axis oax
// of its outputs (a Transpose, a ReduceMean without keepdims).
func (a *Analysis) PassTo(n *graph.Node, oax int) {
	in := a.layoutOf(n.Inputs[0])
	si := a.shapes[n.Inputs[0]]
	ax := a.axisOf(n.Inputs[0])
	for _, o := range n.Outputs {
		if o == "" {
			continue
		}
		so := a.shapes[o]
		if in == nil {
			if len(so) >= 2 {
				a.Opaque(n, "%s %s makes channels from an input without a channel axis", n.Op, n.Name)
				return
			}
			continue
		}
		if len(so) < 2 || oax >= len(so) || so[0] != si[0] || so[oax] != si[ax] {
			a.Opaque(n, "%s %s changes the channel axis (%s → %s)", n.Op, n.Name, tensor.ShapeString(si), tensor.ShapeString(so))
			return
		}
		a.setLayoutAt(o, in, oax)
	}
}

func (a *Analysis) paramOf(n *graph.Node, i int) *graph.Param {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	return a.params[n.Inputs[i]]
}

func hasInput(n *graph.Node, i int) bool { return i < len(n.Inputs) && n.Inputs[i] != "" }

func resolveAxis(axis, rank int) (int, bool) {
	if axis < 0 {
		axis += rank
	}
	return axis, axis >= 0 && axis < rank
}

// ints reads an integer-valued param (axes, pads, shapes).
func ints(p *graph.Param) []int {
	v := make([]int, p.Value.Len())
	for i, x := range p.Value.Data {
		v[i] = int(x)
	}
	return v
}

// finish resolves the union-find into groups.
func (a *Analysis) finish() *DepGraph {
	d := &DepGraph{g: a.g, class: map[int]chanRef{}, shapes: map[string][]int{}}
	// Link the channels of each source into one group.
	gp := map[int]int{}
	var gfind func(int) int
	gfind = func(x int) int {
		p, ok := gp[x]
		if !ok || p == x {
			return x
		}
		r := gfind(p)
		gp[x] = r
		return r
	}
	for _, s := range a.sources {
		if len(s.lay) == 0 {
			continue
		}
		r0 := gfind(a.find(s.lay[0].e))
		for _, u := range s.lay[1:] {
			if r := gfind(a.find(u.e)); r != r0 {
				gp[max(r, r0)] = min(r, r0)
				r0 = min(r, r0)
			}
		}
	}
	byRoot := map[int]*Group{}
	why := map[*Group][]string{}
	addClass := func(owner, value, word string, e int) {
		c := a.find(e)
		if _, ok := d.class[c]; ok {
			return
		}
		r := gfind(c)
		grp := byRoot[r]
		if grp == nil {
			if word == "" {
				word = unitWord(a.shapes[value])
			}
			grp = &Group{Owner: owner, Value: value, d: d, word: word}
			byRoot[r] = grp
			d.all = append(d.all, grp)
		}
		d.class[c] = chanRef{grp, grp.Channels}
		grp.classes = append(grp.classes, c)
		grp.Channels++
	}
	for _, s := range a.sources {
		for _, u := range s.lay {
			addClass(s.owner, s.value, s.word, u.e)
		}
	}
	for _, v := range a.order {
		for _, u := range a.lays[v] {
			addClass(v, v, "", u.e)
		}
	}
	for _, b := range a.blocks {
		grp := d.class[a.find(b.e)].g
		if !slices.Contains(why[grp], b.why) {
			why[grp] = append(why[grp], b.why)
		}
	}
	for _, v := range a.order {
		seen := map[*Group]bool{}
		for _, u := range a.lays[v] {
			grp := d.class[a.find(u.e)].g
			if !seen[grp] {
				seen[grp] = true
				grp.Values = append(grp.Values, v)
			}
		}
	}
	resolve := func(l layout) layout {
		r := make(layout, len(l))
		for i, u := range l {
			r[i] = unit{a.find(u.e), u.off, u.span}
		}
		return r
	}
	for _, b := range a.binds {
		lay := resolve(b.lay)
		d.binds = append(d.binds, binding{b.param, b.axis, lay})
		p := a.params[b.param]
		d.shapes[b.param] = slices.Clone(p.Value.Shape)
		for _, s := range slicesOf(lay, d, b, p) {
			s.group.Slices = append(s.group.Slices, s.Slice)
		}
	}
	d.lays = map[string]layout{}
	for v, l := range a.lays {
		d.lays[v] = resolve(l)
	}
	d.axes = a.axes
	d.fixups = a.fixups
	for _, grp := range d.all {
		if w := why[grp]; len(w) > 0 {
			d.reasons = append(d.reasons, Reason{Node: grp.Owner, Value: grp.Value, Channels: grp.Channels, Why: strings.Join(w, "; "), Slices: grp.Slices, word: grp.word})
			continue
		}
		d.groups = append(d.groups, grp)
	}
	return d
}

type groupSlice struct {
	group *Group
	Slice
}

// slicesOf cuts a bound param axis into runs: consecutive units of one
// group whose channels follow each other and whose positions are adjacent
// with equal span.
func slicesOf(lay layout, d *DepGraph, b binding, p *graph.Param) []groupSlice {
	// Merge adjacent units of the same channel (a depthwise multiplier
	// gives one channel several output positions).
	var m layout
	for _, u := range lay {
		if k := len(m) - 1; k >= 0 && m[k].e == u.e && m[k].off+m[k].span == u.off {
			m[k].span += u.span
			continue
		}
		m = append(m, u)
	}
	role := graph.AxisNone
	if b.axis < len(p.Axes) {
		role = p.Axes[b.axis]
	}
	var out []groupSlice
	for _, u := range m {
		ref := d.class[u.e]
		if k := len(out) - 1; k >= 0 {
			s := &out[k]
			if s.group == ref.g && s.First+s.Count == ref.ch && s.Span == u.span && s.Offset+s.Count*s.Span == u.off {
				s.Count++
				continue
			}
		}
		out = append(out, groupSlice{ref.g, Slice{Param: b.param, Axis: b.axis, Role: role, Offset: u.off, Span: u.span,
			First: ref.ch, Count: 1, rank: p.Value.Rank()}})
	}
	return out
}
