package prune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// fitLayer is a conv or linear node seen as a linear map of patches of its
// input, which is what reconstruction methods fit: at each output
// position p, y[o, p] = Σ_j W[o, j]·patch_p[j] + bias[o], where the patch
// holds the node's input channels of o's group at the kernel's positions
// around p (a linear layer: one input row). Reconstruction (Reconstruct),
// ThiNet, Channel Pruning and OBS read calibration activations through it.
//
// The geometry comes from the weight's shape and the node's window
// attributes (strides, pads, dilations, auto_pad, group); newFitLayer
// refuses what it cannot model (a transposed convolution, a Gemm with
// transA or alpha ≠ 1), and checkDense compares the patch model with the
// node's real output once, so a layer the model gets wrong is refused
// with a reason instead of being refit wrongly.
type fitLayer struct {
	node   *graph.Node
	w      *graph.Param
	bias   *graph.Param // nil without one
	in     string       // the data input value
	out    string       // the output value
	outs   int          // output channels (features)
	groups int
	cin    int  // input channels per group (a linear layer: its inputs)
	conv   bool // patches over a window; otherwise rows of the last axis
	// linear weight layout: output axis 0 (out×in) or 1 (in×out)
	outAxis0                       bool
	kh, kw, sh, sw, dh, dw, pt, pl int
	autoPad                        string
}

// patchLen is the length of one group's patch.
func (f *fitLayer) patchLen() int { return f.cin * f.kh * f.kw }

// outsPerGroup is the number of outputs in one group.
func (f *fitLayer) outsPerGroup() int { return f.outs / f.groups }

// widx is the element of the weight for output o and patch entry j of
// o's group.
func (f *fitLayer) widx(o, j int) int {
	if f.conv || f.outAxis0 {
		return o*f.patchLen() + j
	}
	return j*f.outs + o
}

// newFitLayer views node n (which has a conv or linear weight) as a patch
// map, or says why it cannot.
func newFitLayer(g *graph.Graph, n *graph.Node, params map[string]*graph.Param) (*fitLayer, error) {
	w, use, ok := graph.WeightOf(g, n, params)
	if !ok {
		return nil, fmt.Errorf("%s has no conv or linear weight", n.Name)
	}
	f := &fitLayer{node: n, w: w, in: n.Inputs[0], out: n.Outputs[0], groups: max(use.Groups, 1), kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1}
	if use.Input == 0 {
		return nil, fmt.Errorf("%s: its weight is its first input", n.Name)
	}
	for _, u := range graph.ParamUses(g, n, params) {
		if u.Kind == graph.ParamBias {
			f.bias = params[n.Inputs[u.Input]]
		}
	}
	shape := w.Value.Shape
	switch {
	case len(shape) == 2 && f.groups == 1:
		f.outAxis0 = use.Out == 0
		f.outs, f.cin = shape[use.Out], shape[use.In]
		if a, _ := n.Attrs.Int("transA", 0); a != 0 {
			return nil, fmt.Errorf("%s: a transposed input (transA) is not modelled", n.Name)
		}
		if a, _ := n.Attrs.Float("alpha", 1); a != 1 {
			return nil, fmt.Errorf("%s: alpha %g is not modelled", n.Name, a)
		}
		if b, _ := n.Attrs.Float("beta", 1); b != 1 && f.bias != nil {
			return nil, fmt.Errorf("%s: beta %g is not modelled", n.Name, b)
		}
	case (len(shape) == 3 || len(shape) == 4) && use.Out == 0 && use.In == 1:
		f.conv = true
		f.outs, f.cin = shape[0], shape[1]
		f.kw = shape[len(shape)-1]
		if len(shape) == 4 {
			f.kh = shape[2]
		}
		if f.outs%f.groups != 0 {
			return nil, fmt.Errorf("%s: %d outputs in %d groups", n.Name, f.outs, f.groups)
		}
		if err := f.window(n, len(shape)-2); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
	default:
		return nil, fmt.Errorf("%s: weight %s with out axis %d and in axis %d is not modelled", n.Name, tensor.ShapeString(shape), use.Out, use.In)
	}
	if f.bias != nil && f.bias.Value.Len() != f.outs {
		return nil, fmt.Errorf("%s: bias of %d for %d outputs is not modelled", n.Name, f.bias.Value.Len(), f.outs)
	}
	return f, nil
}

// window reads strides, dilations and the leading pads.
func (f *fitLayer) window(n *graph.Node, nd int) error {
	strides, err1 := n.Attrs.Ints("strides", nil)
	dil, err2 := n.Attrs.Ints("dilations", nil)
	pads, err3 := n.Attrs.Ints("pads", nil)
	ap, err4 := n.Attrs.String("auto_pad", "NOTSET")
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return err
		}
	}
	f.autoPad = ap
	pick := func(v []int, i, def int) int {
		if i < len(v) {
			return v[i]
		}
		return def
	}
	if nd == 1 {
		f.sw, f.dw, f.pl = pick(strides, 0, 1), pick(dil, 0, 1), pick(pads, 0, 0)
	} else {
		f.sh, f.sw = pick(strides, 0, 1), pick(strides, 1, 1)
		f.dh, f.dw = pick(dil, 0, 1), pick(dil, 1, 1)
		f.pt, f.pl = pick(pads, 0, 0), pick(pads, 1, 0)
	}
	return nil
}

