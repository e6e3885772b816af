package cpu

// Shape and data-movement ops: Flatten, Reshape, Squeeze, Unsqueeze,
// Transpose, Concat, Split, Slice, Gather, Pad, Expand.
//
// Data-valued inputs (Reshape's shape, Slice's starts/ends/axes/steps, Pad's
// pads, Squeeze/Unsqueeze axes, Split sizes, Gather indices, Expand's shape)
// arrive as float32 tensors and must be params (initializers), because
// output shapes are inferred before anything runs.

import (
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for name, parse := range map[string]func(*graph.Node) (graph.ViewShape, error){
		"Flatten": graph.ParseFlatten, "Reshape": graph.ParseReshape, "Squeeze": graph.ParseSqueeze, "Unsqueeze": graph.ParseUnsqueeze,
	} {
		RegisterKernel(name, func(n *graph.Node) (Op, error) {
			f, err := parse(n)
			if err != nil {
				return nil, err
			}
			return &viewOp{f}, nil
		})
	}
	RegisterKernel("Transpose", newTranspose)
	RegisterKernel("Concat", newConcat)
	RegisterKernel("Split", newSplit)
	RegisterKernel("Slice", newSlice)
	RegisterKernel("Gather", newGather)
	RegisterKernel("Pad", newPad)
	RegisterKernel("Expand", func(*graph.Node) (Op, error) { return &expandOp{}, nil })
}

// viewOp is an op whose output is its first input's data under a new
// shape: Flatten, Reshape, Squeeze, Unsqueeze. Outputs have their own
// buffers, so Forward copies.
type viewOp struct{ graph.ViewShape }

func (op *viewOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	return copyData(out[0], in[0])
}

func (op *viewOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	return addInto(ctx.Threads, gin[0].Data, gout[0].Data)
}

// transposeOp permutes axes: out.shape[i] = in.shape[perm[i]]; perm
// defaults to reversing the axes.
type transposeOp struct {
	graph.TransposeAttrs
	plan  *stridePlan
	shape []int // input shape the plan is for
}

func newTranspose(n *graph.Node) (Op, error) {
	a, err := graph.ParseTranspose(n)
	return &transposeOp{TransposeAttrs: a}, err
}

func (op *transposeOp) planFor(shape []int) (*stridePlan, error) {
	if op.plan != nil && slices.Equal(shape, op.shape) {
		return op.plan, nil
	}
	perm, err := op.PermFor(len(shape))
	if err != nil {
		return nil, err
	}
	cs := contiguousStrides(shape)
	dims, st := make([]int, len(perm)), make([]int, len(perm))
	for i, a := range perm {
		dims[i], st[i] = shape[a], cs[a]
	}
	op.plan, op.shape = newStridePlan(dims, nil, st), graph.CloneShape(shape)
	return op.plan, nil
}

