package graph

// ReduceMean/Sum/Max/Min, Constant, ConstantOfShape, Shape and Cast.

import (
	"fmt"
	"slices"

	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, kind := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"} {
		parse := func(n *Node) (ReduceAttrs, error) { return ParseReduce(n, kind) }
		RegisterOp(OpSpec{Type: kind, Infer: inferWith(parse)})
	}
	RegisterOp(OpSpec{Type: "Constant", Infer: inferWith(ParseConstant), NoGradient: "no inputs: its value is an attribute"})
	RegisterOp(OpSpec{Type: "ConstantOfShape", Infer: InferConstantOfShape,
		NoGradient: "its only input is a shape, and its output one value repeated"})
	RegisterOp(OpSpec{Type: "Shape", Infer: inferWith(ParseShapeOp)})
	RegisterOp(OpSpec{Type: "Cast", Infer: InferUnary})
}

// ReduceAttrs are a reduction's attributes.
type ReduceAttrs struct {
	Kind      string
	Axes      []int
	FromInput bool // the axes are input 1
	keepdims  bool
	noop      bool
}

// ParseReduce decodes a Reduce* node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseReduce(n *Node, kind string) (ReduceAttrs, error) {
	r := AttrReader{A: n.Attrs}
	a := ReduceAttrs{
		Kind:      kind,
		Axes:      r.ints("axes", nil),
		FromInput: hasInput(n, 1),
		keepdims:  r.Int("keepdims", 1) != 0,
		noop:      r.Int("noop_with_empty_axes", 0) != 0,
	}
	return a, r.Err
}

// Infer is the reductions' shape inference.
func (a ReduceAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	axes := a.Axes
	if a.FromInput {
		var err error
		if axes, err = ConstIntsInput(consts, 1, "axes"); err != nil {
			return nil, err
		}
	}
	r, err := a.Reduction(axes, in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{r.Out}, nil
}

// reduction is what reducing a shape over axes gives.
type reduction struct {
	Keep     []int // the input's shape with the reduced axes 1
	Out      []int // the output's shape (keepdims or not)
	Count    int   // elements reduced into each output
	Identity bool  // no axes and noop_with_empty_axes: the identity
}

// Reduction reduces shape over axes (the attribute's or input 1's).
func (a ReduceAttrs) Reduction(axes, shape []int) (reduction, error) {
	r := len(shape)
	reduce := make([]bool, r)
	res := reduction{Identity: len(axes) == 0 && a.noop}
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
	res.Keep, res.Out, res.Count = keep, out, count
	return res, nil
}

// InferConstantOfShape: the output's shape is the value of the (constant)
// input, within maxConstOfShape elements.
func InferConstantOfShape(_ *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	shape, err := ConstIntsInput(consts, 0, "shape")
	if err != nil {
		return nil, err
	}
	for i, d := range shape {
		if d < 0 {
			return nil, ShapeErr("shape[%d] = %d is negative", i, d)
		}
	}
	if n, err := tensor.NumElems(shape); err != nil || n > maxConstOfShape {
		return nil, ShapeErr("shape %v asks for more than %d elements", shape, maxConstOfShape)
	}
	return [][]int{shape}, nil
}

// maxConstOfShape bounds what a (possibly hostile) shape input can make
// ConstantOfShape allocate: 256 MB of float32.
const maxConstOfShape = 1 << 26

// ConstantAttrs is Constant's value, from whichever attribute holds it.
type ConstantAttrs struct{ Value *tensor.Tensor }

// ParseConstant reads the value; a value attribute's tensor is the
// node's own (newConstant copies it).
func ParseConstant(n *Node) (ConstantAttrs, error) {
	var no ConstantAttrs
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
	if len(vals[0].Data) != ShapeProd(vals[0].Shape) {
		return no, fmt.Errorf("value tensor has shape %s but %d elements", tensor.ShapeString(vals[0].Shape), len(vals[0].Data))
	}
	return ConstantAttrs{Value: vals[0]}, nil
}

// Infer is Constant's shape inference: no inputs, the value's shape.
func (op ConstantAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 0, 0); err != nil {
		return nil, err
	}
	return [][]int{CloneShape(op.Value.Shape)}, nil
}

// ShapeAttrs are Shape's attributes.
type ShapeAttrs struct {
	start, end int
	hasEnd     bool
}

// ParseShapeOp decodes a Shape node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseShapeOp(n *Node) (ShapeAttrs, error) {
	r := AttrReader{A: n.Attrs}
	_, hasEnd := n.Attrs["end"]
	a := ShapeAttrs{start: r.Int("start", 0), end: r.Int("end", 0), hasEnd: hasEnd}
	return a, r.Err
}

// Span returns the [start, end) range of axes a Shape node reports for an
// input of the given rank.
func (op ShapeAttrs) Span(rank int) (int, int) {
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
func (op ShapeAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	s, e := op.Span(len(in[0]))
	return [][]int{{e - s}}, nil
}
