package cpu

import (
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

// poolOp is ONNX MaxPool and AveragePool (1-D and 2-D, pads, strides,
// dilations, ceil_mode, count_include_pad). MaxPool's forward pass runs
// branch-free on whole rows; a training pass of the common 2×2/2 pool
// records each maximum's position on the way (vectorised), and Backward
// otherwise finds each window's maximum again from the input and output.
type poolOp struct {
	graph.PoolAttrs
	n, c, h, w int
	oh, ow     int
	// codes holds, after a training Forward of a 2×2/2 max pool (coded),
	// each window's maximum position for Backward (vec.MaxPairs2Arg).
	codes []int32
	coded bool
}

func init() {
	for _, name := range []string{"MaxPool", "AveragePool"} {
		isMax := name == "MaxPool"
		RegisterKernel(name, func(n *graph.Node) (Op, error) {
			if graph.UsesPoolND(n, isMax) {
				return newPoolND(n, isMax) // 3-D and up, or MaxPool's Indices
			}
			a, err := graph.ParsePool(n, isMax)
			if err != nil {
				return nil, err
			}
			return &poolOp{PoolAttrs: a}, nil
		})
	}
	RegisterKernel("GlobalAveragePool", func(n *graph.Node) (Op, error) { return &globalPoolOp{}, nil })
	RegisterKernel("GlobalMaxPool", func(n *graph.Node) (Op, error) { return &globalPoolOp{max: true}, nil })
}

func (p *poolOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	win, oh, ow, err := p.Shape(in)
	if err != nil {
		return nil, err
	}
	n, c, h, w, _ := win.Spatial(in[0])
	p.Win = win
	p.n, p.c, p.h, p.w, p.oh, p.ow = n, c, h, w, oh, ow
	return [][]int{win.OutShape(n, c, oh, ow)}, nil
}

func (p *poolOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	planes := p.n * p.c
	hw, ohw := p.h*p.w, p.oh*p.ow
	wn := &p.Win
	if p.Max {
		// A training pass of a 2×2/2 pool also records where each
		// maximum is, so that Backward scatters without searching.
		p.coded = ctx.Train && p.simple2x2()
		if p.coded && len(p.codes) != len(y) {
			p.codes = make([]int32, len(y))
		}
		parallel.For(planes, ctx.Threads, func(lo, hi, _ int) {
			var row []float32 // scratch of the general windows
			if !p.simple2x2() {
				row = make([]float32, p.paddedWidth())
			}
			for pl := lo; pl < hi; pl++ {
				var codes []int32
				if p.coded {
					codes = p.codes[pl*ohw : (pl+1)*ohw]
				}
				p.maxPlane(x[pl*hw:(pl+1)*hw], y[pl*ohw:(pl+1)*ohw], codes, row)
			}
		})
		return nil
	}
	parallel.For(planes, ctx.Threads, func(lo, hi, _ int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*hw : (pl+1)*hw]
			yp := y[pl*ohw : (pl+1)*ohw]
			for oh := 0; oh < p.oh; oh++ {
				h0 := oh*wn.Sh - wn.Pt
				for ow := 0; ow < p.ow; ow++ {
					w0 := ow*wn.Sw - wn.Pl
					var s float32
					cnt := 0
					for ki := 0; ki < wn.Kh; ki++ {
						ih := h0 + ki*wn.Dh
						if ih < 0 || ih >= p.h {
							continue
						}
						for kj := 0; kj < wn.Kw; kj++ {
							iw := w0 + kj*wn.Dw
							if iw < 0 || iw >= p.w {
								continue
							}
							s += xp[ih*p.w+iw]
							cnt++
						}
					}
					yp[oh*p.ow+ow] = s / float32(p.divisor(oh, ow, cnt))
				}
			}
		}
	})
	return nil
}

// paddedWidth is the length of the scratch row maxPlane works in: the
// input width with the left pad and any right overhang of the last window.
func (p *poolOp) paddedWidth() int {
	wn := &p.Win
	return max(p.w+wn.Pl, (p.ow-1)*wn.Sw+(wn.Kw-1)*wn.Dw+1)
}

