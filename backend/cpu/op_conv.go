package cpu

import (
	"math"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/kernels"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

// convOp is ONNX Conv (1-D and 2-D, any group count, dilations, pads,
// auto_pad). Dense and grouped convolutions run as im2col + GEMM per image
// and group; depthwise convolutions (one input and one output channel per
// group) run a direct kernel. Work is split over images when the batch is
// large enough and inside GEMM otherwise, so training and batch-1 inference
// both use every core.
type convOp struct {
	win   graph.Window
	group int
	geom  kernels.Geom
	n, m  int                // batch, output channels
	cin   int                // input channels (all groups)
	bufs  []convBuf          // scratch, one per worker
	wt    []float32          // flipped, transposed kernel for input gradients
	dw    *kernels.Depthwise // depthwise plan for geom, when depthwise
	// act, set by CompileInference, clamps the output to [lo, hi] as it is
	// written (a fused Relu or Clip that follows).
	act *clampBounds
	// residual, set by CompileInference, adds a fourth input (of the
	// output's shape) to the output before act: a fused residual Add.
	residual bool
}

// clampBounds is a fused activation: y = min(max(y, lo), hi).
type clampBounds struct{ lo, hi float32 }

// clampInPlace applies a fused activation to d (nothing when act is nil).
func (a *clampBounds) clampInPlace(d []float32) {
	if a != nil {
		vec.Clamp(d, d, a.lo, a.hi)
	}
}

// bounds returns the clamp's bounds, ±Inf without a fused activation.
func (a *clampBounds) bounds() (lo, hi float32) {
	if a == nil {
		return float32(math.Inf(-1)), float32(math.Inf(1))
	}
	return a.lo, a.hi
}

// fuseAct takes a following activation into the convolution.
func (c *convOp) fuseAct(a *clampBounds) bool {
	if c.act != nil {
		return false
	}
	c.act = a
	return true
}

// out writes a GEMM result s to d plus a bias, through the fused
// activation, in one pass (d may be s). The GEMMs write their products
// alone: filling the output with the bias first and adding onto it cost a
// pass of its own.
func (a *clampBounds) out(d, s []float32, bias float32) {
	switch {
	case a != nil:
		vec.AddClamp(d, s, bias, a.lo, a.hi)
	case bias != 0:
		vec.ScaleShift(d, 1, s, bias) // 1·s + bias rounds as s + bias
	case len(d) > 0 && &d[0] != &s[0]:
		copy(d, s)
	}
}

// finish writes a GEMM result s to d plus a bias and, with a fused
// residual Add, plus res (of d's length), through the fused activation.
// The additions run in the order of the unfused ops (conv bias, then Add),
// so results are bit-identical to theirs.
func (c *convOp) finish(d, s []float32, bias float32, res []float32) {
	if res == nil {
		c.act.out(d, s, bias)
		return
	}
	lo, hi := c.act.bounds()
	vec.AddBiasResidualClamp(d, s, bias, res, lo, hi)
}

// epilogue returns the bias (rows [r0, r0+rows) of b), residual (laid out
// as the GEMM's output) and fused activation for a GEMM that writes the
// output directly, or nil when there are none.
func (c *convOp) epilogue(b []float32, r0, rows int, res []float32) *gemm.Epilogue {
	if b == nil && c.act == nil && res == nil {
		return nil
	}
	e := &gemm.Epilogue{Res: res}
	e.Lo, e.Hi = c.act.bounds()
	if b != nil {
		e.Bias = b[r0 : r0+rows]
	}
	return e
}

// biasOf returns b[i], or 0 without a bias.
func biasOf(b []float32, i int) float32 {
	if b == nil {
		return 0
	}
	return b[i]
}

func init() {
	RegisterKernel("Conv", newConv)
}

func newConv(n *graph.Node) (Op, error) {
	a, err := graph.ParseConv(n)
	if err != nil {
		return nil, err
	}
	return &convOp{win: a.Win, group: a.Group}, nil
}

func (c *convOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if c.residual {
		if err := graph.WantInputs(in, 4, 4); err != nil {
			return nil, err
		}
		out, err := c.infer(in[:3])
		if err == nil && !slices.Equal(in[3], out[0]) {
			err = graph.ShapeErr("fused residual %v differs from the output %v", in[3], out[0])
		}
		return out, err
	}
	return c.infer(in)
}

// infer is convAttrs.shape, then the plan for the shapes: the geometry
// the kernels read and, for a depthwise convolution, its direct kernel.
func (c *convOp) infer(in [][]int) ([][]int, error) {
	r, err := graph.ConvAttrs{Win: c.win, Group: c.group}.Shape(in)
	if err != nil {
		return nil, err
	}
	win, oh, ow := r.Win, r.Oh, r.Ow
	c.win = win
	c.n, c.m, c.cin = r.N, r.M, r.C
	c.geom = kernels.Geom{C: r.C / c.group, H: r.H, W: r.W, KH: win.Kh, KW: win.Kw, SH: win.Sh, SW: win.Sw,
		DH: win.Dh, DW: win.Dw, PT: win.Pt, PL: win.Pl, OH: oh, OW: ow}
	if c.depthwise() {
		// A new plan only when it changes: workers' scratch is per plan.
		d := kernels.NewDepthwise(&c.geom, r.N)
		if c.dw == nil || c.dw.Geom() != d.Geom() || c.dw.Images() != d.Images() {
			c.dw = d
		}
	}
	return [][]int{r.Out}, nil
}

func (c *convOp) depthwise() bool { return c.geom.C == 1 && c.m == c.group }

// pointwise convs read the input directly as the im2col matrix.
func (c *convOp) pointwise() bool {
	g := &c.geom
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 && g.OH == g.H && g.OW == g.W
}

// convChunkCols is the GEMM width (images × output pixels) that a chunk
// of images aims for: small feature maps (7×7) are batched so that GEMMs
// are wide enough to run near peak, large ones (28×28) go one image at a
// time without extra copies.
var convChunkCols = 512

// useRows enables the padded-rows path for stride-1 convolutions (tests
// turn it off to check the im2col path against it).
var useRows = true

// plan decides how to use threads (over images, or inside GEMM when the
// batch is smaller than the thread count) and how many images share one
// GEMM.
func (c *convOp) plan(threads int) (outer, inner, chunk int) {
	outer, inner = splitThreads(c.n, threads)
	ohw := c.geom.OH * c.geom.OW
	perWorker := (c.n + outer - 1) / outer
	chunk = max(1, min((convChunkCols+ohw-1)/ohw, perWorker))
	return outer, inner, chunk
}

// splitThreads puts threads over images when there are enough of them,
// else inside GEMM (batch-1 inference).
func splitThreads(n, threads int) (outer, inner int) {
	if n < threads {
		return 1, threads
	}
	return threads, 1
}

// convBuf is one worker's scratch space.
type convBuf struct {
	col []float32 // K × chunk·OHW
	mat []float32 // M/group × chunk·OHW: output or output gradient
	dw  []float32 // the worker's weight gradient
	pad []float32 // padded images (stride-1 convolutions)
	off []int     // where the column matrix's rows start in pad
	dws *kernels.DepthwiseScratch
}

func (c *convOp) buffers(workers, colLen, matLen, dwLen, padLen int) []convBuf {
	for len(c.bufs) < workers {
		c.bufs = append(c.bufs, convBuf{})
	}
	grow := func(b []float32, n int) []float32 {
		if len(b) < n {
			return make([]float32, n)
		}
		return b
	}
	for w := 0; w < workers; w++ {
		b := &c.bufs[w]
		b.col, b.mat, b.dw, b.pad = grow(b.col, colLen), grow(b.mat, matLen), grow(b.dw, dwLen), grow(b.pad, padLen)
	}
	return c.bufs
}

// gatherCols builds the im2col matrix of group gi for images [i0, i0+cnt)
// side by side (row stride ld). Pointwise convs copy the input rows.
func (c *convOp) gatherCols(x, col []float32, i0, cnt, gi, ld int) {
	g := &c.geom
	hw, ohw := g.H*g.W, g.OH*g.OW
	for j := 0; j < cnt; j++ {
		xg := x[((i0+j)*c.cin+gi*g.C)*hw:]
		if c.pointwise() {
			for r := 0; r < g.C; r++ {
				copy(col[r*ld+j*ohw:r*ld+(j+1)*ohw], xg[r*hw:(r+1)*hw])
			}
			continue
		}
		kernels.Im2col(g, xg[:g.C*hw], col[j*ohw:], ld)
	}
}

func (c *convOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, w, y := in[0].Data, in[1].Data, out[0].Data
	var b, res []float32
	if len(in) > 2 && in[2] != nil {
		b = in[2].Data
	}
	if c.residual {
		res = in[3].Data
	}
	if c.depthwise() {
		c.depthwiseForward(ctx.Threads, x, w, b, y)
		return nil
	}
	if fwd, _, ok := c.rowsGeoms(); ok && useRows && !c.pointwise() {
		c.rowsConv(ctx.Threads, c.n, &fwd, x, w, b, y, res, false)
		return nil
	}
	g := &c.geom
	hw, ohw := g.H*g.W, g.OH*g.OW
	mg, k := c.m/c.group, g.K()
	outer, inner, chunk := c.plan(ctx.Threads)
	workers := parallel.Workers(c.n, outer)
	direct := chunk == 1
	colLen, matLen := k*chunk*ohw, mg*chunk*ohw
	if c.pointwise() {
		colLen = 0
	}
	if direct {
		matLen = 0
	}
	bufs := c.buffers(workers, colLen, matLen, 0, 0)
	parallel.For(c.n, outer, func(lo, hi, worker int) {
		buf := &bufs[worker]
		for i0 := lo; i0 < hi; i0 += chunk {
			cnt := min(chunk, hi-i0)
			ld := cnt * ohw
			for gi := 0; gi < c.group; gi++ {
				wg := w[gi*mg*k:]
				if direct {
					src := x[(i0*c.cin+gi*g.C)*hw:]
					if !c.pointwise() {
						// With threads to spare (batch 1), they share
						// building the column matrix too.
						xs, col := src[:g.C*hw], buf.col
						parallel.For(k, inner, func(r0, r1, _ int) {
							kernels.Im2colRows(g, xs, col, ohw, r0, r1)
						})
						src = buf.col
					}
					dst := y[(i0*c.m+gi*mg)*ohw:]
					var resg []float32
					if res != nil {
						resg = res[(i0*c.m+gi*mg)*ohw:][:mg*ohw]
					}
					if epi := c.epilogue(b, gi*mg, mg, resg); epi != nil {
						gemm.SgemmEpilogue(false, false, mg, ohw, k, wg, k, src, ohw, dst, ohw, epi, inner)
					} else {
						gemm.Sgemm(false, false, mg, ohw, k, 1, wg, k, src, ohw, 0, dst, ohw, inner)
					}
					continue
				}
				if c.pointwise() {
					// The images' channel planes are the rows of B, read
					// in place rather than gathered side by side.
					buf.off = slices.Grow(buf.off[:0], g.C)[:g.C]
					for r := range buf.off {
						buf.off[r] = (i0*c.cin + gi*g.C + r) * hw
					}
					rows := gemm.RowsB{Data: x, RowOff: buf.off, Seg: hw, SegStride: c.cin * hw}
					gemm.SgemmRowsB(false, mg, ld, k, 1, wg, k, &rows, 0, buf.mat, ld, inner)
				} else {
					c.gatherCols(x, buf.col, i0, cnt, gi, ld)
					gemm.Sgemm(false, false, mg, ld, k, 1, wg, k, buf.col, ld, 0, buf.mat, ld, inner)
				}
				for j := 0; j < cnt; j++ {
					for r := 0; r < mg; r++ {
						at := ((i0+j)*c.m + gi*mg + r) * ohw
						var resp []float32
						if res != nil {
							resp = res[at:][:ohw]
						}
						c.finish(y[at:][:ohw], buf.mat[r*ld+j*ohw:], biasOf(b, gi*mg+r), resp)
					}
				}
			}
		}
	})
	return nil
}

// WritesFreshGrads: the padded-rows path writes the input gradient as it
// copies the GEMM's result out; the other paths clear it first themselves.
func (c *convOp) WritesFreshGrads() bool { return true }

func (c *convOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	dy := gout[0]
	if dy == nil {
		return nil
	}
	x, w := in[0].Data, in[1].Data
	var dx, dw, db []float32
	if gin[0] != nil {
		dx = gin[0].Data
	}
	if gin[1] != nil {
		dw = gin[1].Data
	}
	if len(gin) > 2 && gin[2] != nil {
		db = gin[2].Data
	}
	g := &c.geom
	hw, ohw := g.H*g.W, g.OH*g.OW
	cg, mg := g.C, c.m/c.group
	k := g.K()
	dyd := dy.Data
	if db != nil {
		for i := 0; i < c.n; i++ {
			for ch := 0; ch < c.m; ch++ {
				var s float32
				for _, v := range dyd[(i*c.m+ch)*ohw : (i*c.m+ch+1)*ohw] {
					s += v
				}
				db[ch] += s
			}
		}
	}
	if dw == nil && dx == nil {
		return nil
	}
	fwd, bwd, rows := c.rowsGeoms()
	rows = rows && useRows && !c.pointwise() && !c.depthwise()
	if dx != nil && ctx.fresh(0) && !rows {
		clear(dx) // these paths add into dx
	}
	if c.depthwise() {
		c.depthwiseBackward(ctx.Threads, x, w, dyd, dx, dw)
		return nil
	}
	if rows {
		if dw != nil {
			c.rowsWeightGrad(ctx.Threads, c.n, &fwd, x, dyd, dw)
		}
		if dx != nil {
			if len(c.wt) != len(w) {
				c.wt = make([]float32, len(w))
			}
			flipTransposed(w, c.wt, c.group, c.m/c.group, g.C, g.KH, g.KW)
			c.rowsConv(ctx.Threads, c.n, &bwd, dyd, c.wt, nil, dx, nil, !ctx.fresh(0))
		}
		return nil
	}
	outer, inner, chunk := c.plan(ctx.Threads)
	workers := parallel.Workers(c.n, outer)
	direct := chunk == 1
	colLen, matLen := k*chunk*ohw, mg*chunk*ohw
	if direct {
		matLen = 0
	}
	wlen := len(w)
	bufs := c.buffers(workers, colLen, matLen, wlen, 0)
	// Each worker accumulates its own weight gradient; they are summed in
	// worker order afterwards so results do not depend on scheduling.
	parallel.For(c.n, outer, func(lo, hi, worker int) {
		buf := bufs[worker]
		dwp := buf.dw[:wlen]
		clear(dwp)
		for i0 := lo; i0 < hi; i0 += chunk {
			cnt := min(chunk, hi-i0)
			ld := cnt * ohw
			for gi := 0; gi < c.group; gi++ {
				wg := w[gi*mg*k:]
				// dYc: the output gradient of the group, images side by side.
				dyc, ldy := dyd[(i0*c.m+gi*mg)*ohw:], ohw
				if !direct {
					for j := 0; j < cnt; j++ {
						for r := 0; r < mg; r++ {
							copy(buf.mat[r*ld+j*ohw:r*ld+(j+1)*ohw], dyd[((i0+j)*c.m+gi*mg+r)*ohw:])
						}
					}
					dyc, ldy = buf.mat, ld
				}
				if dw != nil {
					var src []float32
					switch {
					case direct && c.pointwise():
						src = x[(i0*c.cin+gi*cg)*hw:]
					case direct:
						kernels.Im2col(g, x[(i0*c.cin+gi*cg)*hw:][:cg*hw], buf.col, ohw)
						src = buf.col
					default:
						c.gatherCols(x, buf.col, i0, cnt, gi, ld)
						src = buf.col
					}
					// dW_g (mg×k) += dYc (mg×ld) · colᵀ (ld×k)
					gemm.Sgemm(false, true, mg, k, ld, 1, dyc, ldy, src, ld, 1, dwp[gi*mg*k:], k, inner)
				}
				if dx == nil {
					continue
				}
				if direct && c.pointwise() {
					// dX_g (k×ohw) += W_gᵀ · dY_g, straight into dx.
					gemm.Sgemm(true, false, k, ohw, mg, 1, wg, k, dyc, ldy, 1, dx[(i0*c.cin+gi*cg)*hw:], hw, inner)
					continue
				}
				gemm.Sgemm(true, false, k, ld, mg, 1, wg, k, dyc, ldy, 0, buf.col, ld, inner)
				for j := 0; j < cnt; j++ {
					dxg := dx[((i0+j)*c.cin+gi*cg)*hw:][:cg*hw]
					if c.pointwise() {
						for r := 0; r < cg; r++ {
							vec.Axpy(dxg[r*hw:(r+1)*hw], 1, buf.col[r*ld+j*ohw:])
						}
						continue
					}
					kernels.Col2im(g, buf.col[j*ohw:], dxg, ld)
				}
			}
		}
	})
	if dw != nil {
		for wk := 0; wk < workers; wk++ {
			for j, v := range bufs[wk].dw[:wlen] {
				dw[j] += v
			}
		}
	}
	return nil
}
