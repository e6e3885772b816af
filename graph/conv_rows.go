package graph

import (
	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
)

// Stride-1 convolutions run on "padded rows": each image is copied once
// into a zero-padded plane of width wp, and row (c, ki, kj) of the im2col
// matrix is then one contiguous slice of that plane, shifted by
// ki·dh·wp + kj·dw. The GEMM computes outputs for all wp columns of each
// output row; the (kw−1)·dw columns past the image edge are junk and are
// dropped when results are copied out. The GEMM packs its B operand
// straight from the padded images (gemm.RowsB: K row offsets, one segment
// per image), so the column matrix is never built: im2col costs one copy
// of the input instead of K·OH short ones (which made im2col and col2im
// cost as much as the GEMMs) or K long ones.
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
	pt, pl         int
	hp, wp         int // padded plane
	oh, ow         int
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
		pt: g.PT, pl: g.PL, hp: g.OH + reachH, wp: g.W + g.PL + pr, oh: g.OH, ow: g.OW}
	bwd = rowsGeom{c: mg, h: g.OH, w: g.OW, m: g.C, groups: c.group, kh: g.KH, kw: g.KW, dh: g.DH, dw: g.DW,
		pt: reachH - g.PT, pl: reachW - g.PL, hp: g.H + reachH, wp: g.OW + reachW + reachW - g.PL - pr, oh: g.H, ow: g.W}
	return fwd, bwd, true
}

// pad copies one image's group channels (C×H×W at x) into the padded plane.
// Only the border is cleared: the interior is overwritten.
func (r *rowsGeom) pad(x, p []float32) {
	p = p[:r.padLen()]
	plane := r.plane()
	right := r.wp - r.pl - r.w
	for c := 0; c < r.c; c++ {
		pc := p[c*plane : (c+1)*plane]
		clear(pc[:r.pt*r.wp+r.pl])
		for ih := 0; ih < r.h; ih++ {
			row := (ih+r.pt)*r.wp + r.pl
			copy(pc[row:row+r.w], x[(c*r.h+ih)*r.w:][:r.w])
			// right border of this row and left border of the next
			clear(pc[row+r.w : min(row+r.w+right+r.pl, plane)])
		}
		clear(pc[min((r.h+r.pt)*r.wp, plane):])
	}
	clear(p[r.c*plane:])
}

// rowOffsets writes where each of the K rows of the column matrix starts
// in a padded image: row (c, ki, kj) is the plane of channel c shifted by
// the kernel offset. The GEMM reads them in place (gemm.RowsB), so the
// column matrix is never built.
func (r *rowsGeom) rowOffsets(off []int) []int {
	off = off[:0]
	plane := r.plane()
	for c := 0; c < r.c; c++ {
		for ki := 0; ki < r.kh; ki++ {
			for kj := 0; kj < r.kw; kj++ {
				off = append(off, c*plane+ki*r.dh*r.wp+kj*r.dw)
			}
		}
	}
	return off
}

// padChunk pads group gi of images [i0, i0+cnt) into p, padLen apart: the
// B operand of the chunk's GEMM, images side by side (one RowsB segment
// each).
func (r *rowsGeom) padChunk(x, p []float32, i0, cnt, gi int) {
	cinImg := r.groups * r.c * r.h * r.w
	pl := r.padLen()
	for j := 0; j < cnt; j++ {
		r.pad(x[(i0+j)*cinImg+gi*r.c*r.h*r.w:], p[j*pl:])
	}
}

// rowsChunk is how many images share one GEMM.
func (r *rowsGeom) rowsChunk(perWorker int) int {
	return max(1, min((convChunkCols+r.l()-1)/r.l(), perWorker))
}

