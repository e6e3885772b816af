package graph

// ReduceMean/Sum/Max/Min, Constant, ConstantOfShape, Shape and Cast.

import (
	"fmt"
	"math"
	"slices"

	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"} {
		parse := func(n *Node) (reduceAttrs, error) { return parseReduce(n, kind) }
		RegisterOp(OpSpec{Type: kind, Infer: inferWith(parse)})
		RegisterKernel(kind, func(n *Node) (Op, error) { return newReduce(n, kind) })
	}
	RegisterOp(OpSpec{Type: "Constant", Infer: inferWith(parseConstant), NoGradient: "no inputs: its value is an attribute"})
	RegisterKernel("Constant", newConstant)
	RegisterOp(OpSpec{Type: "ConstantOfShape", Infer: inferConstantOfShape,
		NoGradient: "its only input is a shape, and its output one value repeated"})
	RegisterKernel("ConstantOfShape", newConstantOfShape)
	RegisterOp(OpSpec{Type: "Shape", Infer: inferWith(parseShape)})
	RegisterKernel("Shape", newShape)
	RegisterOp(OpSpec{Type: "Cast", Infer: inferUnary})
	RegisterKernel("Cast", newCast)
}

// reduceOp is ReduceMean, ReduceSum, ReduceMax and ReduceMin over axes
// from the axes attribute or input 1 (ReduceSum from opset 13, the others
// from opset 18). No axes means all axes, unless noop_with_empty_axes is 1,
// when the op is the identity. keepdims (default 1) keeps reduced axes
// with size 1. An empty reduction gives 0 (sum), NaN (mean), −∞ (max) or
// +∞ (min). The gradient of Max and Min is shared equally by the elements
// that tie for the extreme, as PyTorch's amax/amin do.
type reduceOp struct {
	reduceAttrs
	// cache for one input shape
	shape, keep, out []int
	scale            float32 // 1 / number of elements averaged (1 for Sum)
	identity         bool
	plan             *stridePlan
	scratch          []float32
}

// reduceAttrs are a reduction's attributes.
type reduceAttrs struct {
	kind      string
	axes      []int
	fromInput bool // the axes are input 1
	keepdims  bool
	noop      bool
}

func parseReduce(n *Node, kind string) (reduceAttrs, error) {
	r := attrReader{a: n.Attrs}
	a := reduceAttrs{
		kind:      kind,
		axes:      r.ints("axes", nil),
		fromInput: hasInput(n, 1),
		keepdims:  r.int("keepdims", 1) != 0,
		noop:      r.int("noop_with_empty_axes", 0) != 0,
	}
	return a, r.err
}

func newReduce(n *Node, kind string) (Op, error) {
	a, err := parseReduce(n, kind)
	return &reduceOp{reduceAttrs: a}, err
}

