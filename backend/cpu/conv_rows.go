package cpu

import (
	"slices"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
)

// Stride-1 convolutions run on "padded rows". A chunk of images is copied
// once into zero-padded planes, one per channel, with the images side by
// side: each row of a plane holds row ih of every image, separated by
// enough zero columns to serve as the right padding of one image and the
// left padding of the next. Row (c, ki, kj) of the im2col matrix is then
// one contiguous slice of plane c, shifted by ki·dh·wp + kj·dw, for the
// whole chunk at once. The GEMM computes outputs for all wp columns of
// each output row; the columns whose window straddles two images or the
// edge are junk and are dropped when results are copied out. The GEMM
// packs its B operand straight from the planes (gemm.RowsB: K row
// offsets), or reads it in place for short A, so the column matrix is
// never built: im2col costs one copy of the input.
//
// Placing images side by side (rather than one plane per image) makes the
// chunk one contiguous run per row and shares the padding columns between
// neighbours: on 7×7 maps with 3×3 kernels the junk drops from 2 columns
// in 9 to about 1 in 8.
//
// The input gradient of a stride-1 convolution is itself a stride-1
// convolution of the output gradient with the flipped, transposed kernel,
// so the backward pass reuses the same machinery instead of col2im's
// scattered adds.
type rowsGeom struct {
	c, h, w        int // input channels per group, input height and width
	m              int // output channels per group
	groups         int
	kh, kw, dh, dw int
	pt, pl, pr     int // top, left and right padding
	hp             int // padded plane height
	oh, ow         int
	// Set by chunk: images side by side, and the plane width that takes.
	cnt, wp int
}

// period is the distance between neighbouring images in a plane row.
func (r *rowsGeom) period() int { return r.w + max(r.pl, r.pr) }

// chunk returns the geometry of cnt images side by side.
func (r rowsGeom) chunk(cnt int) rowsGeom {
	r.cnt = cnt
	r.wp = r.pl + (cnt-1)*r.period() + r.w + r.pr
	return r
}

func (r *rowsGeom) k() int      { return r.c * r.kh * r.kw }
func (r *rowsGeom) l() int      { return r.oh * r.wp }
func (r *rowsGeom) plane() int  { return r.hp * r.wp }
func (r *rowsGeom) padLen() int { return r.c*r.plane() + (r.kw-1)*r.dw }

// rowsGeoms returns the forward geometry and the geometry of the input
// gradient's convolution, or ok=false when the convolution is not stride 1
// or its padding exceeds the kernel's reach (then the transposed
// convolution would need negative padding).
func (c *convOp) rowsGeoms() (fwd, bwd rowsGeom, ok bool) {
	g := &c.geom
	pb := (g.OH-1)*g.SH + (g.KH-1)*g.DH + 1 - g.H - g.PT
	pr := (g.OW-1)*g.SW + (g.KW-1)*g.DW + 1 - g.W - g.PL
	reachH, reachW := (g.KH-1)*g.DH, (g.KW-1)*g.DW
	if g.SH != 1 || g.SW != 1 || g.PT > reachH || g.PL > reachW || pb > reachH || pr > reachW || pb < 0 || pr < 0 {
		return fwd, bwd, false
	}
	// The junk columns are wasted GEMM work: past about a third extra
	// (5×5 kernels on 12×12 maps), im2col is cheaper.
	if wp := g.W + g.PL + pr; 3*wp > 4*g.OW {
		return fwd, bwd, false
	}
	mg := c.m / c.group
	fwd = rowsGeom{c: g.C, h: g.H, w: g.W, m: mg, groups: c.group, kh: g.KH, kw: g.KW, dh: g.DH, dw: g.DW,
		pt: g.PT, pl: g.PL, pr: pr, hp: g.OH + reachH, oh: g.OH, ow: g.OW}
	bwd = rowsGeom{c: mg, h: g.OH, w: g.OW, m: g.C, groups: c.group, kh: g.KH, kw: g.KW, dh: g.DH, dw: g.DW,
		pt: reachH - g.PT, pl: reachW - g.PL, pr: reachW - pr, hp: g.H + reachH, oh: g.H, ow: g.W}
	return fwd, bwd, true
}

// pad copies group gi of images [i0, i0+cnt) (cnt as set by chunk) into
// the padded planes p, side by side. Every element of the planes is
// written: all are cleared, then each image's channel goes in as one block
// of rows. (Clearing just the padding and gaps took two calls per image
// row, which cost more than clearing everything on small maps.)
func (r *rowsGeom) pad(x, p []float32, i0, gi int) { r.padChannels(x, p, i0, gi, 0, r.c) }

