package kernels

import "github.com/shearsml/shears/internal/vec"

// Depthwise convolutions do little arithmetic per byte, so their speed is
// the speed of their inner loops, and those are made long and contiguous.
// The zero-padded input plane P is split into SH·SW phase planes,
// Q_ab[r][c] = P[r·SH+a][c·SW+b], each wq = OW + (KW−1)·DW/SW wide. Output
// (oh, ow) reads P[oh·SH + ki·DH][ow·SW + kj·DW], which is phase plane
// ((ki·DH) mod SH, (kj·DW) mod SW) at row oh + ki·DH/SH, column
// ow + kj·DW/SW. So for each kernel tap the whole output plane — computed
// wq wide, the columns past OW being junk that is dropped — is one long
// y += k·Q over a phase plane shifted by the tap, and those loops run
// vectorised (internal/vec). With stride 1 there is one phase: the padded
// plane itself. The backward pass runs the same loops as dot products (the
// kernel gradient) and as scatters into phase planes of the input
// gradient.

// phaseGeom is the phase-plane layout of one depthwise window.
type phaseGeom struct {
	hq, wq int // phase plane rows and columns
	plane  int // one phase plane's length, with the junk reads of its last row
	phases int // SH·SW
	out    int // output plane OH × wq
}

func phases(g *Geom) phaseGeom {
	reachR, reachC := (g.KH-1)*g.DH/g.SH, (g.KW-1)*g.DW/g.SW
	p := phaseGeom{hq: g.OH + reachR, wq: g.OW + reachC, phases: g.SH * g.SW}
	p.plane = p.hq*p.wq + reachC
	p.out = g.OH * p.wq
	return p
}

// tap returns where tap (ki, kj) reads: the offset of its shifted window
// in the phase planes.
func (p *phaseGeom) tap(g *Geom, ki, kj int) int {
	a, b := ki*g.DH%g.SH, kj*g.DW%g.SW
	return (a*g.SW+b)*p.plane + ki*g.DH/g.SH*p.wq + kj*g.DW/g.SW
}

// DepthwiseScratch is the scratch length DepthwiseForward and
// DepthwiseBackward need for g.
func DepthwiseScratch(g *Geom) int {
	p := phases(g)
	return 2*p.phases*p.plane + p.out
}

// split writes x (H×W) into the phase planes q, zeros where the window
// falls in the padding.
func (p *phaseGeom) split(g *Geom, x, q []float32) {
	clear(q[:p.phases*p.plane])
	p.walk(g, x, q, false)
}

// merge adds the phase planes q into dx (H×W): the adjoint of split.
func (p *phaseGeom) merge(g *Geom, dx, q []float32) { p.walk(g, dx, q, true) }

// walk visits every image element the phase planes hold: it copies x into
// q, or with add set adds q into x.
func (p *phaseGeom) walk(g *Geom, x, q []float32, add bool) {
	for b := 0; b < g.SW; b++ {
		// columns c with 0 ≤ c·SW + b − PL < W, read from iw0 on
		c0 := max(0, (g.PL-b+g.SW-1)/g.SW)
		c1 := min(p.wq, (g.W+g.PL-b+g.SW-1)/g.SW)
		if c0 >= c1 {
			continue
		}
		iw0, span := c0*g.SW+b-g.PL, (c1-c0-1)*g.SW+1
		for a := 0; a < g.SH; a++ {
			plane := q[(a*g.SW+b)*p.plane:]
			// rows r with 0 ≤ r·SH + a − PT < H
			r0 := max(0, (g.PT-a+g.SH-1)/g.SH)
			r1 := min(p.hq, (g.H+g.PT-a+g.SH-1)/g.SH)
			if r0 >= r1 {
				continue
			}
			if g.SW == 1 {
				// Whole sets of short rows per call: one call per row
				// cost more than the copy on small maps.
				xs := x[(r0*g.SH+a-g.PT)*g.W+iw0:]
				qs := plane[r0*p.wq+c0:]
				if add {
					vec.AddRows(xs, g.SH*g.W, qs, p.wq, c1-c0, r1-r0)
				} else {
					vec.CopyRows(qs, p.wq, xs, g.SH*g.W, c1-c0, r1-r0)
				}
				continue
			}
			for r := r0; r < r1; r++ {
				ih := r*g.SH + a - g.PT
				xr := x[ih*g.W+iw0:][:span]
				qr := plane[r*p.wq+c0:][:c1-c0]
				switch {
				case g.SW == 2 && !add:
					vec.Gather2(qr, xr)
				case !add:
					for c := range qr {
						qr[c] = xr[c*g.SW]
					}
				default:
					for c, v := range qr {
						xr[c*g.SW] += v
					}
				}
			}
		}
	}
}

// DepthwiseForward computes one channel of a depthwise convolution:
// y (OH×OW) = x (H×W) ⋆ k (KH×KW), plus bias. C in g is ignored. scratch
// holds at least DepthwiseScratch(g) elements.
func DepthwiseForward(g *Geom, x, k []float32, bias float32, y, scratch []float32) {
	p := phases(g)
	q := scratch[:p.phases*p.plane]
	o := scratch[len(q):][:p.out]
	p.split(g, x, q)
	vec.Fill(o, bias)
	for ki := 0; ki < g.KH; ki++ {
		for kj := 0; kj < g.KW; kj++ {
			vec.Axpy(o, k[ki*g.KW+kj], q[p.tap(g, ki, kj):])
		}
	}
	vec.CopyRows(y, g.OW, o, p.wq, g.OW, g.OH)
}

// DepthwiseBackward accumulates the kernel gradient dk and (when dx is not
// nil) the input gradient dx of one depthwise channel. scratch holds at
// least DepthwiseScratch(g) elements.
func DepthwiseBackward(g *Geom, x, k, dy, dx, dk, scratch []float32) {
	p := phases(g)
	q := scratch[:p.phases*p.plane]
	d := scratch[len(q):][:p.out]
	p.split(g, x, q)
	// dy in the phase-plane row layout, junk columns zero so they add
	// nothing.
	clear(d)
	vec.CopyRows(d, p.wq, dy, g.OW, g.OW, g.OH)
	for ki := 0; ki < g.KH; ki++ {
		for kj := 0; kj < g.KW; kj++ {
			dk[ki*g.KW+kj] += vec.Dot(d, q[p.tap(g, ki, kj):])
		}
	}
	if dx == nil {
		return
	}
	// The input gradient in phase planes: each tap scatters dy back to
	// where its inputs came from; then the planes go back into dx.
	dq := scratch[len(q)+len(d):][:len(q)]
	clear(dq)
	for ki := 0; ki < g.KH; ki++ {
		for kj := 0; kj < g.KW; kj++ {
			vec.Axpy(dq[p.tap(g, ki, kj):][:p.out], k[ki*g.KW+kj], d)
		}
	}
	p.merge(g, dx, dq)
}