// geometry is one batch's sizes: input channels×h×w (a conv), the output
// positions per image and, for a linear layer, the rows per image.
type geometry struct {
	n, c, h, w int // input batch, channels and spatial size (conv)
	oh, ow     int
	per        int // output positions (rows) per image
}

// geometryOf checks the shapes of x and y against the layer and resolves
// auto_pad.
func (f *fitLayer) geometryOf(x, y []int) (geometry, error) {
	var gm geometry
	if f.conv {
		if len(x) != len(y) || (len(x) != 4 && len(x) != 3) {
			return gm, fmt.Errorf("%s: input %s and output %s are not N×C×… values", f.node.Name, tensor.ShapeString(x), tensor.ShapeString(y))
		}
		gm.n, gm.c = x[0], x[1]
		gm.h, gm.w, gm.oh, gm.ow = 1, x[len(x)-1], 1, y[len(y)-1]
		if len(x) == 4 {
			gm.h, gm.oh = x[2], y[2]
		}
		if gm.c != f.cin*f.groups || y[1] != f.outs {
			return gm, fmt.Errorf("%s: %d input and %d output channels, the weight wants %d and %d", f.node.Name, gm.c, y[1], f.cin*f.groups, f.outs)
		}
		if f.autoPad == "SAME_UPPER" || f.autoPad == "SAME_LOWER" {
			pad := func(in, out, k, s, d int) int {
				total := max((out-1)*s+(k-1)*d+1-in, 0)
				if f.autoPad == "SAME_UPPER" {
					return total / 2
				}
				return total - total/2
			}
			f.pt, f.pl = pad(gm.h, gm.oh, f.kh, f.sh, f.dh), pad(gm.w, gm.ow, f.kw, f.sw, f.dw)
		}
		gm.per = gm.oh * gm.ow
		return gm, nil
	}
	if len(x) < 2 || len(y) != len(x) || x[len(x)-1] != f.cin || y[len(y)-1] != f.outs {
		return gm, fmt.Errorf("%s: input %s and output %s do not match a %d→%d linear layer", f.node.Name, tensor.ShapeString(x), tensor.ShapeString(y), f.cin, f.outs)
	}
	gm.n, gm.per = x[0], 1
	for _, d := range x[1 : len(x)-1] {
		gm.per *= d
	}
	return gm, nil
}

// patch writes the patch of group grp at output position pos of image img
// into dst (len patchLen), zeros where the window leaves the padded input.
func (f *fitLayer) patch(x []float32, gm geometry, img, pos, grp int, dst []float64) {
	if !f.conv {
		row := x[(img*gm.per+pos)*f.cin:]
		for j := range dst {
			dst[j] = float64(row[j])
		}
		return
	}
	oy, ox := pos/gm.ow, pos%gm.ow
	j := 0
	for c := range f.cin {
		plane := x[((img*gm.c)+grp*f.cin+c)*gm.h*gm.w:]
		for ky := range f.kh {
			iy := oy*f.sh - f.pt + ky*f.dh
			for kx := range f.kw {
				ix := ox*f.sw - f.pl + kx*f.dw
				if iy < 0 || iy >= gm.h || ix < 0 || ix >= gm.w {
					dst[j] = 0
				} else {
					dst[j] = float64(plane[iy*gm.w+ix])
				}
				j++
			}
		}
	}
}

// output returns y[o] at output position pos of image img.
func (f *fitLayer) output(y []float32, gm geometry, img, pos, o int) float64 {
	if f.conv {
		return float64(y[(img*f.outs+o)*gm.per+pos])
	}
	return float64(y[(img*gm.per+pos)*f.outs+o])
}

// samplePositions picks up to per distinct output positions of each of n
// images (all of them when per ≥ the positions), as image·P + position.
func samplePositions(rng *rand.Rand, n, positions, per int) []int32 {
	var s []int32
	for img := range n {
		if per <= 0 || per >= positions {
			for p := range positions {
				s = append(s, int32(img*positions+p))
			}
			continue
		}
		for _, p := range rng.Perm(positions)[:per] {
			s = append(s, int32(img*positions+p))
		}
	}
	return s
}

// checkDense compares the patch model of the layer with its real output y
// for input x at a few positions, and says where it disagrees.
func (f *fitLayer) checkDense(x, y *tensor.Tensor) error {
	gm, err := f.geometryOf(x.Shape, y.Shape)
	if err != nil {
		return err
	}
	wd := f.w.Value.Data
	patch := make([]float64, f.patchLen())
	opg := f.outsPerGroup()
	var worst, scale float64
	for s := range min(gm.per, 16) {
		pos := s * max(gm.per/16, 1) % gm.per
		for grp := range f.groups {
			f.patch(x.Data, gm, 0, pos, grp, patch)
			for o := grp * opg; o < (grp+1)*opg; o++ {
				var v float64
				for j, pj := range patch {
					v += float64(wd[f.widx(o, j)]) * pj
				}
				if f.bias != nil {
					v += float64(f.bias.Value.Data[o])
				}
				want := f.output(y.Data, gm, 0, pos, o)
				worst = max(worst, math.Abs(v-want))
				scale = max(scale, math.Abs(want))
			}
		}
	}
	if worst > 1e-3*max(scale, 1e-3) {
		return fmt.Errorf("%s: the patch model of the layer is off by %.3g (outputs up to %.3g): not refit", f.node.Name, worst, scale)
	}
	return nil
}
