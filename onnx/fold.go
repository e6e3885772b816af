package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Constant folding at import.
//
// The IR wants shape-like inputs (a Reshape's shape, Slice bounds, Gather
// indices, ...) to be params, because it infers shapes before anything
// runs. Exporters such as PyTorch's compute them instead, from Shape of an
// activation: x.view(x.size(0), -1) becomes
//
//	Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))
//
// fold evaluates the graph with its own ops, value by value, at two batch
// sizes (foldBatches): every value computed only from params and from the
// shapes of activations gets a value at each. A node whose outputs have
// the same value at both batches is replaced by params (Shape →
// Gather(index 1) becomes a constant, and so does any subgraph of params
// alone); a Reshape (Expand) whose shape follows the batch gets a constant
// shape in which the entries that follow the batch become 0 ("copy the
// input's dimension"; 1 for Expand) when the input's dimension at that
// place is the batch, or −1 ("infer"); the new shape is checked to give
// the same output shapes at both batches. Nodes and params that only fed
// what was folded are dropped. Nothing is matched by node name or exporter
// pattern, and graph outputs are never folded away.
var foldBatches = [2]int{1, 2}

// maxFoldGrowth bounds how many more elements a folded node may produce
// than it reads, so that a hostile file cannot make the reader allocate
// huge constants (an Expand of a scalar to 2^30 elements).
const maxFoldGrowth = 1 << 16

// foldState is what is known at one batch size.
type foldState struct {
	shapes map[string][]int
	vals   map[string]*tensor.Tensor
}

// fold folds until nothing changes (a rewritten Reshape can make the
// shapes after it static). It never fails: what it cannot fold stays as it
// is, and Compile reports it.
func (d *decoder) fold() {
	g := d.g
	// Params nothing read before folding are the model's own business:
	// keep them.
	readBefore := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			readBefore[in] = true
		}
	}
	for _, o := range g.Outputs {
		readBefore[o.Name] = true
	}
	changed := false
	for iter := 0; iter < 16; iter++ {
		if !d.foldOnce() {
			break
		}
		changed = true
	}
	if !changed {
		return
	}
	read := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			read[in] = true
		}
	}
	for _, o := range g.Outputs {
		read[o.Name] = true
	}
	g.Params = slices.DeleteFunc(g.Params, func(p *graph.Param) bool { return !read[p.Name] && readBefore[p.Name] })
}

