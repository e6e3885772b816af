package blocked

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/internal/cpu"
	"github.com/shearsml/shears/internal/parallel"
)

// kernelArgs is what a micro-kernel reads. The field order and sizes are
// fixed by internal/asmgen (byte offsets 0, 8, ..., 136). The kernel
// advances in, out and res as it goes from row to row.
type kernelArgs struct {
	in, w, out, res, bias *float32
	icb, kh, kw           int
	inPlane, inRow        int // bytes between input channel blocks, between kernel rows
	kwStep                int // bytes between kernel columns
	outBlk, resBlk        int // bytes between the two output (residual) channel blocks
	lo, hi                float32
	rows                  int // output rows to compute (≥ 1)
	inRowStep, outRowStep int // bytes between output rows' inputs, between output rows
	resRowStep            int // the residual's (0 without one)
}

// Kernel tile widths (outputs per call), as generated.
const (
	convTile = 14
	dwTile   = 28
)

// Available reports whether the assembly kernels run on this machine.
func Available() bool { return cpu.AVX512 && len(convKernels[0][0]) > 0 }

// mustBlocked panics on a planar layout where only blocked ones do.
func mustBlocked(what string, ls ...Layout) {
	for _, l := range ls {
		if l.Planar {
			panic("blocked: " + what + " on a planar layout")
		}
	}
}

// useAsm is Available, switchable by tests to check the portable path.
var useAsm = Available()

// Geom is a 2-D convolution's window: kernel size, stride, dilation and
// top/left padding (the bottom/right padding follows from the layouts).
type Geom struct {
	KH, KW, SH, SW, DH, DW, PT, PL int
}

// Conv is a dense or grouped convolution with its weights packed for the
// kernels: each group's output channel blocks in pairs, each pair's
// weights ordered [input block][kernel row][kernel column][input
// channel][2×16 outputs]. Its input is blocked or, for a Conv made with
// planar set (one group only), planar (one input channel per block); its
// output is blocked. A grouped convolution needs whole blocks per group,
// in and out: a group then reads its own run of input blocks and writes
// its own run of output blocks.
type Conv struct {
	C, M, Groups int
	Geom
	planar bool
	w      []float32
	bias   []float32 // M rounded up to blocks, zero-padded
}

// GroupsFit reports whether a grouped convolution of c input and m output
// channels in groups groups can run here (whole blocks per group).
func GroupsFit(c, m, groups int) bool {
	return groups == 1 || c%groups == 0 && m%groups == 0 && (c/groups)%Block == 0 && (m/groups)%Block == 0
}

