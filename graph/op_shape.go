package graph

// Shape and data-movement ops: Flatten, Reshape, Squeeze, Unsqueeze,
// Transpose, Concat, Split, Slice, Gather, Pad, Expand.
//
// Data-valued inputs (Reshape's shape, Slice's starts/ends/axes/steps, Pad's
// pads, Squeeze/Unsqueeze axes, Split sizes, Gather indices, Expand's shape)
// arrive as float32 tensors and must be params (initializers), because
// output shapes are inferred before anything runs.

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

func init() {
	for name, parse := range map[string]func(*Node) (ViewShape, error){
		"Flatten": ParseFlatten, "Reshape": ParseReshape, "Squeeze": ParseSqueeze, "Unsqueeze": ParseUnsqueeze,
	} {
		RegisterOp(OpSpec{Type: name, Infer: inferWith(parse)})
	}
	RegisterOp(OpSpec{Type: "Transpose", Infer: inferWith(ParseTranspose)})
	RegisterOp(OpSpec{Type: "Concat", Infer: inferWith(ParseConcat)})
	RegisterOp(OpSpec{Type: "Split", Infer: inferWith(ParseSplit)})
	RegisterOp(OpSpec{Type: "Slice", Infer: inferWith(ParseSlice)})
	RegisterOp(OpSpec{Type: "Gather", Infer: inferWith(ParseGather)})
	RegisterOp(OpSpec{Type: "Pad", Infer: inferWith(ParsePad)})
	RegisterOp(OpSpec{Type: "Expand", Infer: InferExpand})
}

// ViewShape is a view op's shape inference, made from the node's
// attributes (ParseFlatten, ...): the output's one shape.
type ViewShape func(in [][]int, consts []*tensor.Tensor) ([]int, error)

// Infer is the view op's shape inference (and its Op's).
func (f ViewShape) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	s, err := f(in, consts)
	if err != nil {
		return nil, err
	}
	return [][]int{s}, nil
}

// Flatten: [d0 … d(a−1) | da …] → [d0·…·d(a−1), da·…], axis in [−r, r].
func ParseFlatten(n *Node) (ViewShape, error) {
	axis, err := n.Attrs.Int("axis", 1)
	if err != nil {
		return nil, err
	}
	return ViewShape(func(in [][]int, _ []*tensor.Tensor) ([]int, error) {
		if err := WantInputs(in, 1, 1); err != nil {
			return nil, err
		}
		r, a := len(in[0]), axis
		if a < 0 {
			a += r
		}
		if a < 0 || a > r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
		}
		return []int{ShapeProd(in[0][:a]), ShapeProd(in[0][a:])}, nil
	}), nil
}

// Reshape: the shape input may hold one −1 (inferred) and 0s, which copy
// the input's dimension at the same index unless allowzero is 1.
func ParseReshape(n *Node) (ViewShape, error) {
	allowzero, err := n.Attrs.Int("allowzero", 0)
	if err != nil {
		return nil, err
	}
	return ViewShape(func(in [][]int, consts []*tensor.Tensor) ([]int, error) {
		if err := WantInputs(in, 2, 2); err != nil {
			return nil, err
		}
		spec, err := ConstIntsInput(consts, 1, "shape")
		if err != nil {
			return nil, err
		}
		return reshapeTarget(in[0], spec, allowzero != 0)
	}), nil
}

func reshapeTarget(in, spec []int, allowzero bool) ([]int, error) {
	out := make([]int, len(spec))
	infer := -1
	known := 1
	for i, v := range spec {
		switch {
		case v == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case v == 0 && !allowzero:
			if i >= len(in) {
				return nil, ShapeErr("shape %s copies dimension %d (0) of input %s, which has rank %d", fmt.Sprint(spec), i, in, len(in))
			}
			v = in[i]
		case v < 0:
			return nil, fmt.Errorf("shape %v has a negative dimension", spec)
		}
		if v > tensor.MaxElems || (v > 0 && known > tensor.MaxElems/v) {
			return nil, fmt.Errorf("shape %v is too large", spec)
		}
		out[i] = v
		known *= v
	}
	total := ShapeProd(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, ShapeErr("cannot reshape %s (%d elements) to %s", in, total, fmt.Sprint(spec))
		}
		out[infer] = total / known
	} else if known != total {
		return nil, ShapeErr("cannot reshape %s (%d elements) to %s (%d elements)", in, total, out, known)
	}
	return out, nil
}

