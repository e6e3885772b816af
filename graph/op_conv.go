package graph

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "Conv", Infer: inferWith(ParseConv), Weight: convWeight, Params: convParams, MACs: convMACs, Init: convInit})
}

// convWeight: W is out×in/group×k….
func convWeight(n *Node, in []Operand) (WeightUse, bool) {
	if len(in) < 2 {
		return WeightUse{}, false
	}
	g, _ := n.Attrs.Int("group", 1)
	return WeightUse{Input: 1, Out: 0, In: 1, Groups: g}, true
}

// convParams: W out×in×spatial…, the bias out; both train.
func convParams(n *Node, in []Operand) []ParamUse {
	return []ParamUse{
		{Input: 1, Kind: ParamWeight, Axes: []AxisRole{AxisOut, AxisIn, AxisSpatial}, Trainable: true},
		{Input: 2, Kind: ParamBias, Axes: []AxisRole{AxisOut}, Trainable: true},
	}
}

// convMACs: every output element reads in/group×k… weights.
func convMACs(n *Node, in, out [][]int) int {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	return NumElems(out[0]) * ShapeProd(in[1][1:])
}

// ConvAttrs are Conv's attributes: the window as the attributes give it
// (kernel, pads and spatial rank may still come from the weight and
// auto_pad) and the group count.
type ConvAttrs struct {
	Win   Window
	Group int
}

// ParseConv decodes a Conv node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseConv(n *Node) (ConvAttrs, error) {
	w, err := parseWindow(n, false)
	if err != nil {
		return ConvAttrs{}, err
	}
	g, err := n.Attrs.Int("group", 1)
	if err != nil {
		return ConvAttrs{}, err
	}
	if g < 1 {
		return ConvAttrs{}, fmt.Errorf("group must be ≥ 1, have %d", g)
	}
	return ConvAttrs{Win: w, Group: g}, nil
}

// Infer is Conv's shape inference (x, W and an optional bias).
func (a ConvAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := a.Shape(in)
	if err != nil {
		return nil, err
	}
	return [][]int{r.Out}, nil
}

// convShape is a Conv's geometry for given input shapes.
type convShape struct {
	Win        Window // resolved: kernel from W, pads for auto_pad
	N, C, H, W int    // x's batch, channels and size (h 1 for a 1-D Conv)
	M          int    // output channels
	Oh, Ow     int    // output size (oh 1 for a 1-D Conv)
	Out        []int  // output shape
}

// Shape checks x, W and the bias against the attributes and resolves the
// window against them.
func (a ConvAttrs) Shape(in [][]int) (convShape, error) {
	win := a.Win
	if err := WantInputs(in, 2, 3); err != nil {
		return convShape{}, err
	}
	x, w := in[0], in[1]
	if len(w) < 3 || len(w) > 4 {
		return convShape{}, ShapeErr("weight must be M×C/group×k…, have %v", w)
	}
	if !win.ndGiven && len(w) == 3 {
		// No attribute said how many spatial dims: the weight does.
		win.SpatialDim, win.Kh, win.Sh, win.Dh = 1, 1, 1, 1
	}
	if win.SpatialDim != len(w)-2 {
		return convShape{}, ShapeErr("weight %v does not match %d-D attributes", w, win.SpatialDim)
	}
	if win.SpatialDim == 1 {
		win.Kh, win.Kw = 1, w[2]
	} else {
		if (win.Kh != 0 || win.Kw != 0) && (win.Kh != w[2] || win.Kw != w[3]) {
			return convShape{}, ShapeErr("kernel_shape %d×%d does not match weight %v", win.Kh, win.Kw, w)
		}
		win.Kh, win.Kw = w[2], w[3]
	}
	n, ch, h, wd, err := win.Spatial(x)
	if err != nil {
		return convShape{}, err
	}
	m := w[0]
	if ch%a.Group != 0 || m%a.Group != 0 {
		return convShape{}, ShapeErr("input channels %d and output channels %d must divide by group %d", ch, m, a.Group)
	}
	if w[1] != ch/a.Group {
		return convShape{}, ShapeErr("weight %v expects %d input channels per group, input %v has %d (group %d)", w, w[1], x, ch/a.Group, a.Group)
	}
	if len(in) == 3 && in[2] != nil && (len(in[2]) != 1 || in[2][0] != m) {
		return convShape{}, ShapeErr("bias must be %d, have %v", m, in[2])
	}
	oh, ow, err := win.resolve(h, wd)
	if err != nil {
		return convShape{}, err
	}
	return convShape{Win: win, N: n, C: ch, H: h, W: wd, M: m, Oh: oh, Ow: ow, Out: win.OutShape(n, m, oh, ow)}, nil
}