// padChannels is pad for channels [c0, c1) (the last range also clears
// the tail past the planes), so that workers can share the copy.
func (r *rowsGeom) padChannels(x, p []float32, i0, gi, c0, c1 int) {
	p = p[:r.padLen()]
	plane, per, hw := r.plane(), r.period(), r.h*r.w
	imgStride := r.groups * r.c * hw
	end := c1 * plane
	if c1 == r.c {
		end = len(p)
	}
	clear(p[c0*plane : end])
	for c := c0; c < c1; c++ {
		pc := p[c*plane+r.pt*r.wp+r.pl:]
		for j := 0; j < r.cnt; j++ {
			vec.CopyRows(pc[j*per:], r.wp, x[(i0+j)*imgStride+(gi*r.c+c)*hw:], r.w, r.w, r.h)
		}
	}
}

// rowOffsets writes where each of the K rows of the column matrix starts
// in the padded planes: row (c, ki, kj) is plane c shifted by the kernel
// offset. The GEMM reads them in place (gemm.RowsB), so the column matrix
// is never built. Rows come in (c, ki, kj) order, or with shiftMajor in
// (ki, kj, c) order, the order rowsWeightGrad multiplies in.
func (r *rowsGeom) rowOffsets(off []int, shiftMajor bool) []int {
	off = slices.Grow(off[:0], r.k())[:r.k()]
	plane := r.plane()
	for c := 0; c < r.c; c++ {
		for ki := 0; ki < r.kh; ki++ {
			for kj := 0; kj < r.kw; kj++ {
				row := (c*r.kh+ki)*r.kw + kj
				if shiftMajor {
					row = (ki*r.kw+kj)*r.c + c
				}
				off[row] = c*plane + ki*r.dh*r.wp + kj*r.dw
			}
		}
	}
	return off
}

// rowsChunk is how many images share one GEMM: enough for about
// convChunkCols columns.
func (r *rowsGeom) rowsChunk(perWorker int) int {
	cols := r.oh * r.period()
	return max(1, min((convChunkCols+cols-1)/cols, perWorker))
}

// rowsConv computes y (N × groups·m × oh × ow) = conv(x, w) for a stride-1
// geometry, adding into y when accumulate is set. w holds per group an
// m × k matrix. bias and res (a fused residual, y's shape) may be nil; the
// results go out through c.finish, so with c.act's fused activation
// (never set in a program that runs Backward, the accumulating caller).
func (c *convOp) rowsConv(threads int, n int, r *rowsGeom, x, w, bias, y, res []float32, accumulate bool) {
	outer, inner := splitThreads(n, threads)
	workers := parallel.Workers(n, outer)
	chunk := r.rowsChunk((n + outer - 1) / outer)
	full := r.chunk(chunk)
	k := r.k()
	bufs := c.buffers(workers, 0, r.m*full.l(), 0, full.padLen())
	coutImg := r.groups * r.m * r.oh * r.ow
	parallel.For(n, outer, func(lo, hi, worker int) {
		buf := &bufs[worker]
		for i0 := lo; i0 < hi; i0 += chunk {
			g := r.chunk(min(chunk, hi-i0))
			ld, per := g.l(), g.period()
			buf.off = g.rowOffsets(buf.off, false)
			cols := &gemm.RowsB{Data: buf.pad, RowOff: buf.off, Seg: ld}
			for gi := 0; gi < r.groups; gi++ {
				// With threads to spare (batch 1) they share the copies in
				// and out too, not just the GEMM.
				parallel.For(r.c, inner, func(c0, c1, _ int) {
					g.padChannels(x, buf.pad, i0, gi, c0, c1)
				})
				gemm.SgemmRowsB(false, r.m, ld, k, 1, w[gi*r.m*k:], k, cols, 0, buf.mat, ld, inner)
				// Out of the padded layout: one call per output plane for
				// the rows, one for bias and activation.
				ohw := r.oh * r.ow
				parallel.For(r.m, inner, func(o0, o1, _ int) {
					for j := 0; j < g.cnt; j++ {
						for o := o0; o < o1; o++ {
							src := buf.mat[o*ld+j*per:]
							at := (i0+j)*coutImg + (gi*r.m+o)*ohw
							dst := y[at:][:ohw]
							if accumulate {
								vec.AddRows(dst, r.ow, src, g.wp, r.ow, r.oh)
							} else {
								vec.CopyRows(dst, r.ow, src, g.wp, r.ow, r.oh)
							}
							var resp []float32
							if res != nil {
								resp = res[at:][:ohw]
							}
							c.finish(dst, dst, biasOf(bias, gi*r.m+o), resp)
						}
					}
				})
			}
		}
	})
}

