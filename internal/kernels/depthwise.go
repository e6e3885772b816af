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
//
// Small maps (7×7, 14×14) make those loops short, and a call per image
// and channel then costs more than its arithmetic. So one call handles a
// chunk of images of one channel: their phase planes sit one after another
// (phase-major: all images' phase 0, then all images' phase 1, ...), and
// each tap's loop runs over the whole chunk at once, computing junk rows
// between images that are dropped like the junk columns.

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

// phasePart is what one phase plane holds of the image: rows [r0, r1) and
// columns [c0, c1), read from row ih0 and column iw0 on. The rest of the
// plane is padding. A plane with nothing of the image has r1 = 0.
type phasePart struct {
	r0, r1, c0, c1 int
	ih0, iw0       int
}

// Depthwise is the plan of one depthwise window over chunks of images:
// the phase-plane layout, what each phase plane holds and where each
// kernel tap reads, all worked out once. (They take integer divisions,
// which on small maps cost as much as the loops.)
type Depthwise struct {
	g      Geom
	p      phaseGeom
	images int         // images per chunk
	parts  []phasePart // per phase a·SW+b
	taps   []int       // offset of tap ki·KW+kj in a chunk's phase planes
}

// chunkFloats bounds a chunk's phase planes, so that they and the output
// rows stay in the core's L1 and L2 caches while the taps sweep them.
const chunkFloats = 4096

// NewDepthwise plans depthwise convolutions with window g (C is ignored)
// over batches of up to batch images.
func NewDepthwise(g *Geom, batch int) *Depthwise {
	d := &Depthwise{g: *g, p: phases(g)}
	p := &d.p
	d.images = max(1, min(batch, chunkFloats/(p.phases*p.plane)))
	for a := 0; a < g.SH; a++ {
		for b := 0; b < g.SW; b++ {
			d.parts = append(d.parts, p.part(g, a, b))
		}
	}
	for ki := 0; ki < g.KH; ki++ {
		for kj := 0; kj < g.KW; kj++ {
			a, b := ki*g.DH%g.SH, kj*g.DW%g.SW
			d.taps = append(d.taps, (a*g.SW+b)*d.images*p.plane+ki*g.DH/g.SH*p.wq+kj*g.DW/g.SW)
		}
	}
	return d
}

// part works out what phase plane (a, b) holds.
func (p *phaseGeom) part(g *Geom, a, b int) phasePart {
	// columns c with 0 ≤ c·SW + b − PL < W, rows likewise
	pt := phasePart{
		c0: max(0, (g.PL-b+g.SW-1)/g.SW), c1: min(p.wq, (g.W+g.PL-b+g.SW-1)/g.SW),
		r0: max(0, (g.PT-a+g.SH-1)/g.SH), r1: min(p.hq, (g.H+g.PT-a+g.SH-1)/g.SH),
	}
	if pt.r0 >= pt.r1 || pt.c0 >= pt.c1 {
		return phasePart{}
	}
	pt.ih0, pt.iw0 = pt.r0*g.SH+a-g.PT, pt.c0*g.SW+b-g.PL
	return pt
}

// Geom is the window d was planned for.
func (d *Depthwise) Geom() Geom { return d.g }

// Images is the most images one Forward or Backward call takes.
func (d *Depthwise) Images() int { return d.images }

// DepthwiseScratch is one worker's scratch for one plan: the chunk's phase
// planes, then room for output rows and the input gradient's planes. The
// phase planes' padding is zeroed once, when the scratch is made, and
// never written again (the convolutions write only the planes' interiors),
// so a call does not clear it: on small maps that clearing cost as much
// as the convolution.
type DepthwiseScratch struct {
	plan *Depthwise
	buf  []float32
}

// NewScratch makes a scratch for d.
func (d *Depthwise) NewScratch() *DepthwiseScratch {
	p := &d.p
	return &DepthwiseScratch{plan: d, buf: make([]float32, 2*p.phases*d.images*p.plane+d.images*p.plane)}
}

// For reports whether s is a scratch for d.
func (s *DepthwiseScratch) For(d *Depthwise) bool { return s != nil && s.plan == d }

// plane returns phase plane ph of image j in a chunk's planes q.
func (d *Depthwise) plane(q []float32, ph, j int) []float32 {
	return q[(ph*d.images+j)*d.p.plane:][:d.p.plane]
}

// load checks a call's scratch and chunk size, splits the chunk's images
// (image j at x[j·xStride]) into the phase planes q at the start of the
// scratch, and returns q and the rest of the scratch.
func (d *Depthwise) load(x []float32, xStride, cnt int, s *DepthwiseScratch) (q, rest []float32) {
	if !s.For(d) {
		panic("kernels: depthwise scratch made for another plan")
	}
	if cnt < 1 || cnt > d.images {
		panic("kernels: depthwise chunk of a bad size")
	}
	q, rest = s.buf[:d.p.phases*d.images*d.p.plane], s.buf[d.p.phases*d.images*d.p.plane:]
	g, p := &d.g, &d.p
	if g.SW == 1 {
		// Whole columns: each phase plane of all the images in one call.
		for ph := range d.parts {
			pt := &d.parts[ph]
			if pt.r1 == 0 {
				continue
			}
			vec.CopyPlanes(q[ph*d.images*p.plane+pt.r0*p.wq+pt.c0:], p.wq, p.plane, x[pt.ih0*g.W+pt.iw0:], g.SH*g.W, xStride,
				pt.c1-pt.c0, pt.r1-pt.r0, cnt)
		}
		return q, rest
	}
	hw := g.H * g.W
	for j := range cnt {
		d.split(x[j*xStride:][:hw], q, j)
	}
	return q, rest
}

