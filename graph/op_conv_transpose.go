package graph

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "ConvTranspose", Infer: inferWith(ParseConvTranspose), Weight: convTransposeWeight,
		Params: convTransposeParams, MACs: convTransposeMACs, Init: convInit})
}

// convTransposeWeight: W is in×out/group×k….
func convTransposeWeight(n *Node, in []Operand) (WeightUse, bool) {
	if len(in) < 2 {
		return WeightUse{}, false
	}
	g, _ := n.Attrs.Int("group", 1)
	return WeightUse{Input: 1, Out: 1, In: 0, Groups: g}, true
}

// convTransposeParams: W in×out×spatial… (out per group), the bias out;
// both train.
func convTransposeParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{
		{Input: 1, Kind: ParamWeight, Axes: []AxisRole{AxisIn, AxisOut, AxisSpatial}, Trainable: true},
		{Input: 2, Kind: ParamBias, Axes: []AxisRole{AxisOut}, Trainable: true},
	}
}

// convTransposeMACs: every input element meets one kernel per output
// channel of its group (W is in×out/group×k…).
func convTransposeMACs(n *Node, in, out [][]int) int {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	return NumElems(in[0]) * ShapeProd(in[1][1:])
}

// ConvTransposeAttrs are ConvTranspose's attributes.
type ConvTransposeAttrs struct {
	win      Window
	group    int
	outPad   []int // output_padding per spatial dim (nil: zeros)
	outShape []int // output_shape per spatial dim (nil: from pads)
}

// ParseConvTranspose decodes a ConvTranspose node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseConvTranspose(n *Node) (ConvTransposeAttrs, error) {
	w, err := parseWindow(n, false)
	if err != nil {
		return ConvTransposeAttrs{}, err
	}
	r := AttrReader{A: n.Attrs}
	a := ConvTransposeAttrs{win: w, group: r.Int("group", 1), outPad: r.ints("output_padding", nil), outShape: r.ints("output_shape", nil)}
	if r.Err != nil {
		return ConvTransposeAttrs{}, r.Err
	}
	if a.group < 1 {
		return ConvTransposeAttrs{}, fmt.Errorf("group must be ≥ 1, have %d", a.group)
	}
	if w.ceil {
		return ConvTransposeAttrs{}, fmt.Errorf("ceil_mode is not a ConvTranspose attribute")
	}
	return a, nil
}

// Infer is ConvTranspose's shape inference.
func (c ConvTransposeAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := c.Shape(in)
	if err != nil {
		return nil, err
	}
	return [][]int{r.Out}, nil
}

// convTransposeShape is a ConvTranspose's geometry for given input shapes.
type convTransposeShape struct {
	Inner     ConvAttrs // the Conv that maps the output's shape back to the input's
	N, Cin, M int       // batch, input channels, output channels
	Ohw       int       // output pixels per channel
	Out       []int     // output shape
}

