package cpu

import (
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// resizeOp is ONNX Resize (opsets 11–17; Upsample is imported as one):
// nearest (all four nearest_mode roundings), linear and cubic
// (cubic_coeff_a, exclude_outside) interpolation with the half_pixel,
// pytorch_half_pixel, align_corners, asymmetric and tf_half_pixel_for_nn
// coordinate transforms, along any axes. The output size comes from the
// constant sizes input, or from the constant scales (floor(in·scale)).
//
// All three modes are separable: the op resizes one axis at a time, each
// output position a weighted sum of a few input positions along that axis
// ("taps", precomputed per axis), and the backward pass runs the adjoint
// passes in reverse order.
type resizeOp struct {
	graph.ResizeAttrs

	// For one input shape:
	shape  []int
	passes []resizePass
	bufs   [][]float32 // outputs of all passes but the last
	gbufs  [][]float32 // Backward: gradients of the inputs of all passes but the first
}

// resizePass resizes axis ax of a tensor whose shape is shape (before the
// pass): out[o, j, i] = Σ_t w[j][t] · in[o, idx[j][t], i].
type resizePass struct {
	outer, in, out, inner int
	idx                   [][]int
	w                     [][]float32
}

func init() {
	RegisterKernel("Resize", newResize)
}

func newResize(n *graph.Node) (Op, error) {
	a, err := graph.ParseResize(n)
	if err != nil {
		return nil, err
	}
	return &resizeOp{ResizeAttrs: a}, nil
}

func (op *resizeOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	out, scale, err := op.Size(in, consts)
	if err != nil {
		return nil, err
	}
	op.plan(in[0], out, scale)
	return [][]int{out}, nil
}

// plan builds one pass per axis whose size or scale changes.
func (op *resizeOp) plan(x, out []int, scale []float64) {
	op.shape = graph.CloneShape(x)
	op.passes = op.passes[:0]
	cur := graph.CloneShape(x)
	for d := range x {
		if out[d] == x[d] && scale[d] == 1 {
			continue
		}
		p := resizePass{outer: graph.ShapeProd(cur[:d]), in: x[d], out: out[d], inner: graph.ShapeProd(cur[d+1:])}
		p.idx, p.w = make([][]int, out[d]), make([][]float32, out[d])
		for j := range out[d] {
			p.idx[j], p.w[j] = op.taps(j, x[d], out[d], scale[d])
		}
		op.passes = append(op.passes, p)
		cur[d] = out[d]
	}
	op.bufs = make([][]float32, max(len(op.passes)-1, 0))
	for k := range op.bufs {
		p := &op.passes[k]
		op.bufs[k] = make([]float32, p.outer*p.out*p.inner)
	}
	op.gbufs = nil // allocated by the first Backward
}

// source maps output position j of an axis to its input coordinate. As
// in ONNX's reference, align_corners divides by the unrounded resized
// length in·scale, which differs from the output size when a given scale
// does not land on an integer.
func (op *resizeOp) source(j, in, out int, scale float64) float64 {
	x := float64(j)
	switch op.Coord {
	case "pytorch_half_pixel":
		if out == 1 {
			return 0
		}
		return (x+0.5)/scale - 0.5
	case "align_corners":
		if resized := float64(in) * scale; resized != 1 {
			return x * float64(in-1) / (resized - 1)
		}
		return 0
	case "asymmetric":
		return x / scale
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	}
	return (x+0.5)/scale - 0.5 // half_pixel
}

// taps returns the input positions and weights of output position j.
func (op *resizeOp) taps(j, in, out int, scale float64) ([]int, []float32) {
	x := op.source(j, in, out, scale)
	clamp := func(i int) int { return min(max(i, 0), in-1) }
	switch op.Mode {
	case "nearest":
		var i float64
		switch f := x - math.Floor(x); op.Nearest {
		case "floor":
			i = math.Floor(x)
		case "ceil":
			i = math.Ceil(x)
		case "round_prefer_ceil":
			i = math.Floor(x + 0.5)
		default: // round_prefer_floor
			if f == 0.5 {
				i = math.Floor(x)
			} else {
				i = math.Round(x)
			}
		}
		return []int{clamp(int(i))}, []float32{1}
	case "linear":
		f := math.Floor(x)
		t := x - f
		return []int{clamp(int(f)), clamp(int(f) + 1)}, []float32{float32(1 - t), float32(t)}
	}
	// cubic: Keys' kernel with a = cubic_coeff_a over floor−1 … floor+2.
	f := math.Floor(x)
	t := x - f
	a := op.CubicA
	w := [4]float64{
		((a*(t+1)-5*a)*(t+1)+8*a)*(t+1) - 4*a,
		((a+2)*t-(a+3))*t*t + 1,
		((a+2)*(1-t)-(a+3))*(1-t)*(1-t) + 1,
		((a*(2-t)-5*a)*(2-t)+8*a)*(2-t) - 4*a,
	}
	idx := make([]int, 4)
	wt := make([]float32, 4)
	sum := 0.0
	for k := range 4 {
		i := int(f) - 1 + k
		if op.Exclude && (i < 0 || i >= in) {
			w[k] = 0
		}
		sum += w[k]
		idx[k] = clamp(i)
	}
	for k := range 4 {
		if op.Exclude && sum != 0 {
			w[k] /= sum
		}
		wt[k] = float32(w[k])
	}
	return idx, wt
}

// run applies pass p from src to dst (dst overwritten).
func (p *resizePass) run(threads int, src, dst []float32) {
	parallel.For(p.outer, threads, func(lo, hi, _ int) {
		for o := lo; o < hi; o++ {
			s := src[o*p.in*p.inner : (o+1)*p.in*p.inner]
			d := dst[o*p.out*p.inner : (o+1)*p.out*p.inner]
			for j := 0; j < p.out; j++ {
				row := d[j*p.inner : (j+1)*p.inner]
				idx, w := p.idx[j], p.w[j]
				for i := range row {
					var v float32
					for t, k := range idx {
						v += w[t] * s[k*p.inner+i]
					}
					row[i] = v
				}
			}
		}
	})
}

// adjoint adds the transpose of pass p applied to g (the pass's output
// shape) into gx (its input shape).
func (p *resizePass) adjoint(threads int, g, gx []float32) {
	parallel.For(p.outer, threads, func(lo, hi, _ int) {
		for o := lo; o < hi; o++ {
			gs := g[o*p.out*p.inner : (o+1)*p.out*p.inner]
			d := gx[o*p.in*p.inner : (o+1)*p.in*p.inner]
			for j := 0; j < p.out; j++ {
				row := gs[j*p.inner : (j+1)*p.inner]
				for t, k := range p.idx[j] {
					w := p.w[j][t]
					dk := d[k*p.inner : (k+1)*p.inner]
					for i, v := range row {
						dk[i] += w * v
					}
				}
			}
		}
	})
}

func (op *resizeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	if !tensor.SameShape(in[0].Shape, op.shape) {
		return graph.ShapeErr("input %v, planned for %v", in[0].Shape, op.shape)
	}
	if len(op.passes) == 0 {
		copy(y, x)
		return nil
	}
	src := x
	for k := range op.passes {
		dst := y
		if k < len(op.bufs) {
			dst = op.bufs[k]
		}
		op.passes[k].run(ctx.Threads, src, dst)
		src = dst
	}
	return nil
}

func (op *resizeOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gin[0] == nil || gout[0] == nil {
		return nil
	}
	g, gx := gout[0].Data, gin[0].Data
	if len(op.passes) == 0 {
		return addInto(ctx.Threads, gx, g)
	}
	// Walk the passes backwards; the gradient of pass k's input (k > 0)
	// is pass k−1's output gradient, kept in gbufs[k−1] between calls.
	if op.gbufs == nil {
		op.gbufs = make([][]float32, len(op.bufs))
		for k := range op.gbufs {
			op.gbufs[k] = make([]float32, len(op.bufs[k]))
		}
	}
	for k := len(op.passes) - 1; k >= 0; k-- {
		dst := gx
		if k > 0 {
			dst = op.gbufs[k-1]
			clear(dst)
		}
		op.passes[k].adjoint(ctx.Threads, g, dst)
		g = dst
	}
	return nil
}
