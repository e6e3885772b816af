package prune

import (
	"fmt"
	"maps"
	"slices"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Prune removes the channels of group that keep does not list (keep holds
// channel indices of the group, at least one): every coupled slice
// shrinks, and the graph stays a dense graph that computes what the masked
// graph (MaskGroups with the same keep) computes. g is changed in place
// and only when the result compiles; analyse it again before pruning more.
func Prune(g *graph.Graph, group *Group, keep []int) error {
	return PruneGroups(g, map[*Group][]int{group: keep})
}

// PruneGroups prunes several groups of one analysis at once (see Prune).
func PruneGroups(g *graph.Graph, keep map[*Group][]int) error {
	d, removed, drops, err := removal(g, keep)
	if err != nil || len(removed) == 0 {
		return err
	}
	p := &plan{g: g, d: d, removed: removed, values: map[string]*tensor.Tensor{}, readers: g.Consumers(), drops: drops}
	params := g.ParamMap()
	keepIdx := map[string][][]int{}
	var order []string
	for _, b := range d.binds {
		idx, changed := keptPositions(b.lay, removed)
		if !changed {
			continue
		}
		if keepIdx[b.param] == nil {
			keepIdx[b.param] = make([][]int, params[b.param].Value.Rank())
			order = append(order, b.param)
		}
		keepIdx[b.param][b.axis] = idx
	}
	for _, name := range order {
		t := params[name].Value
		for axis, idx := range keepIdx[name] {
			if idx != nil {
				t = gatherAxis(t, axis, idx)
			}
		}
		p.values[name] = t
	}
	for _, f := range d.fixups {
		if err := f.edit(p); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
	}
	c := g.Clone()
	p.apply(c)
	if _, err := cpu.Compile(c); err != nil {
		return fmt.Errorf("prune: the pruned graph does not compile: %w", err)
	}
	p.apply(g)
	return nil
}

// MaskGroups zeros, in g, the trainable param slices of the channels that
// keep does not list, and returns the masks (for training with the
// channels held at zero, see Masks.Attach). Shapes stay. Zeroing every
// coupled slice — a conv's filter and bias, BatchNorm's γ and β, the next
// layers' input weights — makes a removed channel contribute exactly
// nothing downstream, so the masked graph computes what the pruned one
// does (Prune with the same keep). BatchNorm running statistics are not
// masked: with γ = β = 0 they no longer matter.
func MaskGroups(g *graph.Graph, keep map[*Group][]int) (Masks, error) {
	d, removed, _, err := removal(g, keep)
	if err != nil {
		return nil, err
	}
	if len(removed) == 0 { // a step that removes no channel masks nothing
		return Masks{}, nil
	}
	params := g.ParamMap()
	m := Masks{}
	for _, b := range d.binds {
		p := params[b.param]
		if !p.Trainable {
			continue
		}
		for _, u := range b.lay {
			if !removed[u.e] {
				continue
			}
			mk := m[b.param]
			if mk == nil {
				mk = tensor.New(p.Value.Shape...)
				mk.Fill(1)
				m[b.param] = mk
			}
			zeroRange(mk, b.axis, u.off, u.off+u.span)
		}
	}
	if err := m.Apply(g); err != nil {
		return nil, err
	}
	return m, nil
}

// removal checks a keep map against g and returns the analysis it comes
// from, the set of removed channel elements, and the constant params that
// lose every channel, which their Concats drop (droppable).
func removal(g *graph.Graph, keep map[*Group][]int) (*DepGraph, map[int]bool, []string, error) {
	var d *DepGraph
	removed := map[int]bool{}
	for grp, k := range keep {
		if grp == nil {
			return nil, nil, nil, fmt.Errorf("prune: nil group")
		}
		if d == nil {
			d = grp.d
		} else if grp.d != d {
			return nil, nil, nil, fmt.Errorf("prune: groups %s and others come from different analyses", grp.Owner)
		}
		if !slices.Contains(d.groups, grp) {
			return nil, nil, nil, fmt.Errorf("prune: group %s is not prunable", grp.Owner)
		}
		if len(k) == 0 {
			return nil, nil, nil, fmt.Errorf("prune: group %s: keep at least one of its %d channels", grp.Owner, grp.Channels)
		}
		kept := make([]bool, grp.Channels)
		for _, ch := range k {
			if ch < 0 || ch >= grp.Channels {
				return nil, nil, nil, fmt.Errorf("prune: group %s: channel %d out of range [0, %d)", grp.Owner, ch, grp.Channels)
			}
			if kept[ch] {
				return nil, nil, nil, fmt.Errorf("prune: group %s: channel %d kept twice", grp.Owner, ch)
			}
			kept[ch] = true
		}
		for ch, c := range grp.classes {
			if !kept[ch] {
				removed[c] = true
			}
		}
	}
	if d == nil {
		return nil, removed, nil, nil
	}
	if d.g != g {
		return nil, nil, nil, fmt.Errorf("prune: the groups were analysed on another graph")
	}
	params := g.ParamMap()
	for name, shape := range d.shapes {
		p := params[name]
		if p == nil || !slices.Equal(p.Value.Shape, shape) {
			return nil, nil, nil, fmt.Errorf("prune: param %s changed since Analyze (analyse the graph again)", name)
		}
	}
	// A value holding only some of a group's channels (a Split output)
	// could lose them all; refuse rather than make zero-width tensors.
	// A constant concatenated onto the channels (tf2onnx's zero-padded
	// shortcut, Concat(x, zeros)) can go instead: the Concat drops it.
	readers := g.Consumers()
	var drops []string
	for _, v := range slices.Sorted(maps.Keys(d.lays)) {
		if l := d.lays[v]; len(l) == 0 || kept(l, removed) > 0 {
			continue
		}
		if !droppable(g, d, v, readers) {
			return nil, nil, nil, fmt.Errorf("prune: value %s would have no channels left", v)
		}
		drops = append(drops, v)
	}
	return d, removed, drops, nil
}

// droppable reports whether value v, a param, is read only by Concats
// along their channel axis that have other inputs, so that, when all of
// v's channels go, the Concats can drop v instead of reading a zero-width
// tensor.
func droppable(g *graph.Graph, d *DepGraph, v string, readers map[string][]*graph.Node) bool {
	if g.Param(v) == nil || len(readers[v]) == 0 {
		return false
	}
	for _, n := range readers[v] {
		if n.Op != "Concat" || len(n.Inputs) < 2 {
			return false
		}
		o := n.Outputs[0]
		rank := len(g.Param(v).Value.Shape)
		axis, _ := n.Attrs.Int("axis", 0)
		ax, ok := resolveAxis(axis, rank)
		if !ok || ax != d.axisOf(o) {
			return false
		}
		for _, in := range n.Inputs {
			if in == v {
				continue
			}
			if l := d.lays[in]; l == nil {
				return false // an input whose channels the analysis does not know
			}
		}
	}
	return true
}

// keptPositions lists the positions of the layout's units that stay.
func keptPositions(l layout, removed map[int]bool) ([]int, bool) {
	idx := []int{}
	changed := false
	for _, u := range l {
		if removed[u.e] {
			changed = true
			continue
		}
		for i := u.off; i < u.off+u.span; i++ {
			idx = append(idx, i)
		}
	}
	return idx, changed
}

// kept counts the positions of l that stay.
func kept(l layout, removed map[int]bool) int {
	n := 0
	for _, u := range l {
		if !removed[u.e] {
			n += u.span
		}
	}
	return n
}

func axisBlocks(shape []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner
}

// gatherAxis returns t restricted to positions idx of axis.
func gatherAxis(t *tensor.Tensor, axis int, idx []int) *tensor.Tensor {
	shape := slices.Clone(t.Shape)
	outer, n, inner := axisBlocks(shape, axis)
	shape[axis] = len(idx)
	r := tensor.New(shape...)
	k := 0
	for o := range outer {
		for _, i := range idx {
			copy(r.Data[k:k+inner], t.Data[(o*n+i)*inner:(o*n+i+1)*inner])
			k += inner
		}
	}
	return r
}

// zeroRange zeros positions [lo, hi) of axis.
func zeroRange(t *tensor.Tensor, axis, lo, hi int) {
	outer, n, inner := axisBlocks(t.Shape, axis)
	for o := range outer {
		clear(t.Data[(o*n+lo)*inner : (o*n+hi)*inner])
	}
}

// plan collects the edits of one pruning so they can be tried on a copy
// and then made on the graph.
type plan struct {
	g       *graph.Graph
	d       *DepGraph
	removed map[int]bool
	readers map[string][]*graph.Node
	values  map[string]*tensor.Tensor // new values of existing params
	added   []*graph.Param            // params made for one node from a shared one
	inputs  []inputEdit
	attrs   []attrEdit
	shared  []string // params copied for a node: dropped if nothing reads them any more
	drops   []string // constant params that lost every channel: their Concats drop them
}

type inputEdit struct {
	node  string
	i     int
	param string
}

type attrEdit struct {
	node, key string
	value     any // nil deletes
}

// setInts gives input i of node n (an integer-valued param: sizes, starts,
// a shape) new values; a param that other nodes read too is copied first.
func (p *plan) setInts(n *graph.Node, i int, v []int) {
	old := p.g.Param(n.Inputs[i])
	t := tensor.New(old.Value.Shape...)
	for k, x := range v {
		t.Data[k] = float32(x)
	}
	if len(p.readers[old.Name]) <= 1 {
		p.values[old.Name] = t
		return
	}
	name := old.Name + "." + n.Name
	for k := 2; p.g.Param(name) != nil || p.g.Node(name) != nil; k++ {
		name = fmt.Sprintf("%s.%s.%d", old.Name, n.Name, k)
	}
	p.added = append(p.added, &graph.Param{Name: name, Value: t, Axes: slices.Clone(old.Axes), Trainable: old.Trainable})
	p.inputs = append(p.inputs, inputEdit{n.Name, i, name})
	p.shared = append(p.shared, old.Name)
}

func (p *plan) setAttr(n *graph.Node, key string, v any) {
	p.attrs = append(p.attrs, attrEdit{n.Name, key, v})
}

func (p *plan) apply(g *graph.Graph) {
	params := g.ParamMap()
	for name, t := range p.values {
		params[name].Value = t
	}
	for _, prm := range p.added {
		g.Params = append(g.Params, &graph.Param{Name: prm.Name, Value: prm.Value, Axes: slices.Clone(prm.Axes), Trainable: prm.Trainable})
	}
	for _, e := range p.inputs {
		g.Node(e.node).Inputs[e.i] = e.param
	}
	for _, e := range p.attrs {
		n := g.Node(e.node)
		if e.value == nil {
			delete(n.Attrs, e.key)
			continue
		}
		if n.Attrs == nil {
			n.Attrs = graph.Attrs{}
		}
		n.Attrs[e.key] = e.value
	}
	for _, v := range p.drops {
		for _, n := range g.Nodes {
			if n.Op == "Concat" {
				n.Inputs = slices.DeleteFunc(n.Inputs, func(in string) bool { return in == v })
			}
		}
	}
	if len(p.drops) > 0 {
		g.Params = slices.DeleteFunc(g.Params, func(prm *graph.Param) bool { return slices.Contains(p.drops, prm.Name) })
	}
	if len(p.shared) > 0 {
		readers := g.Consumers()
		g.Params = slices.DeleteFunc(g.Params, func(prm *graph.Param) bool {
			return slices.Contains(p.shared, prm.Name) && len(readers[prm.Name]) == 0
		})
	}
}

// A fixup adjusts a node whose attributes or integer inputs depend on
// channel counts.
type fixup interface {
	edit(p *plan) error
}

// groupCountFixup sets the group-count attribute of a node whose output
// channels come in groups of perGroup (a depthwise conv's group, a
// GroupNormalization's num_groups) after whole groups were removed.
type groupCountFixup struct {
	node     string
	what     string // how errors name the node: "conv", "GroupNormalization"
	attr     string // "group" or "num_groups"
	perGroup int
}

func (f groupCountFixup) edit(p *plan) error {
	n := p.g.Node(f.node)
	k := kept(p.d.lays[n.Outputs[0]], p.removed)
	if k%f.perGroup != 0 {
		return fmt.Errorf("%s %s: %d output channels left for %d per group", f.what, f.node, k, f.perGroup)
	}
	if old, _ := n.Attrs.Int(f.attr, 1); old != k/f.perGroup {
		p.setAttr(n, f.attr, k/f.perGroup)
	}
	return nil
}

// splitFixup sets a channel-axis Split's sizes.
type splitFixup struct{ node string }

func (f splitFixup) edit(p *plan) error {
	n := p.g.Node(f.node)
	sizes := make([]int, len(n.Outputs))
	changed := false
	for i, o := range n.Outputs {
		l := p.d.lays[o]
		sizes[i] = kept(l, p.removed)
		changed = changed || sizes[i] != l.size()
	}
	if !changed {
		return nil
	}
	if hasInput(n, 1) {
		p.setInts(n, 1, sizes)
		return nil
	}
	p.setAttr(n, "split", sizes)
	if _, ok := n.Attrs["num_outputs"]; ok {
		p.setAttr(n, "num_outputs", nil)
	}
	return nil
}

// sliceFixup moves a channel-axis Slice's start and end.
type sliceFixup struct {
	node, input string
	entry       int
	lo, hi      int // resolved range of the input's channel positions
}

func (f sliceFixup) edit(p *plan) error {
	n := p.g.Node(f.node)
	l := p.d.lays[f.input]
	before, _ := l.sub(0, f.lo)
	inside, _ := l.sub(f.lo, f.hi)
	b := kept(before, p.removed)
	e := b + kept(inside, p.removed)
	if b == f.lo && e == f.hi {
		return nil
	}
	args, err := readSlice(n, p.g.ParamMap())
	if err != nil {
		return fmt.Errorf("slice %s: %w", f.node, err)
	}
	args.starts[f.entry], args.ends[f.entry] = b, e
	if !hasInput(n, 1) {
		p.setAttr(n, "starts", args.starts)
		p.setAttr(n, "ends", args.ends)
		return nil
	}
	p.setInts(n, 1, args.starts)
	p.setInts(n, 2, args.ends)
	return nil
}

// reshapeFixup rewrites an explicit channel count in a Reshape's shape:
// entry 1, or the last entry of a channels-last view.
type reshapeFixup struct {
	node string
	axis int // the output's channel axis
}

func (f reshapeFixup) edit(p *plan) error {
	n := p.g.Node(f.node)
	prm := p.g.Param(n.Inputs[1])
	if prm == nil {
		return fmt.Errorf("reshape %s: shape is not a param", f.node)
	}
	spec := ints(prm)
	if len(spec) <= f.axis || spec[f.axis] <= 0 {
		return nil
	}
	k := kept(p.d.lays[n.Outputs[0]], p.removed)
	if spec[f.axis] == k {
		return nil
	}
	spec[f.axis] = k
	p.setInts(n, 1, spec)
	return nil
}

// shapeFixup rewrites the channel entry of a shape param that gives a
// node's output shape (Expand's shape, Resize's sizes, ConstantOfShape's
// input): the import folds shape subgraphs such as Shape(x) into such
// constants, and after surgery they must give the slimmed width. The
// shape may be shorter than the output's rank (Expand aligns it to the
// trailing axes); an entry of 1 or 0 broadcasts or copies and stays.
type shapeFixup struct {
	node  string
	input int // which input holds the shape
	axis  int // the output's channel axis
	rank  int // the output's rank
}

func (f shapeFixup) edit(p *plan) error {
	n := p.g.Node(f.node)
	prm := p.g.Param(n.Inputs[f.input])
	if prm == nil {
		return fmt.Errorf("%s %s: its shape is not a param", n.Op, f.node)
	}
	spec := ints(prm)
	o := n.Outputs[0]
	k := f.axis - (f.rank - len(spec))
	if k < 0 || k >= len(spec) || spec[k] <= 1 {
		return nil
	}
	c := kept(p.d.lays[o], p.removed)
	if spec[k] == c {
		return nil
	}
	spec[k] = c
	p.setInts(n, f.input, spec)
	return nil
}

// padFixup sets how many constant channels a channel-axis Pad adds before
// and after its input's: as many of the padded ones as stay.
type padFixup struct {
	node                 string
	before, width, after int // channel counts as analysed
	axis                 int // the channel axis
	rank                 int // the input's rank (for negative axes)
}

func (f padFixup) edit(p *plan) error {
	n := p.g.Node(f.node)
	l := p.d.lays[n.Outputs[0]]
	pb, _ := l.sub(0, f.before)
	pa, _ := l.sub(f.before+f.width, f.before+f.width+f.after)
	b, e := kept(pb, p.removed), kept(pa, p.removed)
	if b == f.before && e == f.after {
		return nil
	}
	pads, _ := n.Attrs.Ints("pads", nil)
	attr := !hasInput(n, 1)
	var axes []int
	if !attr {
		prm := p.g.Param(n.Inputs[1])
		if prm == nil {
			return fmt.Errorf("pad %s: pads are not a param", f.node)
		}
		pads = ints(prm)
		if hasInput(n, 3) {
			q := p.g.Param(n.Inputs[3])
			if q == nil {
				return fmt.Errorf("pad %s: axes are not a param", f.node)
			}
			axes = ints(q)
		}
	} else if pads == nil {
		pads, _ = n.Attrs.Ints("paddings", nil)
	}
	k := len(pads) / 2
	entry := f.axis
	if axes != nil {
		entry = -1
		for i, ax := range axes {
			if ax == f.axis || ax == f.axis-f.rank {
				entry = i
			}
		}
	}
	if entry < 0 || entry >= k {
		return fmt.Errorf("pad %s: no pads entry for the channel axis", f.node)
	}
	pads = slices.Clone(pads)
	pads[entry], pads[entry+k] = b, e
	if attr {
		key := "pads"
		if _, ok := n.Attrs["pads"]; !ok {
			key = "paddings"
		}
		p.setAttr(n, key, pads)
		return nil
	}
	p.setInts(n, 1, pads)
	return nil
}