// Shape checks x, W and the bias against the attributes and finds the
// output shape and the inner Conv.
func (c ConvTransposeAttrs) Shape(in [][]int) (convTransposeShape, error) {
	var no convTransposeShape
	if err := WantInputs(in, 2, 3); err != nil {
		return no, err
	}
	x, w := in[0], in[1]
	if len(w) > 4 {
		return no, fmt.Errorf("only 1-D and 2-D windows are supported, have %d spatial dims (weight %v)", len(w)-2, w)
	}
	if len(w) < 3 {
		return no, ShapeErr("weight must be C×M/group×k…, have %v", w)
	}
	win := c.win
	if !win.ndGiven && len(w) == 3 {
		win.SpatialDim, win.Kh, win.Sh, win.Dh = 1, 1, 1, 1
	}
	nd := win.SpatialDim
	if nd != len(w)-2 {
		return no, ShapeErr("weight %v does not match %d-D attributes", w, nd)
	}
	if len(x) != nd+2 {
		return no, ShapeErr("input must have %d dims (N×C×spatial), have %v", nd+2, x)
	}
	kern := w[2:]
	if nd == 1 {
		kern = []int{1, w[2]}
		if win.Kw != 0 && win.Kw != kern[1] {
			return no, ShapeErr("kernel_shape does not match weight %v", w)
		}
	} else if (win.Kh != 0 || win.Kw != 0) && (win.Kh != kern[0] || win.Kw != kern[1]) {
		return no, ShapeErr("kernel_shape does not match weight %v", w)
	}
	win.Kh, win.Kw = kern[0], kern[1]
	if win.Kh < 1 || win.Kw < 1 {
		return no, ShapeErr("kernel must be ≥ 1, have weight %v", w)
	}
	n, cin := x[0], x[1]
	if cin != w[0] {
		return no, ShapeErr("weight %v expects %d input channels, input %v has %d", w, w[0], x, cin)
	}
	if cin%c.group != 0 {
		return no, ShapeErr("input channels %d must divide by group %d", cin, c.group)
	}
	m := w[1] * c.group
	if len(in) == 3 && in[2] != nil && (len(in[2]) != 1 || in[2][0] != m) {
		return no, ShapeErr("bias must be %d, have %v", m, in[2])
	}
	// Per spatial dim (h first; a 1-D op has a dummy h of size 1).
	size := []int{1, x[len(x)-1]}
	if nd == 2 {
		size = []int{x[2], x[3]}
	}
	last := func(v []int, i, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		if len(v) < nd {
			return 0, fmt.Errorf("has %d values for %d spatial dims", len(v), nd)
		}
		v = v[len(v)-nd:] // output_shape may list N and C too
		if nd == 1 {
			if i == 0 {
				return def, nil
			}
			return v[0], nil
		}
		return v[i], nil
	}
	strides := []int{win.Sh, win.Sw}
	dil := []int{win.Dh, win.Dw}
	begin := []*int{&win.Pt, &win.Pl}
	end := []*int{&win.Pb, &win.Pr}
	out := make([]int, 2)
	for i := range 2 {
		op, err := last(c.outPad, i, 0)
		if err != nil {
			return no, fmt.Errorf("output_padding %w", err)
		}
		if op < 0 || (op >= strides[i] && op >= dil[i]) {
			return no, fmt.Errorf("output_padding %d must be ≥ 0 and smaller than the stride or the dilation", op)
		}
		span := strides[i]*(size[i]-1) + op + (kern[i]-1)*dil[i] + 1
		want, err := last(c.outShape, i, -1)
		if err != nil {
			return no, fmt.Errorf("output_shape %w", err)
		}
		switch {
		case want < 0 && (win.autoPad == "SAME_UPPER" || win.autoPad == "SAME_LOWER"):
			want = size[i] * strides[i]
		case want < 0 && win.autoPad == "VALID":
			*begin[i], *end[i] = 0, 0
		}
		extra := 0
		if want >= 0 {
			total := span - want
			switch {
			case total < 0:
				// A larger output than the input reaches: zeros (plus
				// bias) at the end, as output_padding would add.
				*begin[i], *end[i], extra = 0, 0, -total
			case win.autoPad == "SAME_UPPER":
				*begin[i], *end[i] = total/2, total-total/2
			default:
				*begin[i], *end[i] = total-total/2, total/2
			}
		}
		out[i] = span - *begin[i] - *end[i] + extra
		if out[i] < 1 {
			return no, ShapeErr("output size %d along spatial dim %d (input %d, pads %d+%d)", out[i], i, size[i], *begin[i], *end[i])
		}
	}
	win.SpatialDim = nd
	win.autoPad = "NOTSET"
	// The inner Conv maps the output's shape back to the input's: explicit
	// pads, the same strides and dilations; output_padding only adds
	// positions that the Conv's floor division leaves out.
	inner := ConvAttrs{Win: win, Group: c.group}
	yShape := win.OutShape(n, m, out[0], out[1])
	got, err := inner.Shape([][]int{yShape, w})
	if err != nil {
		return no, err
	}
	if !tensor.SameShape(got.Out, x) {
		return no, ShapeErr("input %v does not match output %v (the Conv back gives %v)", x, yShape, got.Out)
	}
	return convTransposeShape{Inner: inner, N: n, Cin: cin, M: m, Ohw: out[0] * out[1], Out: yShape}, nil
}
