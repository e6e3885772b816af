// Package kernels holds the convolution and pooling loops that sit next to
// GEMM (internal/gemm): im2col/col2im and direct depthwise convolution.
// They take plain slices and geometry so the graph ops stay short, and they
// are checked against naive references in this package's tests.
package kernels

import "github.com/shearsml/shears/internal/vec"

// Geom is a 2-D convolution window over one image's channels.
type Geom struct {
	C, H, W int // input channels (of one group), height, width
	KH, KW  int
	SH, SW  int
	DH, DW  int
	PT, PL  int
	OH, OW  int
}

// K is the im2col row count C·KH·KW.
func (g *Geom) K() int { return g.C * g.KH * g.KW }

// Im2col writes col (K × OH·OW, row-major with row stride ld ≥ OH·OW)
// from x (C × H × W). A stride larger than OH·OW lets several images'
// columns sit side by side in one matrix, so one GEMM covers them all.
func Im2col(g *Geom, x, col []float32, ld int) { Im2colRows(g, x, col, ld, 0, g.K()) }

// Im2colRows is Im2col for rows [r0, r1) of col only, so that several
// workers can build one matrix (batch-1 inference).
func Im2colRows(g *Geom, x, col []float32, ld, r0, r1 int) {
	ohw := g.OH * g.OW
	row := 0
	for c := 0; c < g.C; c++ {
		xc := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				if row < r0 || row >= r1 {
					row++
					continue
				}
				dst := col[row*ld : row*ld+ohw]
				row++
				// Output columns whose input column is inside the image:
				// iw = ow*SW - PL + kj*DW ∈ [0, W).
				off := kj*g.DW - g.PL
				owLo, owHi := validRange(off, g.SW, g.W, g.OW)
				if (g.SW == 1 || g.SW == 2) && owLo < owHi {
					// Rows with ih = oh·SH − PT + ki·DH inside the image are
					// copied (stride 2: gathered) in one call; the rest, and
					// the columns outside [owLo, owHi), are cleared.
					base := ki*g.DH - g.PT
					ohLo, ohHi := validRange(base, g.SH, g.H, g.OH)
					clear(dst[:ohLo*g.OW])
					clear(dst[ohHi*g.OW:])
					if ohLo < ohHi {
						if owLo > 0 || owHi < g.OW {
							// a column or two of padding: stores, not
							// two calls into memclr per row
							for oh := ohLo; oh < ohHi; oh++ {
								d := dst[oh*g.OW : (oh+1)*g.OW]
								for i := 0; i < owLo; i++ {
									d[i] = 0
								}
								for i := owHi; i < len(d); i++ {
									d[i] = 0
								}
							}
						}
						d, src := dst[ohLo*g.OW+owLo:], xc[(ohLo*g.SH+base)*g.W+owLo*g.SW+off:]
						if g.SW == 1 {
							vec.CopyRows(d, g.OW, src, g.SH*g.W, owHi-owLo, ohHi-ohLo)
						} else {
							vec.GatherRows2(d, g.OW, src, g.SH*g.W, owHi-owLo, ohHi-ohLo)
						}
					}
					continue
				}
				for oh := 0; oh < g.OH; oh++ {
					ih := oh*g.SH - g.PT + ki*g.DH
					d := dst[oh*g.OW : (oh+1)*g.OW]
					if ih < 0 || ih >= g.H {
						clear(d)
						continue
					}
					if owLo == owHi {
						clear(d)
						continue
					}
					// Small maps have short rows: skip the calls
					// into memclr where they would clear nothing.
					if owLo > 0 {
						clear(d[:owLo])
					}
					if owHi < g.OW {
						clear(d[owHi:])
					}
					src := xc[ih*g.W+owLo*g.SW+off:]
					d = d[owLo:owHi]
					switch {
					case g.SW == 1:
						copy(d, src)
					default:
						for i := range d {
							d[i] = src[i*g.SW]
						}
					}
				}
			}
		}
	}
}

// Col2im adds col (K × OH·OW, row stride ld) back into x (C × H × W):
// the adjoint of Im2col, used for input gradients.
func Col2im(g *Geom, col, x []float32, ld int) {
	ohw := g.OH * g.OW
	row := 0
	for c := 0; c < g.C; c++ {
		xc := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				src := col[row*ld : row*ld+ohw]
				row++
				off := kj*g.DW - g.PL
				owLo, owHi := validRange(off, g.SW, g.W, g.OW)
				if owLo >= owHi {
					continue
				}
				if g.SW == 1 {
					base := ki*g.DH - g.PT
					ohLo, ohHi := validRange(base, g.SH, g.H, g.OH)
					if ohLo < ohHi {
						vec.AddRows(xc[(ohLo*g.SH+base)*g.W+owLo+off:], g.SH*g.W, src[ohLo*g.OW+owLo:], g.OW, owHi-owLo, ohHi-ohLo)
					}
					continue
				}
				for oh := 0; oh < g.OH; oh++ {
					ih := oh*g.SH - g.PT + ki*g.DH
					if ih < 0 || ih >= g.H {
						continue
					}
					s := src[oh*g.OW : (oh+1)*g.OW]
					dst := xc[ih*g.W:]
					for ow := owLo; ow < owHi; ow++ {
						dst[ow*g.SW+off] += s[ow]
					}
				}
			}
		}
	}
}

// validRange returns [lo, hi) of output columns ow with 0 ≤ ow*s+off < w;
// lo == hi when there are none (callers must not index with off then).
func validRange(off, s, w, ow int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	hi = 0
	if w-off > 0 {
		hi = (w - off + s - 1) / s
	}
	hi = min(hi, ow)
	lo = min(lo, hi)
	return lo, hi
}
