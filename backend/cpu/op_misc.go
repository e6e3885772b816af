package cpu

// ReduceMean/Sum/Max/Min, Constant, ConstantOfShape, Shape and Cast.

import (
	"fmt"
	"math"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"} {
		RegisterKernel(kind, func(n *graph.Node) (Op, error) { return newReduce(n, kind) })
	}
	RegisterKernel("Constant", newConstant)
	RegisterKernel("ConstantOfShape", newConstantOfShape)
	RegisterKernel("Shape", newShape)
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
	graph.ReduceAttrs
	// cache for one input shape
	shape, keep, out []int
	scale            float32 // 1 / number of elements averaged (1 for Sum)
	identity         bool
	plan             *stridePlan
	scratch          []float32
}

func newReduce(n *graph.Node, kind string) (Op, error) {
	a, err := graph.ParseReduce(n, kind)
	return &reduceOp{ReduceAttrs: a}, err
}

func (op *reduceOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := graph.WantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	if op.FromInput {
		axes, err := graph.ConstIntsInput(consts, 1, "axes")
		if err != nil {
			return nil, err
		}
		op.Axes, op.shape = axes, nil
	}
	if err := op.prepare(in[0]); err != nil {
		return nil, err
	}
	return [][]int{graph.CloneShape(op.out)}, nil
}

func (op *reduceOp) prepare(shape []int) error {
	if op.shape != nil && slices.Equal(shape, op.shape) {
		return nil
	}
	r, err := op.Reduction(op.Axes, shape)
	if err != nil {
		return err
	}
	op.identity = r.Identity
	op.shape, op.keep, op.out = graph.CloneShape(shape), r.Keep, r.Out
	op.scale = 1
	if op.Kind == "ReduceMean" {
		op.scale = 1 / float32(r.Count) // +Inf for an empty reduction: the mean is NaN
	}
	op.plan = newBroadcastPlan(shape, r.Keep)
	return nil
}

func (op *reduceOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	if err := op.prepare(in[0].Shape); err != nil {
		return err
	}
	x, y := in[0].Data, out[0].Data
	if len(y) != graph.ShapeProd(op.out) {
		return graph.ShapeErr("output has shape %s, reducing %s gives %s", out[0].Shape, in[0].Shape, op.out)
	}
	if op.identity {
		copy(y, x)
		return nil
	}
	if op.Kind == "ReduceMax" || op.Kind == "ReduceMin" {
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
	if op.Kind == "ReduceMax" || op.Kind == "ReduceMin" {
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
	isMax := op.Kind == "ReduceMax"
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

func newConstantOfShape(n *graph.Node) (Op, error) {
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
	return graph.InferConstantOfShape(nil, in, consts)
}

func (op *constantOfShapeOp) Forward(_ *Ctx, _, out []*tensor.Tensor) error {
	vec.Fill(out[0].Data, op.value)
	return nil
}

func (op *constantOfShapeOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}

// constantOp is Constant: its value from the value (tensor), value_float,
// value_floats, value_int or value_ints attribute.
type constantOp struct{ graph.ConstantAttrs }

func newConstant(n *graph.Node) (Op, error) {
	a, err := graph.ParseConstant(n)
	if err != nil {
		return nil, err
	}
	return &constantOp{graph.ConstantAttrs{Value: a.Value.Clone()}}, nil
}

func (op *constantOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	return copyData(out[0], op.Value)
}

func (op *constantOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	return nil
}

// shapeOp is Shape: the input's shape as a 1-D float32 tensor, optionally
// the dimensions [start, end) (opset 15; negative counts from the back,
// clamped to [0, rank]).
type shapeOp struct{ graph.ShapeAttrs }

func newShape(n *graph.Node) (Op, error) {
	a, err := graph.ParseShapeOp(n)
	return &shapeOp{a}, err
}

func (op *shapeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	s, e := op.Span(len(in[0].Shape))
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

func newCast(n *graph.Node) (Op, error) {
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
	return graph.InferUnary(nil, in, consts)
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