// Infer is the reductions' shape inference.
func (a reduceAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	axes := a.axes
	if a.fromInput {
		var err error
		if axes, err = constIntsInput(consts, 1, "axes"); err != nil {
			return nil, err
		}
	}
	r, err := a.reduction(axes, in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{r.out}, nil
}

// reduction is what reducing a shape over axes gives.
type reduction struct {
	keep     []int // the input's shape with the reduced axes 1
	out      []int // the output's shape (keepdims or not)
	count    int   // elements reduced into each output
	identity bool  // no axes and noop_with_empty_axes: the identity
}

// reduction reduces shape over axes (the attribute's or input 1's).
func (a reduceAttrs) reduction(axes, shape []int) (reduction, error) {
	r := len(shape)
	reduce := make([]bool, r)
	res := reduction{identity: len(axes) == 0 && a.noop}
	if len(axes) == 0 {
		for i := range reduce {
			reduce[i] = !a.noop
		}
	} else {
		ax, err := resolveAxes(axes, r)
		if err != nil {
			return res, err
		}
		for _, a := range ax {
			reduce[a] = true
		}
	}
	keep, out := make([]int, r), []int{}
	count := 1
	for d, dim := range shape {
		keep[d] = dim
		if reduce[d] {
			keep[d] = 1
			count *= dim
			if a.keepdims {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, dim)
	}
	res.keep, res.out, res.count = keep, out, count
	return res, nil
}

func (op *reduceOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	if op.fromInput {
		axes, err := constIntsInput(consts, 1, "axes")
		if err != nil {
			return nil, err
		}
		op.axes, op.shape = axes, nil
	}
	if err := op.prepare(in[0]); err != nil {
		return nil, err
	}
	return [][]int{cloneShape(op.out)}, nil
}

func (op *reduceOp) prepare(shape []int) error {
	if op.shape != nil && slices.Equal(shape, op.shape) {
		return nil
	}
	r, err := op.reduction(op.axes, shape)
	if err != nil {
		return err
	}
	op.identity = r.identity
	op.shape, op.keep, op.out = cloneShape(shape), r.keep, r.out
	op.scale = 1
	if op.kind == "ReduceMean" {
		op.scale = 1 / float32(r.count) // +Inf for an empty reduction: the mean is NaN
	}
	op.plan = newBroadcastPlan(shape, r.keep)
	return nil
}

func (op *reduceOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	if err := op.prepare(in[0].Shape); err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != shapeProd(op.out) {
		return shapeErr("output has shape %s, reducing %s gives %s", out[0].Shape, in[0].Shape, op.out)
	}
	if op.identity {
		copy(y, x)
		return nil
	}
	if op.kind == "ReduceMax" || op.kind == "ReduceMin" {
		op.extreme(x, y)
		return nil
	}
	clear(y)
	p := op.plan
	sd := p.inner(0)
	p.reduceRun(ctx.Threads, 0, y, &op.scratch, func(d []float32, o, n int, off []int) {
		accumRow(d[off[0]:], sd, x[o:o+n], nil, 0, 1)
	})
	scale := op.scale
	for i := range y {
		y[i] *= scale
	}
	return nil
}

func (op *reduceOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	if err := op.prepare(in[0].Shape); err != nil {
		return err
	}
	gx, g := gin[0].Data, gout[0].Data
	if op.identity {
		return addInto(ctx.Threads, gx, g)
	}
	if op.kind == "ReduceMax" || op.kind == "ReduceMin" {
		op.extremeGrad(in[0].Data, out[0].Data, g, gx)
		return nil
	}
	scale := op.scale
	p := op.plan
	s := p.inner(0)
	p.run(ctx.Threads, func(o, n int, off []int) {
		gx := gx[o : o+n]
		if s == 0 {
			v := g[off[0]] * scale
			for j := range gx {
				gx[j] += v
			}
			return
		}
		g := g[off[0] : off[0]+n]
		for j, v := range g {
			gx[j] += v * scale
		}
	})
	return nil
}

// extreme computes ReduceMax or ReduceMin on one goroutine (these reduce
// small tensors in CNNs: global pooling, attention maps). NaN propagates.
func (op *reduceOp) extreme(x, y []float32) {
	isMax := op.kind == "ReduceMax"
	init := float32(math.Inf(1))
	if isMax {
		init = float32(math.Inf(-1))
	}
	vec.Fill(y, init)
	p := op.plan
	sd := p.inner(0)
	p.each(0, p.n, func(o, n int, off []int) {
		for j, v := range x[o : o+n] {
			d := &y[off[0]+j*sd]
			if (isMax && v > *d) || (!isMax && v < *d) || v != v {
				*d = v
			}
		}
	})
}

// extremeGrad adds g (at y's shape) to the elements of x equal to their
// output's extreme, divided by how many tie.
func (op *reduceOp) extremeGrad(x, y, g, gx []float32) {
	p := op.plan
	sd := p.inner(0)
	if cap(op.scratch) < len(y) {
		op.scratch = make([]float32, len(y))
	}
	ties := op.scratch[:len(y)]
	clear(ties)
	p.each(0, p.n, func(o, n int, off []int) {
		for j, v := range x[o : o+n] {
			if k := off[0] + j*sd; v == y[k] {
				ties[k]++
			}
		}
	})
	p.each(0, p.n, func(o, n int, off []int) {
		for j, v := range x[o : o+n] {
			if k := off[0] + j*sd; v == y[k] {
				gx[o+j] += g[k] / ties[k]
			}
		}
	})
}

// constantOfShapeOp is ConstantOfShape: a tensor of the shape given by
// its (constant) input, filled with the value attribute (default 0). It
// shows up in exporters' shape arithmetic (PyTorch's reflection pads),
// which the importer folds.
type constantOfShapeOp struct {
	value float32
}

func newConstantOfShape(n *Node) (Op, error) {
	op := &constantOfShapeOp{}
	if v, ok := n.Attrs["value"]; ok {
		t, isT := v.(*tensor.Tensor)
		if !isT || t.Len() != 1 {
			return nil, fmt.Errorf("attribute value: want a one-element tensor, have %v", v)
		}
		op.value = t.Data[0]
	}
	return op, nil
}

func (op *constantOfShapeOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return inferConstantOfShape(nil, in, consts)
}

// inferConstantOfShape: the output's shape is the value of the (constant)
// input, within maxConstOfShape elements.
func inferConstantOfShape(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	shape, err := constIntsInput(consts, 0, "shape")
	if err != nil {
		return nil, err
	}
	for i, d := range shape {
		if d < 0 {
			return nil, shapeErr("shape[%d] = %d is negative", i, d)
		}
	}
	if n, err := tensor.NumElems(shape); err != nil || n > maxConstOfShape {
		return nil, shapeErr("shape %v asks for more than %d elements", shape, maxConstOfShape)
	}
	return [][]int{shape}, nil
}

// maxConstOfShape bounds what a (possibly hostile) shape input can make
// ConstantOfShape allocate: 256 MB of float32.
const maxConstOfShape = 1 << 26

func (op *constantOfShapeOp) Forward(_ *Ctx, _, out []*tensor.Tensor) error {
	vec.Fill(out[0].Data, op.value)
	return nil
}

func (op *constantOfShapeOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}

// constantOp is Constant: its value from the value (tensor), value_float,
// value_floats, value_int or value_ints attribute.
type constantOp struct{ constantAttrs }

// constantAttrs is Constant's value, from whichever attribute holds it.
type constantAttrs struct{ value *tensor.Tensor }

func newConstant(n *Node) (Op, error) {
	a, err := parseConstant(n)
	if err != nil {
		return nil, err
	}
	return &constantOp{constantAttrs{a.value.Clone()}}, nil
}

// parseConstant reads the value; a value attribute's tensor is the
// node's own (newConstant copies it).
func parseConstant(n *Node) (constantAttrs, error) {
	var no constantAttrs
	var vals []*tensor.Tensor
	for name, v := range n.Attrs {
		var t *tensor.Tensor
		switch name {
		case "value":
			tv, ok := v.(*tensor.Tensor)
			if !ok {
				return no, fmt.Errorf("attribute value: want tensor, have %T", v)
			}
			t = tv
		case "value_float", "value_int":
			f, err := n.Attrs.Float(name, 0)
			if err != nil {
				return no, err
			}
			t = &tensor.Tensor{Shape: []int{}, Data: []float32{f}}
		case "value_floats":
			f, err := n.Attrs.Floats(name, nil)
			if err != nil {
				return no, err
			}
			t = &tensor.Tensor{Shape: []int{len(f)}, Data: slices.Clone(f)}
		case "value_ints":
			is, err := n.Attrs.Ints(name, nil)
			if err != nil {
				return no, err
			}
			t = tensor.New(len(is))
			for i, x := range is {
				t.Data[i] = float32(x)
			}
		case "sparse_value", "value_string", "value_strings":
			return no, fmt.Errorf("attribute %s is not supported", name)
		default:
			continue
		}
		vals = append(vals, t)
	}
	if len(vals) != 1 {
		return no, fmt.Errorf("want exactly one value attribute, have %d", len(vals))
	}
	if len(vals[0].Data) != shapeProd(vals[0].Shape) {
		return no, fmt.Errorf("value tensor has shape %s but %d elements", tensor.ShapeString(vals[0].Shape), len(vals[0].Data))
	}
	return constantAttrs{value: vals[0]}, nil
}

// Infer is Constant's shape inference: no inputs, the value's shape.
func (op constantAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 0, 0); err != nil {
		return nil, err
	}
	return [][]int{cloneShape(op.value.Shape)}, nil
}

func (op *constantOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	return copyData(out[0], op.value)
}

func (op *constantOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	return nil
}

// shapeOp is Shape: the input's shape as a 1-D float32 tensor, optionally
// the dimensions [start, end) (opset 15; negative counts from the back,
// clamped to [0, rank]).
type shapeOp struct{ shapeAttrs }

// shapeAttrs are Shape's attributes.
type shapeAttrs struct {
	start, end int
	hasEnd     bool
}

func parseShape(n *Node) (shapeAttrs, error) {
	r := attrReader{a: n.Attrs}
	_, hasEnd := n.Attrs["end"]
	a := shapeAttrs{start: r.int("start", 0), end: r.int("end", 0), hasEnd: hasEnd}
	return a, r.err
}

func newShape(n *Node) (Op, error) {
	a, err := parseShape(n)
	return &shapeOp{a}, err
}

func (op shapeAttrs) span(rank int) (int, int) {
	clamp := func(v int) int {
		if v < 0 {
			v += rank
		}
		return max(0, min(v, rank))
	}
	s, e := clamp(op.start), rank
	if op.hasEnd {
		e = clamp(op.end)
	}
	return s, max(s, e)
}

// Infer is Shape's shape inference: a vector of the span's length.
func (op shapeAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	s, e := op.span(len(in[0]))
	return [][]int{{e - s}}, nil
}

func (op *shapeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	s, e := op.span(len(in[0].Shape))
	y := out[0].Data
	if len(y) != e-s {
		return fmt.Errorf("output has %d elements, want %d", len(y), e-s)
	}
	for i, d := range in[0].Shape[s:e] {
		y[i] = float32(d)
	}
	return nil
}

func (op *shapeOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	return nil
}

// ONNX TensorProto data types that Cast accepts.
const (
	onnxFloat    = 1
	onnxUint8    = 2
	onnxInt8     = 3
	onnxUint16   = 4
	onnxInt16    = 5
	onnxInt32    = 6
	onnxInt64    = 7
	onnxBool     = 9
	onnxFloat16  = 10
	onnxDouble   = 11
	onnxUint32   = 12
	onnxUint64   = 13
	onnxBfloat16 = 16
)

// castKind is what a Cast does to float32 values.
type castKind uint8

const (
	castSame castKind = iota // FLOAT, DOUBLE: the identity
	castInt                  // integer types: round toward zero
	castBool                 // 0 or 1
	castHalf                 // FLOAT16: round to the nearest half, ties to even
	castBf16                 // BFLOAT16: drop the low 16 bits (ONNX's reference)
)

// castOp is Cast. The IR is float32-only: a cast to FLOAT or DOUBLE is the
// identity, and a cast to an integer type rounds toward zero (the result
// stays a float32 holding an integer, which is how the IR represents ints:
// exact for |v| < 2^24; no wrap-around or saturation to the integer type's
// range); BOOL gives 0 or 1; FLOAT16 and BFLOAT16 round the value to the
// type's precision (FLOAT16 to nearest even, overflowing to ±Inf;
// BFLOAT16 by truncation, as ONNX's reference implementation up to 1.13
// does), still held as float32. String targets are rejected when the op
// is built. Only FLOAT and DOUBLE casts pass gradients.
type castOp struct{ kind castKind }

func newCast(n *Node) (Op, error) {
	if _, ok := n.Attrs["to"]; !ok {
		return nil, fmt.Errorf("attribute to is required")
	}
	to, err := n.Attrs.Int("to", 0)
	if err != nil {
		return nil, err
	}
	switch to {
	case onnxFloat, onnxDouble:
		return &castOp{}, nil
	case onnxUint8, onnxInt8, onnxUint16, onnxInt16, onnxInt32, onnxInt64, onnxUint32, onnxUint64:
		return &castOp{kind: castInt}, nil
	case onnxBool:
		return &castOp{kind: castBool}, nil
	case onnxFloat16:
		return &castOp{kind: castHalf}, nil
	case onnxBfloat16:
		return &castOp{kind: castBf16}, nil
	}
	return nil, fmt.Errorf("cast to ONNX data type %d is not supported: the IR holds float32 (and integers as float32)", to)
}

// roundHalf rounds v to the nearest float16 value (ties to even).
func roundHalf(v float32) float32 {
	f := float64(v)
	a := math.Abs(f)
	if a == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return v
	}
	q := math.Ldexp(1, -24) // subnormal quantum
	if a >= math.Ldexp(1, -14) {
		_, e := math.Frexp(a) // a = frac·2^e, frac in [0.5, 1)
		q = math.Ldexp(1, e-1-10)
	}
	r := math.RoundToEven(a/q) * q
	if r > 65504 {
		r = math.Inf(1)
	}
	return float32(math.Copysign(r, f))
}

func (op *castOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return inferUnary(nil, in, consts)
}

func (op *castOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	if err := copyData(out[0], in[0]); err != nil {
		return err
	}
	y := out[0].Data
	switch op.kind {
	case castInt:
		for i, v := range y {
			y[i] = float32(math.Trunc(float64(v)))
		}
	case castBool:
		for i, v := range y {
			if v != 0 {
				y[i] = 1
			}
		}
	case castHalf:
		for i, v := range y {
			y[i] = roundHalf(v)
		}
	case castBf16:
		for i, v := range y {
			if !math.IsNaN(float64(v)) {
				y[i] = math.Float32frombits(math.Float32bits(v) &^ 0xffff)
			}
		}
	}
	return nil
}

func (op *castOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if op.kind != castSame || gin[0] == nil || gout[0] == nil {
		return nil
	}
	return addInto(ctx.Threads, gin[0].Data, gout[0].Data)
}
