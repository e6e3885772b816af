package graph

import (
	"fmt"

	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// convTransposeOp is ONNX ConvTranspose (1-D and 2-D, groups, strides,
// dilations, pads, output_padding, output_shape, auto_pad).
//
// A transposed convolution is the input gradient of a convolution: with W
// of shape Cin×Cout/group×k… — exactly the layout of a Conv weight with Cin
// outputs — y = ConvTranspose(x, W) is dL/dx' of the Conv x' ↦ Conv(x', W)
// that maps y's shape to x's, taken at output gradient x. So the op keeps
// such an inner Conv and runs its backward pass forward and its forward
// pass backward: dx = Conv(dy, W), and dW is the inner Conv's weight
// gradient with dy as the Conv's input and x as its output gradient.
type convTransposeOp struct {
	convTransposeAttrs
	inner     *convOp
	n, cin, m int       // batch, input channels, output channels
	ohw       int       // output pixels per channel
	zero      []float32 // the inner Conv's input in Backward calls that only need dx
	tmp       []float32 // Backward: Conv(dy, W) before it is added into dx
}

func init() {
	RegisterOp(OpSpec{Type: "ConvTranspose", Infer: inferWith(parseConvTranspose), Weight: convTransposeWeight,
		Params: convTransposeParams, MACs: convTransposeMACs, Init: convInit})
	RegisterKernel("ConvTranspose", newConvTranspose)
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
	return numElems(in[0]) * shapeProd(in[1][1:])
}

// convTransposeAttrs are ConvTranspose's attributes.
type convTransposeAttrs struct {
	win      window
	group    int
	outPad   []int // output_padding per spatial dim (nil: zeros)
	outShape []int // output_shape per spatial dim (nil: from pads)
}

func parseConvTranspose(n *Node) (convTransposeAttrs, error) {
	w, err := parseWindow(n, false)
	if err != nil {
		return convTransposeAttrs{}, err
	}
	r := attrReader{a: n.Attrs}
	a := convTransposeAttrs{win: w, group: r.int("group", 1), outPad: r.ints("output_padding", nil), outShape: r.ints("output_shape", nil)}
	if r.err != nil {
		return convTransposeAttrs{}, r.err
	}
	if a.group < 1 {
		return convTransposeAttrs{}, fmt.Errorf("group must be ≥ 1, have %d", a.group)
	}
	if w.ceil {
		return convTransposeAttrs{}, fmt.Errorf("ceil_mode is not a ConvTranspose attribute")
	}
	return a, nil
}

func newConvTranspose(n *Node) (Op, error) {
	a, err := parseConvTranspose(n)
	if err != nil {
		return nil, err
	}
	return &convTransposeOp{convTransposeAttrs: a}, nil
}

// Infer is ConvTranspose's shape inference.
func (c convTransposeAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := c.shape(in)
	if err != nil {
		return nil, err
	}
	return [][]int{r.out}, nil
}

// convTransposeShape is a ConvTranspose's geometry for given input shapes.
type convTransposeShape struct {
	inner     convAttrs // the Conv that maps the output's shape back to the input's
	n, cin, m int       // batch, input channels, output channels
	ohw       int       // output pixels per channel
	out       []int     // output shape
}

func (c *convTransposeOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := c.shape(in)
	if err != nil {
		return nil, err
	}
	inner := &convOp{win: r.inner.win, group: r.inner.group}
	if _, err := inner.Infer([][]int{r.out, in[1]}, nil); err != nil {
		return nil, err
	}
	c.inner, c.n, c.cin, c.m, c.ohw = inner, r.n, r.cin, r.m, r.ohw
	return [][]int{r.out}, nil
}

// shape checks x, W and the bias against the attributes and finds the
// output shape and the inner Conv.
func (c convTransposeAttrs) shape(in [][]int) (convTransposeShape, error) {
	var no convTransposeShape
	if err := wantInputs(in, 2, 3); err != nil {
		return no, err
	}
	x, w := in[0], in[1]
	if len(w) > 4 {
		return no, fmt.Errorf("only 1-D and 2-D windows are supported, have %d spatial dims (weight %v)", len(w)-2, w)
	}
	if len(w) < 3 {
		return no, shapeErr("weight must be C×M/group×k…, have %v", w)
	}
	win := c.win
	if !win.ndGiven && len(w) == 3 {
		win.spatialDim, win.kh, win.sh, win.dh = 1, 1, 1, 1
	}
	nd := win.spatialDim
	if nd != len(w)-2 {
		return no, shapeErr("weight %v does not match %d-D attributes", w, nd)
	}
	if len(x) != nd+2 {
		return no, shapeErr("input must have %d dims (N×C×spatial), have %v", nd+2, x)
	}
	kern := w[2:]
	if nd == 1 {
		kern = []int{1, w[2]}
		if win.kw != 0 && win.kw != kern[1] {
			return no, shapeErr("kernel_shape does not match weight %v", w)
		}
	} else if (win.kh != 0 || win.kw != 0) && (win.kh != kern[0] || win.kw != kern[1]) {
		return no, shapeErr("kernel_shape does not match weight %v", w)
	}
	win.kh, win.kw = kern[0], kern[1]
	if win.kh < 1 || win.kw < 1 {
		return no, shapeErr("kernel must be ≥ 1, have weight %v", w)
	}
	n, cin := x[0], x[1]
	if cin != w[0] {
		return no, shapeErr("weight %v expects %d input channels, input %v has %d", w, w[0], x, cin)
	}
	if cin%c.group != 0 {
		return no, shapeErr("input channels %d must divide by group %d", cin, c.group)
	}
	m := w[1] * c.group
	if len(in) == 3 && in[2] != nil && (len(in[2]) != 1 || in[2][0] != m) {
		return no, shapeErr("bias must be %d, have %v", m, in[2])
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
	strides := []int{win.sh, win.sw}
	dil := []int{win.dh, win.dw}
	begin := []*int{&win.pt, &win.pl}
	end := []*int{&win.pb, &win.pr}
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
			return no, shapeErr("output size %d along spatial dim %d (input %d, pads %d+%d)", out[i], i, size[i], *begin[i], *end[i])
		}
	}
	win.spatialDim = nd
	win.autoPad = "NOTSET"
	// The inner Conv maps the output's shape back to the input's: explicit
	// pads, the same strides and dilations; output_padding only adds
	// positions that the Conv's floor division leaves out.
	inner := convAttrs{win: win, group: c.group}
	yShape := win.outShape(n, m, out[0], out[1])
	got, err := inner.shape([][]int{yShape, w})
	if err != nil {
		return no, err
	}
	if !tensor.SameShape(got.out, x) {
		return no, shapeErr("input %v does not match output %v (the Conv back gives %v)", x, yShape, got.out)
	}
	return convTransposeShape{inner: inner, n: n, cin: cin, m: m, ohw: out[0] * out[1], out: yShape}, nil
}