// NewConv packs an M×(C/groups)×KH×KW weight tensor (OIHW) and an optional
// bias of M for an input in a blocked or (planar, one group) a planar
// layout. It panics unless GroupsFit.
func NewConv(weight []float32, m, c, groups int, g Geom, bias []float32, planar bool) *Conv {
	if !GroupsFit(c, m, groups) || planar && groups != 1 {
		panic(fmt.Sprintf("blocked: %d groups of %d→%d channels (planar %v) do not fit", groups, c, m, planar))
	}
	cv := &Conv{C: c, M: m, Groups: groups, Geom: g, planar: planar}
	lanes := Block
	if planar {
		lanes = 1
	}
	cg, mg := c/groups, m/groups
	cb, mb := (cg+lanes-1)/lanes, (mg+Block-1)/Block // per group
	cv.bias = make([]float32, (m+Block-1)/Block*Block)
	copy(cv.bias, bias)
	pairLen := cb * g.KH * g.KW * lanes * 2 * Block
	pairs := (mb + 1) / 2
	cv.w = make([]float32, groups*pairs*pairLen)
	for gi := range groups {
		for p := range pairs {
			blocks := min(2, mb-2*p)
			pw := cv.w[(gi*pairs+p)*pairLen:]
			for icb := range cb {
				for kh := range g.KH {
					for kw := range g.KW {
						for ic := range lanes {
							i := icb*lanes + ic // in the group
							if i >= cg {
								continue
							}
							base := (((icb*g.KH+kh)*g.KW+kw)*lanes + ic) * blocks * Block
							for b := range blocks {
								for oc := range Block {
									o := (2*p+b)*Block + oc // in the group
									if o < mg {
										pw[base+b*Block+oc] = weight[(((gi*mg+o)*cg+i)*g.KH+kh)*g.KW+kw]
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return cv
}

// Border returns the zero border an input of h×w pixels needs for an
// output of oh×ow: the widest padding the windows reach into, top, left,
// bottom or right (0 when none reaches past the input).
func (g *Geom) Border(h, w, oh, ow int) int {
	pb := (oh-1)*g.SH + (g.KH-1)*g.DH - g.PT - (h - 1)
	pr := (ow-1)*g.SW + (g.KW-1)*g.DW - g.PL - (w - 1)
	return max(g.PT, g.PL, pb, pr, 0)
}

// check panics when the layouts do not fit the convolution: a caller bug.
func (g *Geom) check(what string, c, m int, il, ol Layout) {
	if il.C != c || ol.C != m || il.N != ol.N || g.Border(il.H, il.W, ol.H, ol.W) > il.Border || g.PT < 0 || g.PL < 0 {
		panic(fmt.Sprintf("blocked: %s %+v: input %+v, output %+v do not fit", what, *g, il, ol))
	}
}

// tiles splits n outputs into calls of at most max, evenly.
func tiles(n, max int) (count, size int) {
	count = (n + max - 1) / max
	return count, (n + count - 1) / count
}

// Run computes out = clamp(conv(in) + bias + res, lo, hi) over out's
// interior; res (nil for none) has layout rl. The input's border must be
// at least the padding.
func (cv *Conv) Run(in []float32, il Layout, out []float32, ol Layout, res []float32, rl Layout, lo, hi float32, threads int) {
	cv.check("conv", cv.C, cv.M, il, ol)
	mustBlocked("conv output", ol, rl)
	if il.Planar != cv.planar {
		panic("blocked: conv input layout is not the one its weights were packed for")
	}
	lanes := il.Lanes()
	cb := il.Blocks() / cv.Groups // input blocks per group
	mb := ol.Blocks() / cv.Groups // output blocks per group
	pairs := (mb + 1) / 2         // per group
	pairLen := cb * cv.KH * cv.KW * lanes * 2 * Block
	macs := ol.N * ol.H * ol.W * ol.Blocks() * Block * cb * lanes * cv.KH * cv.KW
	threads = workFor(ol.N*ol.H*pairs*cv.Groups, macs/8, threads)
	gr := newGrid(ol, pairs*cv.Groups, convTile, threads)
	asm := useAsm && cv.SW <= 2
	kernels := &convKernels
	if cv.planar {
		kernels = &convPKernels
	}
	parallel.For(gr.items(), threads, func(i0, i1, _ int) {
		var a kernelArgs
		a.icb, a.kh, a.kw = cb, cv.KH, cv.KW
		a.inPlane, a.inRow, a.kwStep = 4*il.Plane(), 4*il.Row()*cv.DH, 4*lanes*cv.DW
		a.outBlk, a.resBlk = 4*ol.Plane(), 4*rl.Plane()
		a.lo, a.hi = lo, hi
		a.inRowStep, a.outRowStep = 4*il.Row()*cv.SH, 4*ol.Row()
		for it := i0; it < i1; it++ {
			n, oh, rows, gp, ow0, cnt := gr.at(it)
			gi, p := gp/pairs, gp%pairs
			blocks := min(2, mb-2*p)
			ob := gi*mb + 2*p // first output block
			inBase := il.At(n, gi*cb, oh*cv.SH-cv.PT, -cv.PL) + ow0*cv.SW*lanes
			outBase := ol.At(n, ob, oh, ow0)
			resBase := -1
			if res != nil {
				resBase = rl.At(n, ob, oh, ow0)
			}
			w := cv.w[gp*pairLen:]
			if !asm {
				for r := range rows {
					convTileGo(in, inBase+r*il.Row()*cv.SH, w, cv.bias[ob*Block:], out, outBase+r*ol.Row(), res, resBase+r*rl.Row(), cnt, blocks, cv.SW, lanes, &a)
				}
				continue
			}
			a.in, a.w, a.bias = &in[inBase], &w[0], &cv.bias[ob*Block]
			a.out, a.res, a.resRowStep = &out[outBase], nil, 0
			if res != nil {
				a.res, a.resRowStep = &res[resBase], 4*rl.Row()
			}
			a.rows = rows
			kernels[cv.SW-1][blocks-1][cnt](&a)
		}
	})
}

// grid splits a layer's output into kernel calls: images × bands of rows ×
// channel groups (pairs of output blocks, or blocks) × tiles of a row.
type grid struct {
	n, oh, ow        int
	bands, rowsPer   int
	groups           int
	tiles, tileWidth int
}

// callOutputs is how many outputs a kernel call should compute at least,
// rows permitting, so that small maps (7×7) do not pay a call, a prologue
// and an epilogue per row of 7.
const callOutputs = 64

func newGrid(ol Layout, groups, maxTile, threads int) grid {
	g := grid{n: ol.N, oh: ol.H, ow: ol.W, groups: groups}
	g.tiles, g.tileWidth = tiles(ol.W, maxTile)
	// The most rows per call whose calls share evenly among the threads
	// (parallel.For gives each a contiguous run of calls), else the most
	// even split.
	var best grid
	bestSkew := math.Inf(1)
	for per := min(ol.H, max(1, callOutputs/g.tileWidth)); per >= 1; per-- {
		g.rowsPer, g.bands = per, (ol.H+per-1)/per
		if threads <= 1 || g.items() >= 16*threads {
			return g
		}
		if skew := g.skew(threads); skew < bestSkew-1e-9 {
			best, bestSkew = g, skew
		}
		if bestSkew <= 1.05 {
			break
		}
	}
	return best
}

// skew is the busiest thread's rows over the mean, when parallel.For
// splits the calls among threads.
func (g *grid) skew(threads int) float64 {
	items := g.items()
	chunk := (items + threads - 1) / threads
	total, worst := 0, 0
	for lo := 0; lo < items; lo += chunk {
		rows := 0
		for it := lo; it < min(lo+chunk, items); it++ {
			_, _, r, _, _, cols := g.at(it)
			rows += r * cols
		}
		total += rows
		worst = max(worst, rows)
	}
	return float64(worst) * float64(threads) / float64(total)
}

func (g *grid) items() int { return g.n * g.bands * g.groups * g.tiles }

// at returns item it's image, first row, row count, channel group, first
// column and column count.
func (g *grid) at(it int) (n, oh, rows, group, ow, cols int) {
	t := it % g.tiles
	it /= g.tiles
	group = it % g.groups
	it /= g.groups
	// Bands differ by at most a row (14 rows in 4 bands: 3, 4, 3, 4).
	n, b := it/g.bands, it%g.bands
	oh = b * g.oh / g.bands
	ow = t * g.tileWidth
	return n, oh, (b+1)*g.oh/g.bands - oh, group, ow, min(g.tileWidth, g.ow-ow)
}

// convTileGo is the portable kernel: the same computation as the assembly
// with float offsets in place of pointers.
func convTileGo(in []float32, inOff int, w, bias []float32, out []float32, outOff int, res []float32, resOff int, n, blocks, stride, lanes int, a *kernelArgs) {
	var acc [convTile][2][Block]float32
	for j := range n {
		for b := range blocks {
			copy(acc[j][b][:], bias[b*Block:])
		}
	}
	wi := 0
	for icb := range a.icb {
		for kh := range a.kh {
			for kw := range a.kw {
				pix := inOff + (icb*a.inPlane+kh*a.inRow+kw*a.kwStep)/4
				for ic := range lanes {
					for b := range blocks {
						wv := w[wi+(ic*blocks+b)*Block:][:Block]
						for j := range n {
							x := in[pix+j*stride*lanes+ic]
							for o, wo := range wv {
								acc[j][b][o] += x * wo
							}
						}
					}
				}
				wi += lanes * blocks * Block
			}
		}
	}
	storeTile(acc[:n], blocks, out, outOff, a.outBlk/4, res, resOff, a.resBlk/4, a.lo, a.hi)
}

func storeTile(acc [][2][Block]float32, blocks int, out []float32, outOff, outBlk int, res []float32, resOff, resBlk int, lo, hi float32) {
	for j := range acc {
		for b := range blocks {
			o := out[outOff+b*outBlk+j*Block:][:Block]
			for i := range o {
				v := acc[j][b][i]
				if res != nil {
					v += res[resOff+b*resBlk+j*Block+i]
				}
				o[i] = min(max(v, lo), hi)
			}
		}
	}
}

// Depthwise is a depthwise convolution (groups = channels, one filter per
// channel), weights packed [block][kernel row][kernel column][16].
type Depthwise struct {
	C int
	Geom
	w    []float32
	bias []float32
}

// NewDepthwise packs a C×1×KH×KW weight tensor and an optional bias of C.
func NewDepthwise(weight []float32, c int, g Geom, bias []float32) *Depthwise {
	cb := (c + Block - 1) / Block
	d := &Depthwise{C: c, Geom: g, w: make([]float32, cb*g.KH*g.KW*Block), bias: make([]float32, cb*Block)}
	copy(d.bias, bias)
	for ch := range c {
		for k := range g.KH * g.KW {
			d.w[(ch/Block*g.KH*g.KW+k)*Block+ch%Block] = weight[ch*g.KH*g.KW+k]
		}
	}
	return d
}

// Run computes out = clamp(depthwise(in) + bias + res, lo, hi) over out's
// interior, like Conv.Run.
func (d *Depthwise) Run(in []float32, il Layout, out []float32, ol Layout, res []float32, rl Layout, lo, hi float32, threads int) {
	d.check("depthwise convolution", d.C, d.C, il, ol)
	mustBlocked("depthwise convolution", il, ol, rl)
	asm := useAsm && d.SW <= 2
	d.forBlockCalls(il, ol, lo, hi, threads, func(a *kernelArgs, n, c, oh, rows, ow0, cnt, inBase, outBase int) {
		resBase := -1
		if res != nil {
			resBase = rl.At(n, c, oh, ow0)
		}
		w := d.w[c*d.KH*d.KW*Block:]
		if !asm {
			for r := range rows {
				dwTileGo(in, inBase+r*il.Row()*d.SH, w, d.bias[c*Block:], out, outBase+r*ol.Row(), res, resBase+r*rl.Row(), cnt, d.SW, a)
			}
			return
		}
		a.in, a.w, a.bias = &in[inBase], &w[0], &d.bias[c*Block]
		a.out, a.res, a.resRowStep = &out[outBase], nil, 0
		if res != nil {
			a.res, a.resRowStep = &res[resBase], 4*rl.Row()
		}
		a.rows = rows
		dwKernels[d.SW-1][0][cnt](a)
	})
}

// forBlockCalls splits a per-block window op (depthwise convolution, max
// pool) into kernel calls over out's interior and runs call for each, on up
// to threads workers: its worker's kernel arguments (window, strides and
// lo, hi set), its image, channel block, first row, rows, first column and
// columns, and the offsets of its first input and output pixels.
func (g *Geom) forBlockCalls(il, ol Layout, lo, hi float32, threads int, call func(a *kernelArgs, n, c, oh, rows, ow0, cnt, inBase, outBase int)) {
	cb := il.Blocks()
	threads = workFor(ol.N*cb*ol.H, ol.N*cb*Block*ol.H*ol.W*g.KH*g.KW, threads)
	gr := newGrid(ol, cb, dwTile, threads)
	parallel.For(gr.items(), threads, func(i0, i1, _ int) {
		a := &kernelArgs{kh: g.KH, kw: g.KW, inRow: 4 * il.Row() * g.DH, kwStep: 4 * Block * g.DW, lo: lo, hi: hi,
			inRowStep: 4 * il.Row() * g.SH, outRowStep: 4 * ol.Row()}
		for it := i0; it < i1; it++ {
			n, oh, rows, c, ow0, cnt := gr.at(it)
			call(a, n, c, oh, rows, ow0, cnt, il.At(n, c, oh*g.SH-g.PT, -g.PL)+ow0*g.SW*Block, ol.At(n, c, oh, ow0))
		}
	})
}

func dwTileGo(in []float32, inOff int, w, bias []float32, out []float32, outOff int, res []float32, resOff int, n, stride int, a *kernelArgs) {
	acc := make([][2][Block]float32, n)
	for j := range acc {
		copy(acc[j][0][:], bias[:Block])
	}
	wi := 0
	for kh := range a.kh {
		for kw := range a.kw {
			pix := inOff + (kh*a.inRow+kw*a.kwStep)/4
			wv := w[wi : wi+Block]
			for j := range acc {
				x := in[pix+j*stride*Block:][:Block]
				for c := range wv {
					acc[j][0][c] += x[c] * wv[c]
				}
			}
			wi += Block
		}
	}
	storeTile(acc, 1, out, outOff, 0, res, resOff, 0, a.lo, a.hi)
}

// MaxPool is a max pool. Windows that reach into the border see zeros, not
// ONNX's −∞ padding: callers use it where that is the same, on inputs that
// are ≥ 0 (the output of a ReLU; every window holds a real pixel, so its
// maximum is ≥ 0) or with no window past the input.
type MaxPool struct {
	C int
	Geom
}

// Run writes the pooled in to out's interior (blocked layouts).
func (mp *MaxPool) Run(in []float32, il Layout, out []float32, ol Layout, threads int) {
	mp.check("max pool", mp.C, mp.C, il, ol)
	mustBlocked("max pool", il, ol)
	asm := useAsm && mp.SW <= 2
	inf := float32(math.Inf(1))
	mp.forBlockCalls(il, ol, -inf, inf, threads, func(a *kernelArgs, _, _, _, rows, _, cnt, inBase, outBase int) {
		if asm {
			a.in, a.out, a.rows = &in[inBase], &out[outBase], rows
			maxKernels[mp.SW-1][0][cnt](a)
			return
		}
		for r := range rows {
			for j := range cnt {
				o := out[outBase+r*ol.Row()+j*Block:][:Block]
				for i := range o {
					o[i] = -inf
				}
				for kh := range mp.KH {
					for kw := range mp.KW {
						x := in[inBase+(r*mp.SH+kh*mp.DH)*il.Row()+(j*mp.SW+kw*mp.DW)*Block:][:Block]
						for i := range o {
							o[i] = max(o[i], x[i])
						}
					}
				}
			}
		}
	})
}
