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
	"slices"

	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for name, parse := range map[string]func(*Node) (viewShape, error){
		"Flatten": parseFlatten, "Reshape": parseReshape, "Squeeze": parseSqueeze, "Unsqueeze": parseUnsqueeze,
	} {
		RegisterOp(OpSpec{Type: name, Infer: inferWith(parse)})
		RegisterKernel(name, func(n *Node) (Op, error) {
			f, err := parse(n)
			if err != nil {
				return nil, err
			}
			return &viewOp{f}, nil
		})
	}
	RegisterOp(OpSpec{Type: "Transpose", Infer: inferWith(parseTranspose)})
	RegisterKernel("Transpose", newTranspose)
	RegisterOp(OpSpec{Type: "Concat", Infer: inferWith(parseConcat)})
	RegisterKernel("Concat", newConcat)
	RegisterOp(OpSpec{Type: "Split", Infer: inferWith(parseSplit)})
	RegisterKernel("Split", newSplit)
	RegisterOp(OpSpec{Type: "Slice", Infer: inferWith(parseSlice)})
	RegisterKernel("Slice", newSlice)
	RegisterOp(OpSpec{Type: "Gather", Infer: inferWith(parseGather)})
	RegisterKernel("Gather", newGather)
	RegisterOp(OpSpec{Type: "Pad", Infer: inferWith(parsePad)})
	RegisterKernel("Pad", newPad)
	RegisterOp(OpSpec{Type: "Expand", Infer: inferExpand})
	RegisterKernel("Expand", func(*Node) (Op, error) { return &expandOp{}, nil })
}

// viewOp is an op whose output is its first input's data under a new
// shape: Flatten, Reshape, Squeeze, Unsqueeze. Outputs have their own
// buffers, so Forward copies.
type viewOp struct{ viewShape }

// viewShape is a view op's shape inference, made from the node's
// attributes (parseFlatten, ...): the output's one shape.
type viewShape func(in [][]int, consts []*tensor.Tensor) ([]int, error)

// Infer is the view op's shape inference (and its Op's).
func (f viewShape) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	s, err := f(in, consts)
	if err != nil {
		return nil, err
	}
	return [][]int{s}, nil
}

func (op *viewOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	return copyData(out[0], in[0])
}

func (op *viewOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	return addInto(ctx.Threads, gin[0].Data, gout[0].Data)
}

// Flatten: [d0 … d(a−1) | da …] → [d0·…·d(a−1), da·…], axis in [−r, r].
func parseFlatten(n *Node) (viewShape, error) {
	axis, err := n.Attrs.Int("axis", 1)
	if err != nil {
		return nil, err
	}
	return viewShape(func(in [][]int, _ []*tensor.Tensor) ([]int, error) {
		if err := wantInputs(in, 1, 1); err != nil {
			return nil, err
		}
		r, a := len(in[0]), axis
		if a < 0 {
			a += r
		}
		if a < 0 || a > r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
		}
		return []int{shapeProd(in[0][:a]), shapeProd(in[0][a:])}, nil
	}), nil
}