// maxPlane max-pools one H×W plane. Each output row takes the elementwise
// max of its window's input rows (vectorised), then the max along each
// window's columns in a −∞-padded scratch row of paddedWidth elements; no
// argmax is kept, Backward finds it again. Windows that cover no input
// element (possible only with pads or ceil_mode) give −∞. A 2×2/2 pool
// runs on row pairs, and records each maximum's position in codes when
// codes is not nil.
func (p *poolOp) maxPlane(xp, yp []float32, codes []int32, row []float32) {
	wn := &p.Win
	simple := p.simple2x2()
	negInf := float32(math.Inf(-1))
	for oh := 0; oh < p.oh; oh++ {
		yr := yp[oh*p.ow : (oh+1)*p.ow]
		if simple {
			r0 := 2 * oh * p.w
			if codes != nil {
				vec.MaxPairs2Arg(yr, codes[oh*p.ow:(oh+1)*p.ow], xp[r0:r0+p.w], xp[r0+p.w:r0+2*p.w])
			} else {
				vec.MaxPairs2(yr, xp[r0:r0+p.w], xp[r0+p.w:r0+2*p.w])
			}
			continue
		}
		inner := row[wn.Pl : wn.Pl+p.w]
		first := true
		for ki := 0; ki < wn.Kh; ki++ {
			ih := oh*wn.Sh - wn.Pt + ki*wn.Dh
			if ih < 0 || ih >= p.h {
				continue
			}
			if first {
				copy(inner, xp[ih*p.w:(ih+1)*p.w])
				first = false
			} else {
				vec.MaxInto(inner, xp[ih*p.w:(ih+1)*p.w])
			}
		}
		if first {
			vec.Fill(yr, negInf)
			continue
		}
		vec.Fill(row[:wn.Pl], negInf)
		vec.Fill(row[wn.Pl+p.w:], negInf)
		for ow := range yr {
			w0 := ow * wn.Sw
			m := row[w0]
			for kj := 1; kj < wn.Kw; kj++ {
				if v := row[w0+kj*wn.Dw]; v > m {
					m = v
				}
			}
			yr[ow] = m
		}
	}
}

// simple2x2 reports a 2×2, stride-2 pool whose windows all lie inside the
// input, the common case that runs on whole rows.
func (p *poolOp) simple2x2() bool {
	wn := &p.Win
	return wn.Kh == 2 && wn.Kw == 2 && wn.Sh == 2 && wn.Sw == 2 && wn.Dh == 1 && wn.Dw == 1 &&
		wn.Pt == 0 && wn.Pl == 0 && 2*p.oh <= p.h && 2*p.ow <= p.w
}

// maxBackward adds each output gradient to the first element of its
// window (in row-major order) that equals the window's maximum, which is
// where the forward pass took it from; a window whose maximum matches no
// element (NaN) sends its gradient to its first in-image element.
func (p *poolOp) maxBackward(xp, yp, dxp, dyp []float32) {
	wn := &p.Win
	for oh := 0; oh < p.oh; oh++ {
		h0 := oh*wn.Sh - wn.Pt
		for ow := 0; ow < p.ow; ow++ {
			w0 := ow*wn.Sw - wn.Pl
			m := yp[oh*p.ow+ow]
			arg, first := -1, -1
		search:
			for ki := 0; ki < wn.Kh; ki++ {
				ih := h0 + ki*wn.Dh
				if ih < 0 || ih >= p.h {
					continue
				}
				for kj := 0; kj < wn.Kw; kj++ {
					iw := w0 + kj*wn.Dw
					if iw < 0 || iw >= p.w {
						continue
					}
					if first < 0 {
						first = ih*p.w + iw
					}
					if xp[ih*p.w+iw] == m {
						arg = ih*p.w + iw
						break search
					}
				}
			}
			if arg < 0 {
				arg = first
			}
			if arg >= 0 {
				dxp[arg] += dyp[oh*p.ow+ow]
			}
		}
	}
}

// divisor is the element count an average divides by: the in-image count,
// or with count_include_pad the window clipped to the padded input (as
// ONNX Runtime and PyTorch do, windows hanging past the padding in
// ceil_mode are clipped).
func (p *poolOp) divisor(oh, ow, cnt int) int {
	if !p.CountIncludePad {
		return max(cnt, 1)
	}
	wn := &p.Win
	h0, w0 := oh*wn.Sh-wn.Pt, ow*wn.Sw-wn.Pl
	h1 := min(h0+(wn.Kh-1)*wn.Dh+1, p.h+wn.Pb)
	w1 := min(w0+(wn.Kw-1)*wn.Dw+1, p.w+wn.Pr)
	rows := (h1 - h0 + wn.Dh - 1) / wn.Dh
	cols := (w1 - w0 + wn.Dw - 1) / wn.Dw
	return max(rows*cols, 1)
}

