package graph

import (
	"fmt"
)

// Window is the 2-D geometry shared by Conv and the pooling ops: kernel,
// strides, dilations and begin/end pads, resolved against an input size.
// 1-D ops are run as 2-D with a height of 1.
type Window struct {
	Kh, Kw     int
	Sh, Sw     int
	Dh, Dw     int
	Pt, Pl     int // top, left (begin) pads
	Pb, Pr     int // bottom, right (end) pads
	ceil       bool
	autoPad    string
	SpatialDim int  // 1 or 2: the op's number of spatial dims
	ndGiven    bool // an attribute fixed spatialDim (else Conv takes it from W)
}

// parseWindow reads kernel_shape (when kernelFromAttr), strides,
// dilations, pads, auto_pad and ceil_mode.
func parseWindow(n *Node, kernelFromAttr bool) (Window, error) {
	r := AttrReader{A: n.Attrs}
	w := Window{autoPad: r.str("auto_pad", "NOTSET"), ceil: r.Int("ceil_mode", 0) != 0}
	ks := r.ints("kernel_shape", nil)
	strides := r.ints("strides", nil)
	dil := r.ints("dilations", nil)
	pads := r.ints("pads", nil)
	if r.Err != nil {
		return w, r.Err
	}
	if kernelFromAttr && ks == nil {
		return w, fmt.Errorf("kernel_shape is required")
	}
	nd := len(ks)
	for _, v := range [][]int{strides, dil} {
		if nd == 0 && v != nil {
			nd = len(v)
		}
	}
	if nd == 0 && pads != nil {
		nd = len(pads) / 2
	}
	w.ndGiven = nd != 0
	if nd == 0 {
		nd = 2
	}
	if nd > 2 {
		return w, fmt.Errorf("only 1-D and 2-D windows are supported, have %d spatial dims", nd)
	}
	w.SpatialDim = nd
	for _, a := range []struct {
		name string
		v    []int
		want int
	}{{"kernel_shape", ks, nd}, {"strides", strides, nd}, {"dilations", dil, nd}, {"pads", pads, 2 * nd}} {
		if a.v != nil && len(a.v) != a.want {
			return w, fmt.Errorf("%s has %d values, want %d for %d spatial dims", a.name, len(a.v), a.want, nd)
		}
	}
	get := func(v []int, i, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		if i >= len(v) {
			return 0, fmt.Errorf("attribute has %d values, %d spatial dims need more", len(v), nd)
		}
		return v[i], nil
	}
	var err error
	set := func(dst *int, v []int, i, def int) {
		if err == nil {
			*dst, err = get(v, i, def)
		}
	}
	if nd == 1 {
		w.Kh, w.Sh, w.Dh = 1, 1, 1
		set(&w.Kw, ks, 0, 0)
		set(&w.Sw, strides, 0, 1)
		set(&w.Dw, dil, 0, 1)
		set(&w.Pl, pads, 0, 0)
		set(&w.Pr, pads, 1, 0)
	} else {
		set(&w.Kh, ks, 0, 0)
		set(&w.Kw, ks, 1, 0)
		set(&w.Sh, strides, 0, 1)
		set(&w.Sw, strides, 1, 1)
		set(&w.Dh, dil, 0, 1)
		set(&w.Dw, dil, 1, 1)
		set(&w.Pt, pads, 0, 0)
		set(&w.Pl, pads, 1, 0)
		set(&w.Pb, pads, 2, 0)
		set(&w.Pr, pads, 3, 0)
	}
	if err != nil {
		return w, err
	}
	if w.Sh < 1 || w.Sw < 1 || w.Dh < 1 || w.Dw < 1 {
		return w, fmt.Errorf("strides and dilations must be ≥ 1")
	}
	if w.Pt < 0 || w.Pl < 0 || w.Pb < 0 || w.Pr < 0 {
		return w, fmt.Errorf("pads must be ≥ 0")
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "":
	default:
		return w, fmt.Errorf("unknown auto_pad %q", w.autoPad)
	}
	return w, nil
}

// resolve fixes pads for auto_pad and returns the output size for an
// input of h×w.
func (w *Window) resolve(h, wd int) (oh, ow int, err error) {
	if w.Kh < 1 || w.Kw < 1 {
		return 0, 0, fmt.Errorf("kernel must be ≥ 1, have %d×%d", w.Kh, w.Kw)
	}
	switch w.autoPad {
	case "VALID":
		w.Pt, w.Pl, w.Pb, w.Pr = 0, 0, 0, 0
	case "SAME_UPPER", "SAME_LOWER":
		same := func(in, k, s, d int) (int, int) {
			out := (in + s - 1) / s
			total := max(0, (out-1)*s+(k-1)*d+1-in)
			small, big := total/2, total-total/2
			if w.autoPad == "SAME_UPPER" {
				return small, big
			}
			return big, small
		}
		w.Pt, w.Pb = same(h, w.Kh, w.Sh, w.Dh)
		w.Pl, w.Pr = same(wd, w.Kw, w.Sw, w.Dw)
	}
	size := func(in, k, s, d, p0, p1 int) int {
		span := in + p0 + p1 - ((k-1)*d + 1)
		if span < 0 {
			return 0
		}
		if !w.ceil {
			return span/s + 1
		}
		out := (span+s-1)/s + 1
		// The last window must start inside the input or left padding.
		if (out-1)*s >= in+p0 {
			out--
		}
		return out
	}
	oh = size(h, w.Kh, w.Sh, w.Dh, w.Pt, w.Pb)
	ow = size(wd, w.Kw, w.Sw, w.Dw, w.Pl, w.Pr)
	if oh <= 0 || ow <= 0 {
		return 0, 0, fmt.Errorf("window %d×%d (dilation %d×%d, pads %d,%d,%d,%d) does not fit input %d×%d", w.Kh, w.Kw, w.Dh, w.Dw, w.Pt, w.Pl, w.Pb, w.Pr, h, wd)
	}
	return oh, ow, nil
}

// Spatial splits an NC… shape into n, c, h, w for 1-D or 2-D ops.
func (w *Window) Spatial(shape []int) (n, c, h, wd int, err error) {
	if len(shape) != 2+w.SpatialDim {
		return 0, 0, 0, 0, ShapeErr("input must have %d dims (N×C×spatial), have %v", 2+w.SpatialDim, shape)
	}
	if w.SpatialDim == 1 {
		return shape[0], shape[1], 1, shape[2], nil
	}
	return shape[0], shape[1], shape[2], shape[3], nil
}

// OutShape builds the output shape with the op's spatial rank.
func (w *Window) OutShape(n, c, oh, ow int) []int {
	if w.SpatialDim == 1 {
		return []int{n, c, ow}
	}
	return []int{n, c, oh, ow}
}
