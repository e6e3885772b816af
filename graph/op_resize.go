package graph

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/tensor"
)

// ResizeAttrs are Resize's attributes.
type ResizeAttrs struct {
	Mode       string // nearest, linear, cubic
	Coord      string // coordinate_transformation_mode
	Nearest    string // nearest_mode
	CubicA     float64
	Exclude    bool
	fromSizes  bool
	fromScales bool
}

func init() {
	RegisterOp(OpSpec{Type: "Resize", Infer: inferWith(ParseResize)})
}

// ParseResize decodes a Resize node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseResize(n *Node) (ResizeAttrs, error) {
	var no ResizeAttrs
	r := AttrReader{A: n.Attrs}
	op := ResizeAttrs{
		Mode:    r.str("mode", "nearest"),
		Coord:   r.str("coordinate_transformation_mode", "half_pixel"),
		Nearest: r.str("nearest_mode", "round_prefer_floor"),
		CubicA:  float64(r.Float("cubic_coeff_a", -0.75)),
		Exclude: r.Int("exclude_outside", 0) != 0,
	}
	if r.Err != nil {
		return no, r.Err
	}
	switch op.Mode {
	case "nearest", "linear", "cubic":
	default:
		return no, fmt.Errorf("unknown mode %q", op.Mode)
	}
	switch op.Coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn":
	case "tf_crop_and_resize":
		return no, fmt.Errorf("coordinate_transformation_mode tf_crop_and_resize is not supported")
	default:
		return no, fmt.Errorf("unknown coordinate_transformation_mode %q", op.Coord)
	}
	switch op.Nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return no, fmt.Errorf("unknown nearest_mode %q", op.Nearest)
	}
	if v, ok := n.Attrs["antialias"]; ok && v != 0 {
		return no, fmt.Errorf("antialias is not supported")
	}
	op.fromScales, op.fromSizes = hasInput(n, 2), hasInput(n, 3)
	return op, nil
}

// Infer is Resize's shape inference.
func (op ResizeAttrs) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	out, _, err := op.Size(in, consts)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Size checks the inputs and returns the output shape and the scale along
// each axis, from the constant sizes or scales input.
func (op ResizeAttrs) Size(in [][]int, consts []*tensor.Tensor) ([]int, []float64, error) {
	if err := WantInputs(in, 1, 4); err != nil {
		return nil, nil, err
	}
	x := in[0]
	var scales []float64
	var sizes []int
	if op.fromScales {
		t, err := constInput(consts, 2, "scales")
		if err != nil {
			return nil, nil, err
		}
		for _, v := range t.Data {
			scales = append(scales, float64(v))
		}
	}
	if op.fromSizes {
		s, err := ConstIntsInput(consts, 3, "sizes")
		if err != nil {
			return nil, nil, err
		}
		sizes = s
	}
	// An exporter may pass an empty scales (or sizes) next to the other.
	if len(scales) > 0 && len(sizes) > 0 {
		return nil, nil, fmt.Errorf("both scales and sizes are given")
	}
	out := CloneShape(x)
	scale := make([]float64, len(x))
	switch {
	case len(sizes) > 0:
		if len(sizes) != len(x) {
			return nil, nil, ShapeErr("sizes has %d values, input %v has %d dims", len(sizes), x, len(x))
		}
		for d, s := range sizes {
			if s < 1 {
				return nil, nil, ShapeErr("sizes[%d] = %d must be ≥ 1", d, s)
			}
			out[d] = s
			scale[d] = float64(s) / float64(x[d])
		}
	case len(scales) > 0:
		if len(scales) != len(x) {
			return nil, nil, ShapeErr("scales has %d values, input %v has %d dims", len(scales), x, len(x))
		}
		for d, s := range scales {
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, nil, ShapeErr("scales[%d] = %g must be positive", d, s)
			}
			out[d] = int(math.Floor(float64(x[d]) * s))
			if out[d] < 1 || out[d] > maxResizeDim {
				return nil, nil, ShapeErr("scales[%d] = %g gives size %d for input size %d", d, s, out[d], x[d])
			}
			scale[d] = s
		}
	default:
		return nil, nil, fmt.Errorf("needs scales or sizes")
	}
	for d, v := range x {
		if v == 0 && out[d] != 0 {
			return nil, nil, ShapeErr("cannot resize an empty axis %d (input %v)", d, x)
		}
	}
	return out, scale, nil
}

// maxResizeDim bounds an output size computed from scales, so that a
// hostile scale cannot ask for an absurd allocation.
const maxResizeDim = 1 << 24