func (c *convTransposeOp) zeros(n int) []float32 {
	if len(c.zero) != n {
		c.zero = make([]float32, n)
	}
	return c.zero
}

func (c *convTransposeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	y := out[0]
	clear(y.Data)
	// The inner Conv reads its input only for a weight gradient (and the
	// depthwise kernel always): hand it zeros, not y, which it writes.
	x0 := &tensor.Tensor{Shape: y.Shape, Data: c.zeros(len(y.Data))}
	if err := c.inner.Backward(ctx, []*tensor.Tensor{x0, in[1]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{y, nil}); err != nil {
		return err
	}
	if len(in) > 2 && in[2] != nil {
		b := in[2].Data
		parallel.For(c.n*c.m, ctx.Threads, func(lo, hi, _ int) {
			for p := lo; p < hi; p++ {
				v := b[p%c.m]
				row := y.Data[p*c.ohw : (p+1)*c.ohw]
				for i := range row {
					row[i] += v
				}
			}
		})
	}
	return nil
}

func (c *convTransposeOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	dy := gout[0]
	if dy == nil {
		return nil
	}
	if gin[0] != nil {
		// dx = Conv(dy, W), added into gin[0].
		dx := gin[0]
		if len(c.tmp) != len(dx.Data) {
			c.tmp = make([]float32, len(dx.Data))
		}
		t := &tensor.Tensor{Shape: dx.Shape, Data: c.tmp}
		if err := c.inner.Forward(ctx, []*tensor.Tensor{dy, in[1]}, []*tensor.Tensor{t}); err != nil {
			return err
		}
		if err := addInto(ctx.Threads, dx.Data, c.tmp); err != nil {
			return err
		}
	}
	if gin[1] != nil {
		if err := c.inner.Backward(ctx, []*tensor.Tensor{dy, in[1]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{nil, gin[1]}); err != nil {
			return err
		}
	}
	if len(gin) > 2 && gin[2] != nil {
		db := gin[2].Data
		for p := 0; p < c.n*c.m; p++ {
			var s float32
			for _, v := range dy.Data[p*c.ohw : (p+1)*c.ohw] {
				s += v
			}
			db[p%c.m] += s
		}
	}
	return nil
}