// Squeeze removes the given size-1 axes (attribute ≤ 12, input 1 ≥ 13), or
// every size-1 axis when none are given.
func ParseSqueeze(n *Node) (ViewShape, error) {
	fromInput := hasInput(n, 1)
	attrAxes, err := n.Attrs.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	return ViewShape(func(in [][]int, consts []*tensor.Tensor) ([]int, error) {
		if err := WantInputs(in, 1, 2); err != nil {
			return nil, err
		}
		axes := attrAxes
		if fromInput {
			if axes, err = ConstIntsInput(consts, 1, "axes"); err != nil {
				return nil, err
			}
		}
		s := in[0]
		drop := make([]bool, len(s))
		if len(axes) == 0 {
			for i, d := range s {
				drop[i] = d == 1
			}
		} else {
			ax, err := resolveAxes(axes, len(s))
			if err != nil {
				return nil, err
			}
			for _, a := range ax {
				if s[a] != 1 {
					return nil, ShapeErr("cannot squeeze axis %d of size %d in shape %s", a, s[a], s)
				}
				drop[a] = true
			}
		}
		out := []int{}
		for i, d := range s {
			if !drop[i] {
				out = append(out, d)
			}
		}
		return out, nil
	}), nil
}

// Unsqueeze inserts size-1 axes at the given positions of the output
// (attribute ≤ 12, input 1 ≥ 13).
func ParseUnsqueeze(n *Node) (ViewShape, error) {
	fromInput := hasInput(n, 1)
	attrAxes, err := n.Attrs.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	if !fromInput && attrAxes == nil {
		return nil, fmt.Errorf("axes must be given (attribute or input 1)")
	}
	return ViewShape(func(in [][]int, consts []*tensor.Tensor) ([]int, error) {
		if err := WantInputs(in, 1, 2); err != nil {
			return nil, err
		}
		axes := attrAxes
		if fromInput {
			if axes, err = ConstIntsInput(consts, 1, "axes"); err != nil {
				return nil, err
			}
		}
		r := len(in[0]) + len(axes)
		ax, err := resolveAxes(axes, r)
		if err != nil {
			return nil, err
		}
		out := make([]int, r)
		for _, a := range ax {
			out[a] = -1
		}
		k := 0
		for i := range out {
			if out[i] == -1 {
				out[i] = 1
				continue
			}
			out[i] = in[0][k]
			k++
		}
		return out, nil
	}), nil
}

// TransposeAttrs are Transpose's attributes.
type TransposeAttrs struct{ perm []int }

// ParseTranspose decodes a Transpose node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseTranspose(n *Node) (TransposeAttrs, error) {
	perm, err := n.Attrs.Ints("perm", nil)
	return TransposeAttrs{perm: perm}, err
}

// PermFor returns the permutation for an input of the given rank (the
// reversed axes when the node has no perm attribute).
func (op TransposeAttrs) PermFor(rank int) ([]int, error) {
	if op.perm == nil {
		p := make([]int, rank)
		for i := range p {
			p[i] = rank - 1 - i
		}
		return p, nil
	}
	if len(op.perm) != rank {
		return nil, fmt.Errorf("perm %v has %d entries for rank %d", op.perm, len(op.perm), rank)
	}
	seen := make([]bool, rank)
	for _, a := range op.perm {
		if a < 0 || a >= rank || seen[a] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", op.perm, rank-1)
		}
		seen[a] = true
	}
	return op.perm, nil
}

// Infer is Transpose's shape inference.
func (op TransposeAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	perm, err := op.PermFor(len(in[0]))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(perm))
	for i, a := range perm {
		out[i] = in[0][a]
	}
	return [][]int{out}, nil
}

// ConcatAttrs are Concat's attributes.
type ConcatAttrs struct{ Axis int }

// ParseConcat decodes a Concat node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseConcat(n *Node) (ConcatAttrs, error) {
	if _, ok := n.Attrs["axis"]; !ok {
		return ConcatAttrs{}, fmt.Errorf("attribute axis is required")
	}
	axis, err := n.Attrs.Int("axis", 0)
	return ConcatAttrs{Axis: axis}, err
}