func (p *poolOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil || gin[0] == nil {
		return nil
	}
	dy, dx := gout[0].Data, gin[0].Data
	x, y := in[0].Data, out[0].Data
	planes := p.n * p.c
	hw, ohw := p.h*p.w, p.oh*p.ow
	wn := &p.Win
	parallel.For(planes, ctx.Threads, func(lo, hi, _ int) {
		for pl := lo; pl < hi; pl++ {
			dxp := dx[pl*hw : (pl+1)*hw]
			dyp := dy[pl*ohw : (pl+1)*ohw]
			if p.Max && p.coded && len(p.codes) == planes*ohw {
				// Position code c of window (oh, ow) is row c>>1,
				// column c&1 of the window.
				cp := p.codes[pl*ohw : (pl+1)*ohw]
				for oh := 0; oh < p.oh; oh++ {
					base := 2 * oh * p.w
					for ow, c := range cp[oh*p.ow : (oh+1)*p.ow] {
						dxp[base+2*ow+int(c>>1)*p.w+int(c&1)] += dyp[oh*p.ow+ow]
					}
				}
				continue
			}
			if p.Max {
				p.maxBackward(x[pl*hw:(pl+1)*hw], y[pl*ohw:(pl+1)*ohw], dxp, dyp)
				continue
			}
			for oh := 0; oh < p.oh; oh++ {
				h0 := oh*wn.Sh - wn.Pt
				for ow := 0; ow < p.ow; ow++ {
					w0 := ow*wn.Sw - wn.Pl
					cnt := 0
					for ki := 0; ki < wn.Kh; ki++ {
						ih := h0 + ki*wn.Dh
						if ih < 0 || ih >= p.h {
							continue
						}
						for kj := 0; kj < wn.Kw; kj++ {
							if iw := w0 + kj*wn.Dw; iw >= 0 && iw < p.w {
								cnt++
							}
						}
					}
					g := dyp[oh*p.ow+ow] / float32(p.divisor(oh, ow, cnt))
					for ki := 0; ki < wn.Kh; ki++ {
						ih := h0 + ki*wn.Dh
						if ih < 0 || ih >= p.h {
							continue
						}
						for kj := 0; kj < wn.Kw; kj++ {
							if iw := w0 + kj*wn.Dw; iw >= 0 && iw < p.w {
								dxp[ih*p.w+iw] += g
							}
						}
					}
				}
			}
		}
	})
	return nil
}

// globalPoolOp is ONNX GlobalAveragePool / GlobalMaxPool over all spatial
// dims: N×C×… → N×C×1×….
type globalPoolOp struct {
	max    bool
	inner  int
	planes int
	argmax []int32
}

func (g *globalPoolOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := graph.InferGlobalPool(nil, in, consts)
	if err != nil {
		return nil, err
	}
	x := in[0]
	g.planes = x[0] * x[1]
	g.inner = graph.ShapeProd(x[2:])
	return outs, nil
}

func (g *globalPoolOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	if g.max && len(g.argmax) != g.planes {
		g.argmax = make([]int32, g.planes)
	}
	for p := 0; p < g.planes; p++ {
		xs := x[p*g.inner : (p+1)*g.inner]
		if g.max {
			best, arg := xs[0], 0
			for i, v := range xs {
				if v > best {
					best, arg = v, i
				}
			}
			y[p], g.argmax[p] = best, int32(arg)
			continue
		}
		var s float32
		for _, v := range xs {
			s += v
		}
		y[p] = s / float32(g.inner)
	}
	return nil
}

func (g *globalPoolOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil || gin[0] == nil {
		return nil
	}
	dy, dx := gout[0].Data, gin[0].Data
	for p := 0; p < g.planes; p++ {
		if g.max {
			dx[p*g.inner+int(g.argmax[p])] += dy[p]
			continue
		}
		v := dy[p] / float32(g.inner)
		for i := range dx[p*g.inner : (p+1)*g.inner] {
			dx[p*g.inner+i] += v
		}
	}
	return nil
}