func (op *transposeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p, err := op.planFor(in[0].Shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != p.n {
		return graph.ShapeErr("output has shape %s for input %s", out[0].Shape, in[0].Shape)
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
type concatOp struct{ graph.ConcatAttrs }

func newConcat(n *graph.Node) (Op, error) {
	a, err := graph.ParseConcat(n)
	return &concatOp{a}, err
}

func (op *concatOp) layout(in []*tensor.Tensor) (ax, outer, inner int, err error) {
	shape := in[0].Shape
	if ax, err = graph.ResolveAxis(op.Axis, len(shape)); err != nil {
		return
	}
	return ax, graph.ShapeProd(shape[:ax]), graph.ShapeProd(shape[ax+1:]), nil
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
		return graph.ShapeErr("inputs fill %d of %d elements per row of output %s", pos, row, out[0].Shape)
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
type splitOp struct{ graph.SplitAttrs }

func newSplit(n *graph.Node) (Op, error) {
	a, err := graph.ParseSplit(n)
	if err != nil {
		return nil, err
	}
	return &splitOp{a}, nil
}

// Infer, with the sizes read from input 1 kept for Forward.
func (op *splitOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := op.SplitAttrs.Infer(in, consts)
	if err == nil && op.FromInput {
		op.Split, _ = graph.ConstIntsInput(consts, 1, "split")
	}
	return outs, err
}

func (op *splitOp) layout(shape []int) (sizes []int, outer, inner int, err error) {
	ax, err := graph.ResolveAxis(op.Axis, len(shape))
	if err != nil {
		return nil, 0, 0, err
	}
	sizes, err = op.Sizes(shape[ax])
	return sizes, graph.ShapeProd(shape[:ax]), graph.ShapeProd(shape[ax+1:]), err
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
	graph.SliceAttrs
	plan            *stridePlan
	shape, outShape []int // input shape the plan is for, and its output
}

func newSlice(n *graph.Node) (Op, error) {
	a, err := graph.ParseSlice(n)
	if err != nil {
		return nil, err
	}
	return &sliceOp{SliceAttrs: a}, nil
}

// Infer keeps what the inputs say for Forward.
func (op *sliceOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.WithInputs(in, consts)
	if err != nil {
		return nil, err
	}
	if !op.AttrForm {
		op.SliceAttrs, op.plan = a, nil
	}
	_, _, out, err := a.Resolve(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

func (op *sliceOp) planFor(shape []int) (*stridePlan, error) {
	if op.plan != nil && slices.Equal(shape, op.shape) {
		return op.plan, nil
	}
	start, step, count, err := op.Resolve(shape)
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
	op.shape, op.outShape = graph.CloneShape(shape), count
	return op.plan, nil
}

func (op *sliceOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	p, err := op.planFor(in[0].Shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != p.n {
		return graph.ShapeErr("output has shape %s, slice of %s has %s", out[0].Shape, in[0].Shape, op.outShape)
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
	graph.GatherAttrs
	graph.GatherIndices
}

func newGather(n *graph.Node) (Op, error) {
	a, err := graph.ParseGather(n)
	return &gatherOp{GatherAttrs: a}, err
}

// Infer keeps the indices for Forward.
func (op *gatherOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	g, out, err := op.Shape(in, consts)
	if err != nil {
		return nil, err
	}
	op.GatherIndices = g
	return [][]int{out}, nil
}

// resolve returns the axis and the indices made non-negative.
func (op *gatherOp) resolve(shape []int) (int, []int, error) {
	return graph.ResolveGather(op.Axis, op.Raw, shape)
}

func (op *gatherOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	shape := in[0].Shape
	ax, idx, err := op.resolve(shape)
	if err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	outer, dim, inner := graph.ShapeProd(shape[:ax]), shape[ax], graph.ShapeProd(shape[ax+1:])
	if len(y) != outer*len(idx)*inner {
		return graph.ShapeErr("output has shape %s for data %s", out[0].Shape, shape)
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
	outer, dim, inner := graph.ShapeProd(shape[:ax]), shape[ax], graph.ShapeProd(shape[ax+1:])
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
	graph.PadAttrs
	shape     []int   // input shape the maps are for
	outShape  []int   // and the output shape
	maps      [][]int // maps[d][o]: input index along d for output index o, −1 for the constant
	idx, offs []int
}

func newPad(n *graph.Node) (Op, error) {
	a, err := graph.ParsePad(n)
	if err != nil {
		return nil, err
	}
	return &padOp{PadAttrs: a}, nil
}

// Infer keeps the pads and axes of the inputs for Forward.
func (op *padOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	a, err := op.WithInputs(in, consts)
	if err != nil {
		return nil, err
	}
	if !op.AttrForm {
		op.PadAttrs, op.shape = a, nil
	}
	if err := op.prepare(in[0]); err != nil {
		return nil, err
	}
	return [][]int{graph.CloneShape(op.outShape)}, nil
}

// prepare builds the index maps for an input shape.
func (op *padOp) prepare(shape []int) error {
	if op.shape != nil && slices.Equal(shape, op.shape) {
		return nil
	}
	begin, end, out, err := op.Extent(shape)
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
			if (s < 0 || s >= m) && op.Mode == "constant" {
				mp[o] = -1
				continue
			}
			if s < 0 || s >= m {
				switch op.Mode {
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
	op.shape, op.outShape, op.maps = graph.CloneShape(shape), out, maps
	op.idx, op.offs = make([]int, r), make([]int, r+1)
	return nil
}

// walk calls fn for every output row (all dimensions but the last): o is
// the row's flat output offset, xo the input offset of the row or −1 when
// the row lies in a constant region.
func (op *padOp) walk(fn func(o, xo int)) {
	r := len(op.shape)
	last := op.outShape[r-1]
	rows := graph.ShapeProd(op.outShape[:r-1])
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
	cv, err := scalarValue(in, 2, op.Value)
	if err != nil {
		return err
	}
	if err := op.prepare(in[0].Shape); err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != graph.ShapeProd(op.outShape) {
		return graph.ShapeErr("output has shape %s, padding %s gives %s", out[0].Shape, in[0].Shape, op.outShape)
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
	return graph.InferExpand(nil, in, consts)
}

func (op *expandOp) planFor(in, out []int) *stridePlan {
	if op.plan == nil || !slices.Equal(in, op.pin) || !slices.Equal(out, op.pout) {
		op.plan, op.pin, op.pout = newBroadcastPlan(out, in), graph.CloneShape(in), graph.CloneShape(out)
	}
	return op.plan
}

func (op *expandOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	if b, err := graph.BroadcastShapes(in[0].Shape, out[0].Shape); err != nil || !slices.Equal(b, out[0].Shape) {
		return graph.ShapeErr("cannot expand %s to %s", in[0].Shape, out[0].Shape)
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