// rowsConv computes y (N × groups·m × oh × ow) = conv(x, w) for a stride-1
// geometry, adding into y when accumulate is set. w holds per group an
// m × k matrix. bias may be nil.
func (c *convOp) rowsConv(threads int, n int, r *rowsGeom, x, w, bias, y []float32, accumulate bool) {
	outer, inner := splitThreads(n, threads)
	workers := parallel.Workers(n, outer)
	chunk := r.rowsChunk((n + outer - 1) / outer)
	l, k := r.l(), r.k()
	bufs := c.buffers(workers, 0, r.m*chunk*l, 0, chunk*r.padLen())
	c.rowOff = r.rowOffsets(c.rowOff)
	coutImg := r.groups * r.m * r.oh * r.ow
	parallel.For(n, outer, func(lo, hi, worker int) {
		buf := bufs[worker]
		cols := &gemm.RowsB{Data: buf.pad, RowOff: c.rowOff, Seg: l, SegStride: r.padLen()}
		for i0 := lo; i0 < hi; i0 += chunk {
			cnt := min(chunk, hi-i0)
			ld := cnt * l
			for gi := 0; gi < r.groups; gi++ {
				r.padChunk(x, buf.pad, i0, cnt, gi)
				// With a bias, the GEMM adds onto rows filled with it.
				var beta float32
				if bias != nil {
					for o := 0; o < r.m; o++ {
						vec.Fill(buf.mat[o*ld:(o+1)*ld], bias[gi*r.m+o])
					}
					beta = 1
				}
				gemm.SgemmRowsB(false, r.m, ld, k, 1, w[gi*r.m*k:], k, cols, beta, buf.mat, ld, inner)
				for j := 0; j < cnt; j++ {
					for o := 0; o < r.m; o++ {
						src := buf.mat[o*ld+j*l:]
						dst := y[(i0+j)*coutImg+(gi*r.m+o)*r.oh*r.ow:]
						for oh := 0; oh < r.oh; oh++ {
							s, d := src[oh*r.wp:][:r.ow], dst[oh*r.ow:][:r.ow]
							if accumulate {
								vec.Axpy(d, 1, s)
							} else {
								copy(d, s)
							}
						}
					}
				}
			}
		}
	})
}

// rowsWeightGrad adds dL/dW for a stride-1 convolution into dw, from the
// input x and output gradient dy.
func (c *convOp) rowsWeightGrad(threads int, n int, r *rowsGeom, x, dy, dw []float32) {
	outer, inner := splitThreads(n, threads)
	workers := parallel.Workers(n, outer)
	chunk := r.rowsChunk((n + outer - 1) / outer)
	l, k := r.l(), r.k()
	bufs := c.buffers(workers, 0, r.m*chunk*l, len(dw), chunk*r.padLen())
	c.rowOff = r.rowOffsets(c.rowOff)
	coutImg := r.groups * r.m * r.oh * r.ow
	parallel.For(n, outer, func(lo, hi, worker int) {
		buf := bufs[worker]
		cols := &gemm.RowsB{Data: buf.pad, RowOff: c.rowOff, Seg: l, SegStride: r.padLen()}
		dwp := buf.dw[:len(dw)]
		clear(dwp)
		for i0 := lo; i0 < hi; i0 += chunk {
			cnt := min(chunk, hi-i0)
			ld := cnt * l
			for gi := 0; gi < r.groups; gi++ {
				r.padChunk(x, buf.pad, i0, cnt, gi)
				for j := 0; j < cnt; j++ {
					// dY in the padded-row layout, junk columns zero.
					for o := 0; o < r.m; o++ {
						src := dy[(i0+j)*coutImg+(gi*r.m+o)*r.oh*r.ow:]
						dst := buf.mat[o*ld+j*l:][:l]
						for oh := 0; oh < r.oh; oh++ {
							copy(dst[oh*r.wp:][:r.ow], src[oh*r.ow:][:r.ow])
							clear(dst[oh*r.wp+r.ow : (oh+1)*r.wp])
						}
					}
				}
				// dW_g (m×k) += dY' (m×ld) · colᵀ (ld×k)
				gemm.SgemmRowsB(true, r.m, k, ld, 1, buf.mat, ld, cols, 1, dwp[gi*r.m*k:], k, inner)
			}
		}
	})
	for wk := 0; wk < workers; wk++ {
		for j, v := range bufs[wk].dw[:len(dw)] {
			dw[j] += v
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