// Reshape: the shape input may hold one −1 (inferred) and 0s, which copy
// the input's dimension at the same index unless allowzero is 1.
func parseReshape(n *Node) (viewShape, error) {
	allowzero, err := n.Attrs.Int("allowzero", 0)
	if err != nil {
		return nil, err
	}
	return viewShape(func(in [][]int, consts []*tensor.Tensor) ([]int, error) {
		if err := wantInputs(in, 2, 2); err != nil {
			return nil, err
		}
		spec, err := constIntsInput(consts, 1, "shape")
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
				return nil, shapeErr("shape %s copies dimension %d (0) of input %s, which has rank %d", fmt.Sprint(spec), i, in, len(in))
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
	total := shapeProd(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, shapeErr("cannot reshape %s (%d elements) to %s", in, total, fmt.Sprint(spec))
		}
		out[infer] = total / known
	} else if known != total {
		return nil, shapeErr("cannot reshape %s (%d elements) to %s (%d elements)", in, total, out, known)
	}
	return out, nil
}

// Squeeze removes the given size-1 axes (attribute ≤ 12, input 1 ≥ 13), or
// every size-1 axis when none are given.
func parseSqueeze(n *Node) (viewShape, error) {
	fromInput := hasInput(n, 1)
	attrAxes, err := n.Attrs.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	return viewShape(func(in [][]int, consts []*tensor.Tensor) ([]int, error) {
		if err := wantInputs(in, 1, 2); err != nil {
			return nil, err
		}
		axes := attrAxes
		if fromInput {
			if axes, err = constIntsInput(consts, 1, "axes"); err != nil {
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
					return nil, shapeErr("cannot squeeze axis %d of size %d in shape %s", a, s[a], s)
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
func parseUnsqueeze(n *Node) (viewShape, error) {
	fromInput := hasInput(n, 1)
	attrAxes, err := n.Attrs.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	if !fromInput && attrAxes == nil {
		return nil, fmt.Errorf("axes must be given (attribute or input 1)")
	}
	return viewShape(func(in [][]int, consts []*tensor.Tensor) ([]int, error) {
		if err := wantInputs(in, 1, 2); err != nil {
			return nil, err
		}
		axes := attrAxes
		if fromInput {
			if axes, err = constIntsInput(consts, 1, "axes"); err != nil {
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

// transposeOp permutes axes: out.shape[i] = in.shape[perm[i]]; perm
// defaults to reversing the axes.
type transposeOp struct {
	transposeAttrs
	plan  *stridePlan
	shape []int // input shape the plan is for
}

// transposeAttrs are Transpose's attributes.
type transposeAttrs struct{ perm []int }

func parseTranspose(n *Node) (transposeAttrs, error) {
	perm, err := n.Attrs.Ints("perm", nil)
	return transposeAttrs{perm: perm}, err
}

func newTranspose(n *Node) (Op, error) {
	a, err := parseTranspose(n)
	return &transposeOp{transposeAttrs: a}, err
}

func (op transposeAttrs) permFor(rank int) ([]int, error) {
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
func (op transposeAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	perm, err := op.permFor(len(in[0]))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(perm))
	for i, a := range perm {
		out[i] = in[0][a]
	}
	return [][]int{out}, nil
}

func (op *transposeOp) planFor(shape []int) (*stridePlan, error) {
	if op.plan != nil && slices.Equal(shape, op.shape) {
		return op.plan, nil
	}
	perm, err := op.permFor(len(shape))
	if err != nil {
		return nil, err
	}
	cs := contiguousStrides(shape)
	dims, st := make([]int, len(perm)), make([]int, len(perm))
	for i, a := range perm {
		dims[i], st[i] = shape[a], cs[a]
	}
	op.plan, op.shape = newStridePlan(dims, nil, st), cloneShape(shape)
	return op.plan, nil
}

func (op *transposeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p, err := op.planFor(in[0].Shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != p.n {
		return shapeErr("output has shape %s for input %s", out[0].Shape, in[0].Shape)
	}
	p.gather(ctx.Threads, x, y)
	return nil
}

func (op *transposeOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	p, err := op.planFor(in[0].Shape)
	if err != nil {
		return err
	}
	p.scatterAdd(ctx.Threads, gout[0].Data, gin[0].Data)
	return nil
}

// concatOp joins its inputs along axis (negative counts from the back).
type concatOp struct{ concatAttrs }

// concatAttrs are Concat's attributes.
type concatAttrs struct{ axis int }

func parseConcat(n *Node) (concatAttrs, error) {
	if _, ok := n.Attrs["axis"]; !ok {
		return concatAttrs{}, fmt.Errorf("attribute axis is required")
	}
	axis, err := n.Attrs.Int("axis", 0)
	return concatAttrs{axis: axis}, err
}

func newConcat(n *Node) (Op, error) {
	a, err := parseConcat(n)
	return &concatOp{a}, err
}

// Infer is Concat's shape inference.
func (op concatAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("want at least 1 input, have 0")
	}
	r := len(in[0])
	ax, err := resolveAxis(op.axis, r)
	if err != nil {
		return nil, err
	}
	out := cloneShape(in[0])
	for i := 1; i < len(in); i++ {
		s := in[i]
		ok := len(s) == r
		for d := 0; ok && d < r; d++ {
			ok = d == ax || s[d] == out[d]
		}
		if !ok {
			return nil, shapeErr("input %d has shape %s, input 0 has %s: all dimensions except axis %d must agree", i, s, in[0], ax)
		}
		out[ax] += s[ax]
	}
	return [][]int{out}, nil
}

func (op *concatOp) layout(in []*tensor.Tensor) (ax, outer, inner int, err error) {
	shape := in[0].Shape
	if ax, err = resolveAxis(op.axis, len(shape)); err != nil {
		return
	}
	return ax, shapeProd(shape[:ax]), shapeProd(shape[ax+1:]), nil
}

func (op *concatOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	ax, outer, inner, err := op.layout(in)
	if err != nil {
		return err
	}
	y := out[0].Data
	row := out[0].Shape[ax] * inner
	pos := 0
	for _, x := range in {
		blk := x.Shape[ax] * inner
		for o := range outer {
			copy(y[o*row+pos:o*row+pos+blk], x.Data[o*blk:(o+1)*blk])
		}
		pos += blk
	}
	if pos != row {
		return shapeErr("inputs fill %d of %d elements per row of output %s", pos, row, out[0].Shape)
	}
	return nil
}

func (op *concatOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	ax, outer, inner, err := op.layout(in)
	if err != nil {
		return err
	}
	g := gout[0].Data
	row := out[0].Shape[ax] * inner
	pos := 0
	for i, x := range in {
		blk := x.Shape[ax] * inner
		if gin[i] != nil {
			gx := gin[i].Data
			for o := range outer {
				d, s := gx[o*blk:(o+1)*blk], g[o*row+pos:o*row+pos+blk]
				for j, v := range s {
					d[j] += v
				}
			}
		}
		pos += blk
	}
	return nil
}

// splitOp cuts its input along axis into len(outputs) pieces whose sizes
// come from input 1 (opset ≥ 13), the split attribute (≤ 12), or equal
// parts (with num_outputs, opset 18, or the output count): ceil(d/n) each
// and a smaller last piece when d is not divisible.
type splitOp struct{ splitAttrs }

// splitAttrs are Split's attributes.
type splitAttrs struct {
	axis      int
	nOut      int
	fromInput bool
	split     []int // explicit sizes (attribute, or input 1 read at Infer)
}

func newSplit(n *Node) (Op, error) {
	a, err := parseSplit(n)
	if err != nil {
		return nil, err
	}
	return &splitOp{a}, nil
}

func parseSplit(n *Node) (splitAttrs, error) {
	var no splitAttrs
	r := attrReader{a: n.Attrs}
	op := splitAttrs{axis: r.int("axis", 0), nOut: len(n.Outputs), fromInput: hasInput(n, 1), split: r.ints("split", nil)}
	num := r.int("num_outputs", 0)
	if r.err != nil {
		return no, r.err
	}
	if num != 0 && num != op.nOut {
		return no, fmt.Errorf("num_outputs is %d but the node has %d outputs", num, op.nOut)
	}
	if op.nOut == 0 {
		return no, fmt.Errorf("no outputs")
	}
	return op, nil
}

func (op splitAttrs) sizes(dim int) ([]int, error) {
	if op.split != nil {
		if len(op.split) != op.nOut {
			return nil, fmt.Errorf("split %v has %d sizes for %d outputs", op.split, len(op.split), op.nOut)
		}
		sum := 0
		for _, s := range op.split {
			if s < 0 {
				return nil, fmt.Errorf("split %v has a negative size", op.split)
			}
			sum += s
		}
		if sum != dim {
			return nil, fmt.Errorf("split %v sums to %d, axis has %d", op.split, sum, dim)
		}
		return op.split, nil
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

// Infer, with the sizes read from input 1 kept for Forward.
func (op *splitOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := op.splitAttrs.Infer(in, consts)
	if err == nil && op.fromInput {
		op.split, _ = constIntsInput(consts, 1, "split")
	}
	return outs, err
}

// Infer is Split's shape inference.
func (op splitAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	if op.fromInput {
		s, err := constIntsInput(consts, 1, "split")
		if err != nil {
			return nil, err
		}
		op.split = s
	}
	ax, err := resolveAxis(op.axis, len(in[0]))
	if err != nil {
		return nil, err
	}
	sizes, err := op.sizes(in[0][ax])
	if err != nil {
		return nil, err
	}
	outs := make([][]int, len(sizes))
	for i, s := range sizes {
		outs[i] = cloneShape(in[0])
		outs[i][ax] = s
	}
	return outs, nil
}

func (op *splitOp) layout(shape []int) (sizes []int, outer, inner int, err error) {
	ax, err := resolveAxis(op.axis, len(shape))
	if err != nil {
		return nil, 0, 0, err
	}
	sizes, err = op.sizes(shape[ax])
	return sizes, shapeProd(shape[:ax]), shapeProd(shape[ax+1:]), err
}

func (op *splitOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	sizes, outer, inner, err := op.layout(in[0].Shape)
	if err != nil {
		return err
	}
	x := in[0].Data
	row := len(x) / max(outer, 1)
	pos := 0
	for i, s := range sizes {
		blk := s * inner
		if i < len(out) && out[i] != nil {
			y := out[i].Data
			for o := range outer {
				copy(y[o*blk:(o+1)*blk], x[o*row+pos:o*row+pos+blk])
			}
		}
		pos += blk
	}
	return nil
}

func (op *splitOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil {
		return nil
	}
	sizes, outer, inner, err := op.layout(in[0].Shape)
	if err != nil {
		return err
	}
	gx := gin[0].Data
	row := len(gx) / max(outer, 1)
	pos := 0
	for i, s := range sizes {
		blk := s * inner
		if i < len(gout) && gout[i] != nil {
			g := gout[i].Data
			for o := range outer {
				d, src := gx[o*row+pos:o*row+pos+blk], g[o*blk:(o+1)*blk]
				for j, v := range src {
					d[j] += v
				}
			}
		}
		pos += blk
	}
	return nil
}

// sliceOp is Slice: starts, ends, axes, steps from inputs 1–4 (opset ≥ 10)
// or attributes starts, ends, axes (≤ 9). Negative starts/ends count from
// the back; they are clamped like ONNX ([0, d] for positive steps,
// [−1, d−1] for negative ones), so INT64_MAX/INT64_MIN mean "to the end".
type sliceOp struct {
	sliceAttrs
	plan            *stridePlan
	shape, outShape []int // input shape the plan is for, and its output
}

// sliceAttrs are Slice's attributes (opset ≤ 9) or which of its inputs are
// given, and, once read (withInputs), the starts, ends, axes and steps.
type sliceAttrs struct {
	attrForm          bool
	hasAxes, hasSteps bool
	starts, ends      []int
	axes, steps       []int
}

func parseSlice(n *Node) (sliceAttrs, error) {
	op := sliceAttrs{hasAxes: hasInput(n, 3), hasSteps: hasInput(n, 4)}
	if !hasInput(n, 1) {
		r := attrReader{a: n.Attrs}
		op.attrForm = true
		op.starts, op.ends, op.axes = r.ints("starts", nil), r.ints("ends", nil), r.ints("axes", nil)
		if r.err != nil {
			return sliceAttrs{}, r.err
		}
		if op.starts == nil || op.ends == nil {
			return sliceAttrs{}, fmt.Errorf("starts and ends must be given (inputs 1, 2 or attributes)")
		}
	}
	return op, nil
}

func newSlice(n *Node) (Op, error) {
	a, err := parseSlice(n)
	if err != nil {
		return nil, err
	}
	return &sliceOp{sliceAttrs: a}, nil
}

// withInputs checks the input count and returns the attributes with the
// starts, ends, axes and steps of the (constant) inputs.
func (op sliceAttrs) withInputs(in [][]int, consts []*tensor.Tensor) (sliceAttrs, error) {
	if op.attrForm {
		return op, wantInputs(in, 1, 1)
	}
	if err := wantInputs(in, 3, 5); err != nil {
		return op, err
	}
	var err error
	if op.starts, err = constIntsInput(consts, 1, "starts"); err != nil {
		return op, err
	}
	if op.ends, err = constIntsInput(consts, 2, "ends"); err != nil {
		return op, err
	}
	op.axes, op.steps = nil, nil
	if op.hasAxes {
		if op.axes, err = constIntsInput(consts, 3, "axes"); err != nil {
			return op, err
		}
	}
	if op.hasSteps {
		if op.steps, err = constIntsInput(consts, 4, "steps"); err != nil {
			return op, err
		}
	}
	return op, nil
}

// Infer is Slice's shape inference.
func (op sliceAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.withInputs(in, consts)
	if err != nil {
		return nil, err
	}
	_, _, out, err := a.resolve(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Infer keeps what the inputs say for Forward.
func (op *sliceOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.withInputs(in, consts)
	if err != nil {
		return nil, err
	}
	if !op.attrForm {
		op.sliceAttrs, op.plan = a, nil
	}
	_, _, out, err := a.resolve(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// resolve returns, per input dimension, the first index, the step and the
// count of elements taken.
func (op sliceAttrs) resolve(shape []int) (start, step, count []int, err error) {
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
	start, step, count = make([]int, r), make([]int, r), cloneShape(shape)
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

func (op *sliceOp) planFor(shape []int) (*stridePlan, error) {
	if op.plan != nil && slices.Equal(shape, op.shape) {
		return op.plan, nil
	}
	start, step, count, err := op.resolve(shape)
	if err != nil {
		return nil, err
	}
	cs := contiguousStrides(shape)
	base := 0
	st := make([]int, len(shape))
	for d := range shape {
		if count[d] > 0 {
			base += start[d] * cs[d]
		}
		st[d] = step[d] * cs[d]
	}
	op.plan = newStridePlan(count, []int{base}, st)
	op.shape, op.outShape = cloneShape(shape), count
	return op.plan, nil
}

func (op *sliceOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p, err := op.planFor(in[0].Shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != p.n {
		return shapeErr("output has shape %s, slice of %s has %s", out[0].Shape, in[0].Shape, op.outShape)
	}
	p.gather(ctx.Threads, x, y)
	return nil
}

func (op *sliceOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	p, err := op.planFor(in[0].Shape)
	if err != nil {
		return err
	}
	p.scatterAdd(ctx.Threads, gout[0].Data, gin[0].Data)
	return nil
}

// gatherOp is Gather with constant indices: out.shape = data.shape[:axis] +
// indices.shape + data.shape[axis+1:]; negative indices count from the
// back. Backward scatter-adds.
type gatherOp struct {
	gatherAttrs
	gatherIndices
}

// gatherAttrs are Gather's attributes.
type gatherAttrs struct{ axis int }

// gatherIndices are the (constant) indices input.
type gatherIndices struct {
	raw      []int // indices as given
	idxShape []int
}

func parseGather(n *Node) (gatherAttrs, error) {
	axis, err := n.Attrs.Int("axis", 0)
	return gatherAttrs{axis: axis}, err
}

func newGather(n *Node) (Op, error) {
	a, err := parseGather(n)
	return &gatherOp{gatherAttrs: a}, err
}

// Infer is Gather's shape inference.
func (op gatherAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	_, out, err := op.shape(in, consts)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// shape reads the indices and checks them against the data's shape.
func (op gatherAttrs) shape(in [][]int, consts []*tensor.Tensor) (gatherIndices, []int, error) {
	var g gatherIndices
	if err := wantInputs(in, 2, 2); err != nil {
		return g, nil, err
	}
	t, err := constInput(consts, 1, "indices")
	if err != nil {
		return g, nil, err
	}
	if g.raw, err = constInts(t, "indices"); err != nil {
		return g, nil, err
	}
	g.idxShape = cloneShape(t.Shape)
	ax, _, err := resolveGather(op.axis, g.raw, in[0])
	if err != nil {
		return g, nil, err
	}
	out := append(append(cloneShape(in[0][:ax]), g.idxShape...), in[0][ax+1:]...)
	return g, out, nil
}

// Infer keeps the indices for Forward.
func (op *gatherOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	g, out, err := op.shape(in, consts)
	if err != nil {
		return nil, err
	}
	op.gatherIndices = g
	return [][]int{out}, nil
}

// resolve returns the axis and the indices made non-negative.
func (op *gatherOp) resolve(shape []int) (int, []int, error) {
	return resolveGather(op.axis, op.raw, shape)
}

// resolveGather checks indices raw along axis of shape and returns the axis
// and the indices made non-negative.
func resolveGather(axis int, raw, shape []int) (int, []int, error) {
	ax, err := resolveAxis(axis, len(shape))
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

func (op *gatherOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	shape := in[0].Shape
	ax, idx, err := op.resolve(shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	outer, dim, inner := shapeProd(shape[:ax]), shape[ax], shapeProd(shape[ax+1:])
	if len(y) != outer*len(idx)*inner {
		return shapeErr("output has shape %s for data %s", out[0].Shape, shape)
	}
	for o := range outer {
		for k, v := range idx {
			copy(y[(o*len(idx)+k)*inner:(o*len(idx)+k+1)*inner], x[(o*dim+v)*inner:(o*dim+v+1)*inner])
		}
	}
	return nil
}

func (op *gatherOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	shape := in[0].Shape
	ax, idx, err := op.resolve(shape)
	if err != nil {
		return err
	}
	gx, g := gin[0].Data, gout[0].Data
	outer, dim, inner := shapeProd(shape[:ax]), shape[ax], shapeProd(shape[ax+1:])
	for o := range outer {
		for k, v := range idx {
			d, s := gx[(o*dim+v)*inner:(o*dim+v+1)*inner], g[(o*len(idx)+k)*inner:(o*len(idx)+k+1)*inner]
			for j, w := range s {
				d[j] += w
			}
		}
	}
	return nil
}

// padOp is Pad with modes constant, reflect, edge and wrap. pads
// ([b0 … b(r−1), e0 … e(r−1)]) come from input 1 (opset ≥ 11; input 3
// "axes", opset 18, restricts them to some axes) or the pads attribute
// (≤ 10); the constant from input 2 or the value attribute. Negative pads
// crop; the non-constant modes then reflect/extend the cropped data (as
// ONNX Runtime does).
type padOp struct {
	padAttrs
	shape     []int   // input shape the maps are for
	outShape  []int   // and the output shape
	maps      [][]int // maps[d][o]: input index along d for output index o, −1 for the constant
	idx, offs []int
}

// padAttrs are Pad's attributes (pads in opset ≤ 10) and which inputs are
// given, and, once read (withInputs), the pads and axes.
type padAttrs struct {
	mode     string
	attrForm bool
	hasAxes  bool
	pads     []int
	axes     []int
	value    float32
}

func newPad(n *Node) (Op, error) {
	a, err := parsePad(n)
	if err != nil {
		return nil, err
	}
	return &padOp{padAttrs: a}, nil
}

func parsePad(n *Node) (padAttrs, error) {
	var no padAttrs
	r := attrReader{a: n.Attrs}
	op := padAttrs{mode: r.str("mode", "constant"), hasAxes: hasInput(n, 3), value: r.float("value", 0)}
	switch op.mode {
	case "constant", "reflect", "edge", "wrap":
	default:
		return no, fmt.Errorf("unknown mode %q", op.mode)
	}
	if !hasInput(n, 1) {
		op.attrForm = true
		op.pads = r.ints("pads", nil)
		if op.pads == nil {
			op.pads = r.ints("paddings", nil) // opset 1
		}
		if op.pads == nil && r.err == nil {
			return no, fmt.Errorf("pads must be given (input 1 or attribute)")
		}
	}
	return op, r.err
}

// withInputs checks the input count and returns the attributes with the
// pads and axes of the (constant) inputs.
func (op padAttrs) withInputs(in [][]int, consts []*tensor.Tensor) (padAttrs, error) {
	if op.attrForm {
		return op, wantInputs(in, 1, 1)
	}
	if err := wantInputs(in, 2, 4); err != nil {
		return op, err
	}
	var err error
	if op.pads, err = constIntsInput(consts, 1, "pads"); err != nil {
		return op, err
	}
	op.axes = nil
	if op.hasAxes {
		if op.axes, err = constIntsInput(consts, 3, "axes"); err != nil {
			return op, err
		}
	}
	return op, checkScalarInput(in, 2, "constant_value")
}

// Infer is Pad's shape inference.
func (op padAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.withInputs(in, consts)
	if err != nil {
		return nil, err
	}
	_, _, out, err := a.extent(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Infer keeps the pads and axes of the inputs for Forward.
func (op *padOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.withInputs(in, consts)
	if err != nil {
		return nil, err
	}
	if !op.attrForm {
		op.padAttrs, op.shape = a, nil
	}
	if err := op.prepare(in[0]); err != nil {
		return nil, err
	}
	return [][]int{cloneShape(op.outShape)}, nil
}

// extent checks the pads against an input shape and returns the pads
// before and after each axis and the output shape.
func (op padAttrs) extent(shape []int) (begin, end, out []int, err error) {
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
			return nil, nil, nil, shapeErr("pads %s: want %d values for input %s", fmt.Sprint(op.pads), 2*r, shape)
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
			return nil, nil, nil, shapeErr("pads %s crop more than axis %d of input %s holds", fmt.Sprint(op.pads), d, shape)
		}
		lo := max(0, -b)
		m := dim - lo - max(0, -e) // the kept input range [lo, lo+m)
		if m <= 0 && out[d] > 0 && op.mode != "constant" {
			return nil, nil, nil, shapeErr("cannot pad an empty axis %d of input %s in %s mode", d, shape, op.mode)
		}
	}
	return begin, end, out, nil
}

// prepare builds the index maps for an input shape.
func (op *padOp) prepare(shape []int) error {
	if op.shape != nil && slices.Equal(shape, op.shape) {
		return nil
	}
	begin, end, out, err := op.extent(shape)
	if err != nil {
		return err
	}
	r := len(shape)
	maps := make([][]int, r)
	for d, dim := range shape {
		b, e := begin[d], end[d]
		lo := max(0, -b)
		m := dim - lo - max(0, -e) // the kept input range [lo, lo+m)
		mp := make([]int, out[d])
		for o := range mp {
			s := o - max(b, 0)
			if (s < 0 || s >= m) && op.mode == "constant" {
				mp[o] = -1
				continue
			}
			if s < 0 || s >= m {
				switch op.mode {
				case "edge":
					s = max(0, min(s, m-1))
				case "wrap":
					s = ((s % m) + m) % m
				case "reflect":
					if m == 1 {
						s = 0
					} else {
						period := 2 * (m - 1)
						s = ((s % period) + period) % period
						if s >= m {
							s = period - s
						}
					}
				}
			}
			mp[o] = s + lo
		}
		maps[d] = mp
	}
	op.shape, op.outShape, op.maps = cloneShape(shape), out, maps
	op.idx, op.offs = make([]int, r), make([]int, r+1)
	return nil
}

// walk calls fn for every output row (all dimensions but the last): o is
// the row's flat output offset, xo the input offset of the row or −1 when
// the row lies in a constant region.
func (op *padOp) walk(fn func(o, xo int)) {
	r := len(op.shape)
	last := op.outShape[r-1]
	rows := shapeProd(op.outShape[:r-1])
	if last == 0 || rows == 0 {
		return
	}
	cs := contiguousStrides(op.shape)
	idx := op.idx[:r-1]
	clear(idx)
	for row := range rows {
		xo := 0
		for d, i := range idx {
			s := op.maps[d][i]
			if s < 0 {
				xo = -1
				break
			}
			xo += s * cs[d]
		}
		fn(row*last, xo)
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			if idx[d] < op.outShape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

func (op *padOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	cv, err := scalarValue(in, 2, op.value)
	if err != nil {
		return err
	}
	if err := op.prepare(in[0].Shape); err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != shapeProd(op.outShape) {
		return shapeErr("output has shape %s, padding %s gives %s", out[0].Shape, in[0].Shape, op.outShape)
	}
	if len(op.shape) == 0 {
		copy(y, x)
		return nil
	}
	lmap := op.maps[len(op.maps)-1]
	op.walk(func(o, xo int) {
		y := y[o : o+len(lmap)]
		if xo < 0 {
			vec.Fill(y, cv)
			return
		}
		for j, s := range lmap {
			if s < 0 {
				y[j] = cv
			} else {
				y[j] = x[xo+s]
			}
		}
	})
	return nil
}

func (op *padOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	var gx []float32
	if gin[0] != nil {
		gx = gin[0].Data
	}
	var gcv *float32
	if len(gin) > 2 && gin[2] != nil {
		gcv = &gin[2].Data[0]
	}
	if gx == nil && gcv == nil {
		return nil
	}
	if err := op.prepare(in[0].Shape); err != nil {
		return err
	}
	g := gout[0].Data
	if len(op.shape) == 0 {
		if gx != nil {
			gx[0] += g[0]
		}
		return nil
	}
	lmap := op.maps[len(op.maps)-1]
	var sum float32
	op.walk(func(o, xo int) {
		g := g[o : o+len(lmap)]
		for j, s := range lmap {
			if xo < 0 || s < 0 {
				sum += g[j]
			} else if gx != nil {
				gx[xo+s] += g[j]
			}
		}
	})
	if gcv != nil {
		*gcv += sum
	}
	return nil
}

// expandOp is Expand: numpy-broadcast the input with a constant shape.
type expandOp struct {
	plan      *stridePlan
	pin, pout []int
	scratch   []float32
}

func (op *expandOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return inferExpand(nil, in, consts)
}

// inferExpand: x broadcasts with the (constant) shape input.
func inferExpand(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 2, 2); err != nil {
		return nil, err
	}
	shape, err := constIntsInput(consts, 1, "shape")
	if err != nil {
		return nil, err
	}
	for _, d := range shape {
		if d < 0 || d > tensor.MaxElems {
			return nil, fmt.Errorf("shape %v has a bad dimension", shape)
		}
	}
	out, err := broadcastShapes(in[0], shape)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

func (op *expandOp) planFor(in, out []int) *stridePlan {
	if op.plan == nil || !slices.Equal(in, op.pin) || !slices.Equal(out, op.pout) {
		op.plan, op.pin, op.pout = newBroadcastPlan(out, in), cloneShape(in), cloneShape(out)
	}
	return op.plan
}

func (op *expandOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	if b, err := broadcastShapes(in[0].Shape, out[0].Shape); err != nil || !slices.Equal(b, out[0].Shape) {
		return shapeErr("cannot expand %s to %s", in[0].Shape, out[0].Shape)
	}
	p := op.planFor(in[0].Shape, out[0].Shape)
	x, y := in[0].Data, out[0].Data
	s := p.inner(0)
	p.run(ctx.Threads, func(o, n int, off []int) {
		y := y[o : o+n]
		if s == 0 {
			vec.Fill(y, x[off[0]])
			return
		}
		copy(y, x[off[0]:off[0]+n])
	})
	return nil
}

func (op *expandOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	p := op.planFor(in[0].Shape, out[0].Shape)
	g := gout[0].Data
	sd := p.inner(0)
	p.reduceRun(ctx.Threads, 0, gin[0].Data, &op.scratch, func(d []float32, o, n int, off []int) {
		accumRow(d[off[0]:], sd, g[o:o+n], nil, 0, 1)
	})
	return nil
}