// foldOnce runs one round of folding and reports whether it changed the
// graph.
func (d *decoder) foldOnce() bool {
	g := d.g
	dynamic := false
	for _, in := range g.Inputs {
		if slices.Contains(in.Shape, -1) {
			dynamic = true
		}
	}
	var st [2]*foldState
	st[0] = propagate(g, foldBatches[0])
	st[1] = st[0]
	if dynamic {
		st[1] = propagate(g, foldBatches[1])
	}
	isOutput := map[string]bool{}
	for _, o := range g.Outputs {
		isOutput[o.Name] = true
	}
	changed := false
	kept := g.Nodes[:0:0]
	for _, n := range g.Nodes {
		if foldable(n, st, isOutput) {
			for _, o := range n.Outputs {
				if o != "" {
					g.AddParam(o, st[0].vals[o], false)
				}
			}
			changed = true
			continue
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	for _, n := range g.Nodes {
		if d.rewriteShapeInput(n, st) {
			changed = true
		}
	}
	for _, n := range slices.Clone(g.Nodes) {
		if n.Op == "ConstantOfShape" && d.rewriteFill(n, st, isOutput) {
			changed = true
		}
	}
	if dropDead(g, st[0], isOutput) {
		changed = true
	}
	return changed
}

// foldable reports whether a node computes the same constants at both
// batch sizes.
func foldable(n *graph.Node, st [2]*foldState, isOutput map[string]bool) bool {
	if !slices.ContainsFunc(n.Inputs, func(s string) bool { return s != "" }) {
		return false // no inputs: a random op, or nothing to fold from
	}
	any := false
	for _, o := range n.Outputs {
		if o == "" {
			continue
		}
		if isOutput[o] {
			return false
		}
		a, b := st[0].vals[o], st[1].vals[o]
		if a == nil || b == nil || !sameTensor(a, b) {
			return false
		}
		any = true
	}
	return any
}

func sameTensor(a, b *tensor.Tensor) bool {
	if !slices.Equal(a.Shape, b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i, v := range a.Data {
		if math.Float32bits(v) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

// rewriteShapeInput gives a Reshape or Expand whose shape input follows the
// batch a constant shape that means the same at both batch sizes, and a
// Resize whose sizes follow the batch constant scales instead.
func (d *decoder) rewriteShapeInput(n *graph.Node, st [2]*foldState) bool {
	if n.Op == "Resize" {
		return d.rewriteResizeSizes(n, st)
	}
	if (n.Op != "Reshape" && n.Op != "Expand") || len(n.Inputs) != 2 || len(n.Outputs) != 1 {
		return false
	}
	sIn, x := n.Inputs[1], n.Inputs[0]
	if d.g.Param(sIn) != nil {
		return false
	}
	a, b := st[0].vals[sIn], st[1].vals[sIn]
	x0, x1 := st[0].shapes[x], st[1].shapes[x]
	y0, y1 := st[0].shapes[n.Outputs[0]], st[1].shapes[n.Outputs[0]]
	if a == nil || b == nil || x0 == nil || x1 == nil || len(a.Data) != len(b.Data) || a.Rank() != 1 {
		return false
	}
	allowzero, _ := n.Attrs.Int("allowzero", 0)
	spec := make([]float32, len(a.Data))
	infer := slices.Contains(a.Data, -1) && n.Op == "Reshape"
	for i := range a.Data {
		va, vb := a.Data[i], b.Data[i]
		if va == vb {
			spec[i] = va
			continue
		}
		// This entry follows the batch: find the input dimension it copies.
		j := i
		if n.Op == "Expand" {
			j = i - (len(a.Data) - len(x0))
		}
		if j >= 0 && j < len(x0) && float32(x0[j]) == va && float32(x1[j]) == vb {
			if n.Op == "Expand" {
				spec[i] = 1
				continue
			}
			if allowzero == 0 {
				spec[i] = 0
				continue
			}
		}
		if infer || n.Op == "Expand" {
			return false
		}
		spec[i], infer = -1, true
	}
	t := &tensor.Tensor{Shape: []int{len(spec)}, Data: spec}
	// The new shape must give the same output shapes at both batches.
	for k, xs := range [][]int{x0, x1} {
		want := [][]int{y0, y1}[k]
		op, err := cpu.NewOp(n)
		if err != nil || want == nil {
			return false
		}
		outs, err := safeInfer(op, [][]int{xs, {len(spec)}}, []*tensor.Tensor{nil, t})
		if err != nil || len(outs) != 1 || !slices.Equal(outs[0], want) {
			return false
		}
	}
	name := d.fresh(n.Name + "_shape")
	d.g.AddParam(name, t, false)
	n.Inputs[1] = name
	return true
}

// rewriteResizeSizes handles F.interpolate(x, size=...) exports, whose
// sizes input is [N, C, H, W] built from Shape(x): the batch entry follows
// the batch, so it cannot fold, and ONNX sizes have no "keep this
// dimension". Where every entry that differs between the two batches is
// the input's own dimension, the sizes become scales: 1 for those, and for
// the others the float32 nearest size/in whose floor(in·scale) gives the
// size back (the scale then used for coordinates differs from size/in by
// at most an ulp).
func (d *decoder) rewriteResizeSizes(n *graph.Node, st [2]*foldState) bool {
	if len(n.Inputs) != 4 || n.Inputs[3] == "" || d.g.Param(n.Inputs[3]) != nil || len(n.Outputs) != 1 {
		return false
	}
	if n.Inputs[2] != "" {
		if p := d.g.Param(n.Inputs[2]); p == nil || p.Value.Len() != 0 {
			return false
		}
	}
	a, b := st[0].vals[n.Inputs[3]], st[1].vals[n.Inputs[3]]
	x0, x1 := st[0].shapes[n.Inputs[0]], st[1].shapes[n.Inputs[0]]
	if a == nil || b == nil || len(a.Data) != len(x0) || len(b.Data) != len(x1) || len(x0) != len(x1) {
		return false
	}
	scales := make([]float32, len(x0))
	for i := range scales {
		va, vb := a.Data[i], b.Data[i]
		switch {
		case float32(x0[i]) == va && float32(x1[i]) == vb:
			scales[i] = 1
		case va == vb && x0[i] == x1[i] && va >= 1 && x0[i] > 0:
			scales[i] = exactScale(int(va), x0[i])
		default:
			return false
		}
	}
	name := d.fresh(n.Name + "_scales")
	d.g.AddParam(name, &tensor.Tensor{Shape: []int{len(scales)}, Data: scales}, false)
	n.Inputs = []string{n.Inputs[0], n.Inputs[1], name}
	return true
}

// maxFillElems bounds the param that replaces a ConstantOfShape whose
// shape follows the batch (rewriteFill), as maxFoldGrowth bounds folding.
const maxFillElems = 1 << 20

// rewriteFill removes a ConstantOfShape whose shape follows the batch
// (tf2onnx pads a shortcut to more channels with Concat(x,
// ConstantOfShape(Concat(Shape(x)[0:1], [C, H, W]))); PyTorch exports
// torch.full_like(x, v) as ConstantOfShape(Shape(x))): the IR's
// ConstantOfShape needs a constant shape, and ONNX's has no "copy the
// batch". Each reader is rewritten to compute the same without it: an
// elementwise op whose other operand has the batch reads a param holding
// the fill with 1 for the batch entries, and a Concat of an activation and
// the fill along another axis becomes a constant Pad of the activation.
// Each rewrite must give the reader's output shapes at both batches; if
// one reader cannot be rewritten, nothing is.
func (d *decoder) rewriteFill(n *graph.Node, st [2]*foldState, isOutput map[string]bool) bool {
	g := d.g
	if len(n.Inputs) != 1 || len(n.Outputs) != 1 || g.Param(n.Inputs[0]) != nil || isOutput[n.Outputs[0]] {
		return false
	}
	a, b := st[0].vals[n.Inputs[0]], st[1].vals[n.Inputs[0]]
	if a == nil || b == nil || a.Rank() != 1 || len(a.Data) != len(b.Data) {
		return false
	}
	value := float32(0)
	if t, ok := n.Attrs["value"].(*tensor.Tensor); ok && t.Len() == 1 {
		value = t.Data[0]
	}
	shape := make([]int, len(a.Data)) // 1 where the shape follows the batch
	follows := make([]bool, len(a.Data))
	for i, v := range a.Data {
		shape[i] = int(v)
		if v != b.Data[i] {
			shape[i], follows[i] = 1, true
		}
		if shape[i] < 0 {
			return false
		}
	}
	if !slices.Contains(follows, true) {
		return false
	}
	y := n.Outputs[0]
	var edits []func()
	var fill string // the param, made once for every broadcasting reader
	for _, r := range g.Nodes {
		if !slices.Contains(r.Inputs, y) {
			continue
		}
		switch {
		case broadcastReader[r.Op] && fillBroadcasts(r, y, shape, st):
			if ne, err := tensor.NumElems(shape); err != nil || ne > maxFillElems {
				return false
			}
			edits = append(edits, func() {
				if fill == "" {
					t := tensor.New(shape...)
					t.Fill(value)
					fill = d.fresh(y)
					g.AddParam(fill, t, false)
				}
				for i, in := range r.Inputs {
					if in == y {
						r.Inputs[i] = fill
					}
				}
			})
		case r.Op == "Concat":
			e := d.concatAsPad(r, y, shape, follows, value, st)
			if e == nil {
				return false
			}
			edits = append(edits, e)
		default:
			return false
		}
	}
	if len(edits) == 0 {
		return false
	}
	for _, e := range edits {
		e()
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(m *graph.Node) bool { return m == n })
	return true
}

// broadcastReader lists the ops whose operands broadcast (numpy style), so
// that a fill with 1 for the batch computes what the full one does.
var broadcastReader = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true,
	"Max": true, "Min": true, "Sum": true, "Mean": true, "PRelu": true}

// fillBroadcasts reports whether r, reading a tensor of the given shape
// in place of y, gives the output shapes it gives at both batches.
func fillBroadcasts(r *graph.Node, y string, shape []int, st [2]*foldState) bool {
	op, err := cpu.NewOp(r)
	if err != nil || len(r.Outputs) != 1 {
		return false
	}
	for _, s := range st {
		ins := make([][]int, len(r.Inputs))
		consts := make([]*tensor.Tensor, len(r.Inputs))
		for i, in := range r.Inputs {
			if in == y {
				ins[i] = shape
				continue
			}
			if ins[i] = s.shapes[in]; ins[i] == nil {
				return false
			}
			consts[i] = s.vals[in]
		}
		outs, err := safeInfer(op, ins, consts)
		if err != nil || len(outs) != 1 || !slices.Equal(outs[0], s.shapes[r.Outputs[0]]) {
			return false
		}
	}
	return true
}

// concatAsPad returns the edit that turns r = Concat(x, y) or Concat(y, x),
// y being a fill of the given shape (1 where it follows the batch), into
// Pad(x) with the fill's value, or nil when that does not compute the same
// shapes at both batches.
func (d *decoder) concatAsPad(r *graph.Node, y string, shape []int, follows []bool, value float32, st [2]*foldState) func() {
	if len(r.Inputs) != 2 || len(r.Outputs) != 1 || (r.Inputs[0] == y) == (r.Inputs[1] == y) {
		return nil
	}
	x, first := r.Inputs[1], true
	if r.Inputs[1] == y {
		x, first = r.Inputs[0], false
	}
	axis, _ := r.Attrs.Int("axis", 0)
	ax, ok := resolveFoldAxis(axis, len(shape))
	if !ok || follows[ax] {
		return nil
	}
	pads := make([]float32, 2*len(shape))
	if first {
		pads[ax] = float32(shape[ax])
	} else {
		pads[len(shape)+ax] = float32(shape[ax])
	}
	padsT := &tensor.Tensor{Shape: []int{len(pads)}, Data: pads}
	valT := &tensor.Tensor{Shape: []int{}, Data: []float32{value}}
	pn := &graph.Node{Name: r.Name, Op: "Pad", Inputs: []string{x, "pads", "value"}, Outputs: r.Outputs, Attrs: graph.Attrs{"mode": "constant"}}
	op, err := cpu.NewOp(pn)
	if err != nil {
		return nil
	}
	for _, s := range st {
		xs := s.shapes[x]
		outs, err := safeInfer(op, [][]int{xs, {len(pads)}, {}}, []*tensor.Tensor{nil, padsT, valT})
		if xs == nil || err != nil || len(outs) != 1 || !slices.Equal(outs[0], s.shapes[r.Outputs[0]]) {
			return nil
		}
	}
	return func() {
		pName, vName := d.fresh(r.Name+"_pads"), d.fresh(r.Name+"_value")
		d.g.AddParam(pName, padsT, false)
		d.g.AddParam(vName, valT, false)
		r.Op, r.Inputs, r.Attrs = "Pad", []string{x, pName, vName}, graph.Attrs{"mode": "constant"}
	}
}

// resolveFoldAxis resolves a negative axis against a rank.
func resolveFoldAxis(axis, rank int) (int, bool) {
	if axis < 0 {
		axis += rank
	}
	return axis, axis >= 0 && axis < rank
}

// exactScale returns the float32 closest to size/in for which
// floor(in·scale) is size.
func exactScale(size, in int) float32 {
	s := float32(float64(size) / float64(in))
	for k := 0; k < 4 && int(math.Floor(float64(in)*float64(s))) < size; k++ {
		s = math.Nextafter32(s, float32(math.Inf(1)))
	}
	return s
}

// dropDead removes nodes that compute constants or shapes which nothing
// reads any more (what fed a folded or rewritten node).
func dropDead(g *graph.Graph, st *foldState, isOutput map[string]bool) bool {
	reads := map[string]int{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			reads[in]++
		}
	}
	dead := make([]bool, len(g.Nodes))
	any := false
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		used := false
		computed := true
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if reads[o] > 0 || isOutput[o] {
				used = true
			}
			if st.vals[o] == nil {
				computed = false
			}
		}
		if used || !computed {
			continue
		}
		dead[i], any = true, true
		for _, in := range n.Inputs {
			reads[in]--
		}
	}
	if !any {
		return false
	}
	k := 0
	g.Nodes = slices.DeleteFunc(g.Nodes, func(*graph.Node) bool { k++; return dead[k-1] })
	return true
}

// propagate infers the shape of every value it can at one batch size, and
// the value of every value computed from params and shapes alone, running
// the graph's own ops.
func propagate(g *graph.Graph, batch int) *foldState {
	s := &foldState{shapes: map[string][]int{}, vals: map[string]*tensor.Tensor{}}
	for _, p := range g.Params {
		s.shapes[p.Name] = p.Value.Shape
		if !g.TrainOverrides[p.Name] {
			// A param the user trains is no constant to fold away.
			s.vals[p.Name] = p.Value
		}
	}
	for _, in := range g.Inputs {
		shape := slices.Clone(in.Shape)
		for i, v := range shape {
			if v < 0 {
				shape[i] = batch
			}
		}
		s.shapes[in.Name] = shape
	}
	ctx := &cpu.Ctx{Threads: 1, Rand: rand.New(rand.NewPCG(1, 2))}
	for _, n := range g.Nodes {
		s.node(ctx, n)
	}
	return s
}

// node infers one node's output shapes and, when all its inputs are known
// values (for Shape: when its input's shape is known), computes them.
// Errors and panics leave the outputs unknown.
func (s *foldState) node(ctx *cpu.Ctx, n *graph.Node) {
	defer func() {
		if r := recover(); r != nil {
			for _, o := range n.Outputs {
				delete(s.shapes, o)
				delete(s.vals, o)
			}
		}
	}()
	ins := make([][]int, len(n.Inputs))
	consts := make([]*tensor.Tensor, len(n.Inputs))
	allKnown, inElems := true, 0
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		sh, ok := s.shapes[name]
		if !ok {
			return
		}
		ins[i] = sh
		if v := s.vals[name]; v != nil {
			consts[i] = v
			inElems += v.Len()
		} else if !((n.Op == "Shape" || n.Op == "Size") && i == 0) {
			allKnown = false
		}
	}
	op, err := cpu.NewOp(n)
	if err != nil {
		return
	}
	outs, err := op.Infer(ins, consts)
	if err != nil || len(outs) < len(n.Outputs) {
		return
	}
	outElems := 0
	for k, o := range n.Outputs {
		if o == "" {
			continue
		}
		ne, err := tensor.NumElems(outs[k])
		if err != nil {
			return
		}
		outElems += ne
		s.shapes[o] = slices.Clone(outs[k])
	}
	if !allKnown || outElems > inElems+maxFoldGrowth || !slices.ContainsFunc(n.Inputs, func(s string) bool { return s != "" }) {
		return
	}
	in := make([]*tensor.Tensor, len(n.Inputs))
	for i := range n.Inputs {
		switch {
		case consts[i] != nil:
			in[i] = consts[i]
		case ins[i] != nil: // Shape's or Size's input: the shape is all it reads
			in[i] = &tensor.Tensor{Shape: ins[i]}
		}
	}
	out := make([]*tensor.Tensor, len(n.Outputs))
	for k, o := range n.Outputs {
		if o != "" {
			out[k] = tensor.New(outs[k]...)
		}
	}
	if err := op.Forward(ctx, in, out); err != nil {
		return
	}
	for k, o := range n.Outputs {
		if o != "" {
			s.vals[o] = out[k]
		}
	}
}

// safeInfer runs an op's shape inference, turning a panic into an error.
func safeInfer(op cpu.Op, in [][]int, consts []*tensor.Tensor) (outs [][]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in shape inference: %v", r)
		}
	}()
	return op.Infer(in, consts)
}