// Infer is Concat's shape inference.
func (op ConcatAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("want at least 1 input, have 0")
	}
	r := len(in[0])
	ax, err := ResolveAxis(op.Axis, r)
	if err != nil {
		return nil, err
	}
	out := CloneShape(in[0])
	for i := 1; i < len(in); i++ {
		s := in[i]
		ok := len(s) == r
		for d := 0; ok && d < r; d++ {
			ok = d == ax || s[d] == out[d]
		}
		if !ok {
			return nil, ShapeErr("input %d has shape %s, input 0 has %s: all dimensions except axis %d must agree", i, s, in[0], ax)
		}
		out[ax] += s[ax]
	}
	return [][]int{out}, nil
}

// SplitAttrs are Split's attributes.
type SplitAttrs struct {
	Axis      int
	nOut      int
	FromInput bool
	Split     []int // explicit sizes (attribute, or input 1 read at Infer)
}

// ParseSplit decodes a Split node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseSplit(n *Node) (SplitAttrs, error) {
	var no SplitAttrs
	r := AttrReader{A: n.Attrs}
	op := SplitAttrs{Axis: r.Int("axis", 0), nOut: len(n.Outputs), FromInput: hasInput(n, 1), Split: r.ints("split", nil)}
	num := r.Int("num_outputs", 0)
	if r.Err != nil {
		return no, r.Err
	}
	if num != 0 && num != op.nOut {
		return no, fmt.Errorf("num_outputs is %d but the node has %d outputs", num, op.nOut)
	}
	if op.nOut == 0 {
		return no, fmt.Errorf("no outputs")
	}
	return op, nil
}

// Sizes returns the output sizes along the split axis for an input whose
// axis has dim elements.
func (op SplitAttrs) Sizes(dim int) ([]int, error) {
	if op.Split != nil {
		if len(op.Split) != op.nOut {
			return nil, fmt.Errorf("split %v has %d sizes for %d outputs", op.Split, len(op.Split), op.nOut)
		}
		sum := 0
		for _, s := range op.Split {
			if s < 0 {
				return nil, fmt.Errorf("split %v has a negative size", op.Split)
			}
			sum += s
		}
		if sum != dim {
			return nil, fmt.Errorf("split %v sums to %d, axis has %d", op.Split, sum, dim)
		}
		return op.Split, nil
	}
	chunk := (dim + op.nOut - 1) / op.nOut
	s := make([]int, op.nOut)
	left := dim
	for i := range s {
		s[i] = min(chunk, left)
		left -= s[i]
	}
	return s, nil
}

// Infer is Split's shape inference.
func (op SplitAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	if op.FromInput {
		s, err := ConstIntsInput(consts, 1, "split")
		if err != nil {
			return nil, err
		}
		op.Split = s
	}
	ax, err := ResolveAxis(op.Axis, len(in[0]))
	if err != nil {
		return nil, err
	}
	sizes, err := op.Sizes(in[0][ax])
	if err != nil {
		return nil, err
	}
	outs := make([][]int, len(sizes))
	for i, s := range sizes {
		outs[i] = CloneShape(in[0])
		outs[i][ax] = s
	}
	return outs, nil
}

// SliceAttrs are Slice's attributes (opset ≤ 9) or which of its inputs are
// given, and, once read (withInputs), the starts, ends, axes and steps.
type SliceAttrs struct {
	AttrForm          bool
	hasAxes, hasSteps bool
	starts, ends      []int
	axes, steps       []int
}

// ParseSlice decodes a Slice node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseSlice(n *Node) (SliceAttrs, error) {
	op := SliceAttrs{hasAxes: hasInput(n, 3), hasSteps: hasInput(n, 4)}
	if !hasInput(n, 1) {
		r := AttrReader{A: n.Attrs}
		op.AttrForm = true
		op.starts, op.ends, op.axes = r.ints("starts", nil), r.ints("ends", nil), r.ints("axes", nil)
		if r.Err != nil {
			return SliceAttrs{}, r.Err
		}
		if op.starts == nil || op.ends == nil {
			return SliceAttrs{}, fmt.Errorf("starts and ends must be given (inputs 1, 2 or attributes)")
		}
	}
	return op, nil
}

// WithInputs checks the input count and returns the attributes with the
// starts, ends, axes and steps of the (constant) inputs.
func (op SliceAttrs) WithInputs(in [][]int, consts []*tensor.Tensor) (SliceAttrs, error) {
	if op.AttrForm {
		return op, WantInputs(in, 1, 1)
	}
	if err := WantInputs(in, 3, 5); err != nil {
		return op, err
	}
	var err error
	if op.starts, err = ConstIntsInput(consts, 1, "starts"); err != nil {
		return op, err
	}
	if op.ends, err = ConstIntsInput(consts, 2, "ends"); err != nil {
		return op, err
	}
	op.axes, op.steps = nil, nil
	if op.hasAxes {
		if op.axes, err = ConstIntsInput(consts, 3, "axes"); err != nil {
			return op, err
		}
	}
	if op.hasSteps {
		if op.steps, err = ConstIntsInput(consts, 4, "steps"); err != nil {
			return op, err
		}
	}
	return op, nil
}