// rowsWeightGrad adds dL/dW for a stride-1 convolution into dw, from the
// input x and output gradient dy.
//
// It computes dWᵀ = X·dYᵀ rather than dW = dY·Xᵀ, with the rows of X (the
// column matrix) ordered by kernel position, then channel: eight
// consecutive rows are then eight channel planes at one shift, evenly
// spaced, which the GEMM reads in place as its A operand (gemm.SgemmRowsA).
// Only dY, a few channels wide, is packed; the other order packs and
// transposes all K rows of X, which cost as much as the multiply. When the
// channels are not a whole number of panels (a network's first
// convolution has one) the panels would mix kernel positions and be
// gathered, so those take dW = dY·Xᵀ, whose X is only a few rows.
func (c *convOp) rowsWeightGrad(threads int, n int, r *rowsGeom, x, dy, dw []float32) {
	shiftMajor := r.c%gemm.PanelRows() == 0
	outer, inner := splitThreads(n, threads)
	workers := parallel.Workers(n, outer)
	chunk := r.rowsChunk((n + outer - 1) / outer)
	full := r.chunk(chunk)
	k := r.k()
	bufs := c.buffers(workers, 0, r.m*full.l(), len(dw), full.padLen())
	coutImg := r.groups * r.m * r.oh * r.ow
	parallel.For(n, outer, func(lo, hi, worker int) {
		buf := &bufs[worker]
		// Per group k × m with rows in (ki, kj, c) order (shiftMajor), or
		// m × k as dw.
		dwt := buf.dw[:len(dw)]
		clear(dwt)
		for i0 := lo; i0 < hi; i0 += chunk {
			g := r.chunk(min(chunk, hi-i0))
			ld, per := g.l(), g.period()
			buf.off = g.rowOffsets(buf.off, shiftMajor)
			cols := &gemm.RowsB{Data: buf.pad, RowOff: buf.off, Seg: ld}
			for gi := 0; gi < r.groups; gi++ {
				g.pad(x, buf.pad, i0, gi)
				// dY in the padded-row layout, junk columns zero.
				for o := 0; o < r.m; o++ {
					dst := buf.mat[o*ld : (o+1)*ld]
					clear(dst)
					for j := 0; j < g.cnt; j++ {
						src := dy[(i0+j)*coutImg+(gi*r.m+o)*r.oh*r.ow:]
						for oh := 0; oh < r.oh; oh++ {
							copy(dst[oh*g.wp+j*per:][:r.ow], src[oh*r.ow:][:r.ow])
						}
					}
				}
				if shiftMajor {
					// dWᵀ_g (k×m) += X' (k×ld) · dY'ᵀ (ld×m)
					gemm.SgemmRowsA(k, r.m, ld, 1, cols, true, buf.mat, ld, 1, dwt[gi*k*r.m:], r.m, inner)
				} else {
					// dW_g (m×k) += dY' (m×ld) · X'ᵀ (ld×k)
					gemm.SgemmRowsB(true, r.m, k, ld, 1, buf.mat, ld, cols, 1, dwt[gi*r.m*k:], k, inner)
				}
			}
		}
	})
	// Sum the workers' dW in worker order (results do not depend on
	// scheduling) into dw[g][o][c][ki][kj].
	kk := r.kh * r.kw
	for wk := 0; wk < workers; wk++ {
		dwt := bufs[wk].dw[:len(dw)]
		if !shiftMajor {
			for j, v := range dwt {
				dw[j] += v
			}
			continue
		}
		for gi := 0; gi < r.groups; gi++ {
			for s := 0; s < kk; s++ {
				for ch := 0; ch < r.c; ch++ {
					row := dwt[(gi*k+s*r.c+ch)*r.m:][:r.m]
					for o, v := range row {
						dw[((gi*r.m+o)*r.c+ch)*kk+s] += v
					}
				}
			}
		}
	}
}

// flipTransposed writes, per group, the kernel of the input-gradient
// convolution: wt[g][c][m][ki][kj] = w[g·mg+m][c][kh−1−ki][kw−1−kj].
func flipTransposed(w, wt []float32, groups, mg, cg, kh, kw int) {
	kk := kh * kw
	for gi := 0; gi < groups; gi++ {
		for m := 0; m < mg; m++ {
			for c := 0; c < cg; c++ {
				src := w[((gi*mg+m)*cg+c)*kk:][:kk]
				dst := wt[((gi*cg+c)*mg+m)*kk:][:kk]
				for t := 0; t < kk; t++ {
					dst[kk-1-t] = src[t]
				}
			}
		}
	}
}