// outLen is the length of the output rows of cnt images: image j's
// output plane (OH rows wq wide) starts at j·plane.
func (d *Depthwise) outLen(cnt int) int { return (cnt-1)*d.p.plane + d.p.out }

// split writes image j's x (H×W) into the interior of its phase planes
// in q for a strided window (load moves stride-1 columns for all images at
// once); the padding stays as NewScratch left it, zero.
func (d *Depthwise) split(x, q []float32, j int) {
	g, p := &d.g, &d.p
	for ph := range d.parts {
		pt := &d.parts[ph]
		plane := d.plane(q, ph, j)
		if pt.r1 == 0 {
			continue
		}
		xs := x[pt.ih0*g.W+pt.iw0:]
		qs := plane[pt.r0*p.wq+pt.c0:]
		w, rows := pt.c1-pt.c0, pt.r1-pt.r0
		if g.SW == 2 {
			vec.GatherRows2(qs, p.wq, xs, g.SH*g.W, w, rows)
			continue
		}
		for r := range rows {
			qr, xr := qs[r*p.wq:][:w], xs[r*g.SH*g.W:]
			for c := range qr {
				qr[c] = xr[c*g.SW]
			}
		}
	}
}

// merge adds image j's phase planes in q into its dx (H×W): the adjoint
// of split.
func (d *Depthwise) merge(dx, q []float32, j int) {
	g, p := &d.g, &d.p
	for ph := range d.parts {
		pt := &d.parts[ph]
		if pt.r1 == 0 {
			continue
		}
		xs := dx[pt.ih0*g.W+pt.iw0:]
		qs := d.plane(q, ph, j)[pt.r0*p.wq+pt.c0:]
		w, rows := pt.c1-pt.c0, pt.r1-pt.r0
		if g.SW == 1 {
			vec.AddRows(xs, g.SH*g.W, qs, p.wq, w, rows)
			continue
		}
		for r := range rows {
			qr, xr := qs[r*p.wq:][:w], xs[r*g.SH*g.W:]
			for c, v := range qr {
				xr[c*g.SW] += v
			}
		}
	}
}

// Forward computes one channel of a depthwise convolution for cnt ≤
// Images() images: y_j (OH×OW) = x_j (H×W) ⋆ k (KH×KW), plus bias, where
// image j's input starts at x[j·xStride] and its output at y[j·yStride].
// With clamp = [lo, hi] the outputs are clamped to it (a fused
// activation), NaN staying NaN. s must be a scratch made for d.
func (d *Depthwise) Forward(x []float32, xStride int, y []float32, yStride, cnt int, k []float32, bias float32, clamp []float32, s *DepthwiseScratch) {
	g, p := &d.g, &d.p
	q, rest := d.load(x, xStride, cnt, s)
	o := rest[:d.outLen(cnt)]
	vec.TapSum(o, q, d.taps, k, bias)
	if clamp != nil {
		vec.Clamp(o, o, clamp[0], clamp[1])
	}
	vec.CopyPlanes(y, g.OW, yStride, o, p.wq, p.plane, g.OW, g.OH, cnt)
}

// Backward accumulates the kernel gradient dk and (when dx is not nil) the
// input gradients of one depthwise channel for cnt ≤ Images() images,
// laid out as for Forward (dy like y, dx like x). s must be a scratch made
// for d.
func (d *Depthwise) Backward(x []float32, xStride int, dy []float32, dyStride, cnt int, k, dx, dk []float32, s *DepthwiseScratch) {
	g, p := &d.g, &d.p
	q, rest := d.load(x, xStride, cnt, s)
	dd := rest[:d.outLen(cnt)]
	// dy in the phase-plane row layout, junk columns and rows zero so they
	// add nothing.
	clear(dd)
	vec.CopyPlanes(dd, p.wq, p.plane, dy, g.OW, dyStride, g.OW, g.OH, cnt)
	for t, off := range d.taps {
		dk[t] += vec.Dot(dd, q[off:])
	}
	if dx == nil {
		return
	}
	// The input gradient in phase planes: each tap scatters dy back to
	// where its inputs came from; then the planes go back into dx.
	dq := rest[d.images*p.plane:][:len(q)]
	clear(dq)
	for t, off := range d.taps {
		vec.Axpy(dq[off:][:len(dd)], k[t], dd)
	}
	for j := range cnt {
		d.merge(dx[j*xStride:][:g.H*g.W], dq, j)
	}
}