// Infer is Slice's shape inference.
func (op SliceAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.WithInputs(in, consts)
	if err != nil {
		return nil, err
	}
	_, _, out, err := a.Resolve(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Resolve returns, per input dimension, the first index, the step and the
// count of elements taken.
func (op SliceAttrs) Resolve(shape []int) (start, step, count []int, err error) {
	r := len(shape)
	if len(op.ends) != len(op.starts) {
		return nil, nil, nil, fmt.Errorf("starts %v and ends %v differ in length", op.starts, op.ends)
	}
	axes := op.axes
	if axes == nil {
		axes = make([]int, len(op.starts))
		for i := range axes {
			axes[i] = i
		}
	}
	if len(axes) != len(op.starts) {
		return nil, nil, nil, fmt.Errorf("axes %v and starts %v differ in length", axes, op.starts)
	}
	if op.steps != nil && len(op.steps) != len(op.starts) {
		return nil, nil, nil, fmt.Errorf("steps %v and starts %v differ in length", op.steps, op.starts)
	}
	ax, err := resolveAxes(axes, r)
	if err != nil {
		return nil, nil, nil, err
	}
	start, step, count = make([]int, r), make([]int, r), CloneShape(shape)
	for d := range step {
		step[d] = 1
	}
	for i, a := range ax {
		dim := shape[a]
		st := 1
		if op.steps != nil {
			st = op.steps[i]
		}
		if st == 0 {
			return nil, nil, nil, fmt.Errorf("steps %v has a zero step", op.steps)
		}
		b, e := op.starts[i], op.ends[i]
		if b < 0 {
			b += dim
		}
		if e < 0 {
			e += dim
		}
		var c int
		if st > 0 {
			b, e = max(0, min(b, dim)), max(0, min(e, dim))
			c = (e - b + st - 1) / st
		} else {
			b, e = max(0, min(b, dim-1)), max(-1, min(e, dim-1))
			c = (b - e - st - 1) / -st
		}
		if dim == 0 || c < 0 {
			c = 0
		}
		start[a], step[a], count[a] = b, st, c
	}
	return start, step, count, nil
}

// GatherAttrs are Gather's attributes.
type GatherAttrs struct{ Axis int }

// GatherIndices are the (constant) indices input.
type GatherIndices struct {
	Raw      []int // indices as given
	idxShape []int
}

// ParseGather decodes a Gather node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseGather(n *Node) (GatherAttrs, error) {
	axis, err := n.Attrs.Int("axis", 0)
	return GatherAttrs{Axis: axis}, err
}

// Infer is Gather's shape inference.
func (op GatherAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	_, out, err := op.Shape(in, consts)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Shape reads the indices and checks them against the data's shape.
func (op GatherAttrs) Shape(in [][]int, consts []*tensor.Tensor) (GatherIndices, []int, error) {
	var g GatherIndices
	if err := WantInputs(in, 2, 2); err != nil {
		return g, nil, err
	}
	t, err := constInput(consts, 1, "indices")
	if err != nil {
		return g, nil, err
	}
	if g.Raw, err = constInts(t, "indices"); err != nil {
		return g, nil, err
	}
	g.idxShape = CloneShape(t.Shape)
	ax, _, err := ResolveGather(op.Axis, g.Raw, in[0])
	if err != nil {
		return g, nil, err
	}
	out := append(append(CloneShape(in[0][:ax]), g.idxShape...), in[0][ax+1:]...)
	return g, out, nil
}

// ResolveGather checks indices raw along axis of shape and returns the axis
// and the indices made non-negative.
func ResolveGather(axis int, raw, shape []int) (int, []int, error) {
	ax, err := ResolveAxis(axis, len(shape))
	if err != nil {
		return 0, nil, err
	}
	dim := shape[ax]
	idx := make([]int, len(raw))
	for i, v := range raw {
		if v < -dim || v >= dim {
			return 0, nil, fmt.Errorf("index %d out of range for axis %d of size %d", v, ax, dim)
		}
		if v < 0 {
			v += dim
		}
		idx[i] = v
	}
	return ax, idx, nil
}

// PadAttrs are Pad's attributes (pads in opset ≤ 10) and which inputs are
// given, and, once read (withInputs), the pads and axes.
type PadAttrs struct {
	Mode     string
	AttrForm bool
	hasAxes  bool
	pads     []int
	axes     []int
	Value    float32
}

// ParsePad decodes a Pad node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParsePad(n *Node) (PadAttrs, error) {
	var no PadAttrs
	r := AttrReader{A: n.Attrs}
	op := PadAttrs{Mode: r.str("mode", "constant"), hasAxes: hasInput(n, 3), Value: r.Float("value", 0)}
	switch op.Mode {
	case "constant", "reflect", "edge", "wrap":
	default:
		return no, fmt.Errorf("unknown mode %q", op.Mode)
	}
	if !hasInput(n, 1) {
		op.AttrForm = true
		op.pads = r.ints("pads", nil)
		if op.pads == nil {
			op.pads = r.ints("paddings", nil) // opset 1
		}
		if op.pads == nil && r.Err == nil {
			return no, fmt.Errorf("pads must be given (input 1 or attribute)")
		}
	}
	return op, r.Err
}

// WithInputs checks the input count and returns the attributes with the
// pads and axes of the (constant) inputs.
func (op PadAttrs) WithInputs(in [][]int, consts []*tensor.Tensor) (PadAttrs, error) {
	if op.AttrForm {
		return op, WantInputs(in, 1, 1)
	}
	if err := WantInputs(in, 2, 4); err != nil {
		return op, err
	}
	var err error
	if op.pads, err = ConstIntsInput(consts, 1, "pads"); err != nil {
		return op, err
	}
	op.axes = nil
	if op.hasAxes {
		if op.axes, err = ConstIntsInput(consts, 3, "axes"); err != nil {
			return op, err
		}
	}
	return op, checkScalarInput(in, 2, "constant_value")
}

// Infer is Pad's shape inference.
func (op PadAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.WithInputs(in, consts)
	if err != nil {
		return nil, err
	}
	_, _, out, err := a.Extent(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Extent checks the pads against an input shape and returns the pads
// before and after each axis and the output shape.
func (op PadAttrs) Extent(shape []int) (begin, end, out []int, err error) {
	r := len(shape)
	begin, end = make([]int, r), make([]int, r)
	if op.axes != nil {
		ax, err := resolveAxes(op.axes, r)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(op.pads) != 2*len(ax) {
			return nil, nil, nil, fmt.Errorf("pads %v: want %d values for axes %v", op.pads, 2*len(ax), op.axes)
		}
		for i, a := range ax {
			begin[a], end[a] = op.pads[i], op.pads[i+len(ax)]
		}
	} else {
		if len(op.pads) != 2*r {
			return nil, nil, nil, ShapeErr("pads %s: want %d values for input %s", fmt.Sprint(op.pads), 2*r, shape)
		}
		copy(begin, op.pads[:r])
		copy(end, op.pads[r:])
	}
	out = make([]int, r)
	for d, dim := range shape {
		b, e := begin[d], end[d]
		if b > tensor.MaxElems || e > tensor.MaxElems {
			return nil, nil, nil, fmt.Errorf("pads %v too large", op.pads)
		}
		out[d] = dim + b + e
		if out[d] < 0 {
			return nil, nil, nil, ShapeErr("pads %s crop more than axis %d of input %s holds", fmt.Sprint(op.pads), d, shape)
		}
		lo := max(0, -b)
		m := dim - lo - max(0, -e) // the kept input range [lo, lo+m)
		if m <= 0 && out[d] > 0 && op.Mode != "constant" {
			return nil, nil, nil, ShapeErr("cannot pad an empty axis %d of input %s in %s mode", d, shape, op.Mode)
		}
	}
	return begin, end, out, nil
}

// InferExpand: x broadcasts with the (constant) shape input.
func InferExpand(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 2, 2); err != nil {
		return nil, err
	}
	shape, err := ConstIntsInput(consts, 1, "shape")
	if err != nil {
		return nil, err
	}
	for _, d := range shape {
		if d < 0 || d > tensor.MaxElems {
			return nil, fmt.Errorf("shape %v has a bad dimension", shape)
		}
	}
	out, err := BroadcastShapes(in[0], shape)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}
