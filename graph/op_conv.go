package graph

import (
	"fmt"
	"sync"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/kernels"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// convOp is ONNX Conv (1-D and 2-D, any group count, dilations, pads,
// auto_pad). Dense and grouped convolutions run as im2col + GEMM per image
// and group; depthwise convolutions (one input and one output channel per
// group) run a direct kernel. Work is split over images when the batch is
// large enough and inside GEMM otherwise, so training and batch-1 inference
// both use every core.
type convOp struct {
	win   window
	group int
	geom  kernels.Geom
	n, m  int // batch, output channels
	cin   int // input channels (all groups)
	// scratch buffers, one per worker
	cols [][]float32
	dws  [][]float32
	mu   sync.Mutex
}

func init() {
	Register("Conv", func(n *Node) (Op, error) {
		w, err := parseWindow(n, false)
		if err != nil {
			return nil, err
		}
		g, err := n.Attrs.Int("group", 1)
		if err != nil {
			return nil, err
		}
		if g < 1 {
			return nil, fmt.Errorf("group must be ≥ 1, have %d", g)
		}
		return &convOp{win: w, group: g}, nil
	})
}

func (c *convOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := wantInputs(in, 2, 3); err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	if len(w) < 3 || len(w) > 4 {
		return nil, shapeErr("weight must be M×C/group×k…, have %v", w)
	}
	if !c.win.ndGiven && len(w) == 3 {
		// No attribute said how many spatial dims: the weight does.
		c.win.spatialDim, c.win.kh, c.win.sh, c.win.dh = 1, 1, 1, 1
	}
	if c.win.spatialDim != len(w)-2 {
		return nil, shapeErr("weight %v does not match %d-D attributes", w, c.win.spatialDim)
	}
	if c.win.spatialDim == 1 {
		c.win.kh, c.win.kw = 1, w[2]
	} else {
		if (c.win.kh != 0 || c.win.kw != 0) && (c.win.kh != w[2] || c.win.kw != w[3]) {
			return nil, shapeErr("kernel_shape %d×%d does not match weight %v", c.win.kh, c.win.kw, w)
		}
		c.win.kh, c.win.kw = w[2], w[3]
	}
	n, ch, h, wd, err := c.win.spatial(x)
	if err != nil {
		return nil, err
	}
	m := w[0]
	if ch%c.group != 0 || m%c.group != 0 {
		return nil, shapeErr("input channels %d and output channels %d must divide by group %d", ch, m, c.group)
	}
	if w[1] != ch/c.group {
		return nil, shapeErr("weight %v expects %d input channels per group, input %v has %d (group %d)", w, w[1], x, ch/c.group, c.group)
	}
	if len(in) == 3 && in[2] != nil && (len(in[2]) != 1 || in[2][0] != m) {
		return nil, shapeErr("bias must be %d, have %v", m, in[2])
	}
	win := c.win
	oh, ow, err := win.resolve(h, wd)
	if err != nil {
		return nil, err
	}
	c.win = win
	c.n, c.m, c.cin = n, m, ch
	c.geom = kernels.Geom{C: ch / c.group, H: h, W: wd, KH: win.kh, KW: win.kw, SH: win.sh, SW: win.sw,
		DH: win.dh, DW: win.dw, PT: win.pt, PL: win.pl, OH: oh, OW: ow}
	return [][]int{win.outShape(n, m, oh, ow)}, nil
}

func (c *convOp) depthwise() bool { return c.geom.C == 1 && c.m == c.group }

// pointwise convs read the input directly as the im2col matrix.
func (c *convOp) pointwise() bool {
	g := &c.geom
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 && g.OH == g.H && g.OW == g.W
}

// split decides how to use threads: over images (outer) or inside GEMM.
func (c *convOp) split(threads int) (outer, inner int) {
	if c.n >= threads {
		return threads, 1
	}
	return 1, threads
}

func (c *convOp) scratch(workers, colLen, dwLen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.cols) < workers {
		c.cols = append(c.cols, nil)
		c.dws = append(c.dws, nil)
	}
	for w := 0; w < workers; w++ {
		if len(c.cols[w]) < colLen {
			c.cols[w] = make([]float32, colLen)
		}
		if len(c.dws[w]) < dwLen {
			c.dws[w] = make([]float32, dwLen)
		}
	}
}

func (c *convOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, w, y := in[0].Data, in[1].Data, out[0].Data
	var b []float32
	if len(in) > 2 && in[2] != nil {
		b = in[2].Data
	}
	g := &c.geom
	hw, ohw := g.H*g.W, g.OH*g.OW
	cg, mg := g.C, c.m/c.group
	k := g.K()
	outer, inner := c.split(ctx.Threads)
	colLen := k * ohw
	if c.pointwise() || c.depthwise() {
		colLen = 0
	}
	c.scratch(parallel.Workers(c.n, outer), colLen, 0)
	parallel.For(c.n, outer, func(lo, hi, worker int) {
		col := c.cols[worker]
		for i := lo; i < hi; i++ {
			xi := x[i*c.cin*hw : (i+1)*c.cin*hw]
			yi := y[i*c.m*ohw : (i+1)*c.m*ohw]
			if c.depthwise() {
				for ch := 0; ch < c.m; ch++ {
					var bias float32
					if b != nil {
						bias = b[ch]
					}
					kernels.DepthwiseForward(g, xi[ch*hw:(ch+1)*hw], w[ch*k:(ch+1)*k], bias, yi[ch*ohw:(ch+1)*ohw])
				}
				continue
			}
			for gi := 0; gi < c.group; gi++ {
				xg := xi[gi*cg*hw : (gi+1)*cg*hw]
				src := xg
				if !c.pointwise() {
					kernels.Im2col(g, xg, col)
					src = col
				}
				yg := yi[gi*mg*ohw : (gi+1)*mg*ohw]
				gemm.Sgemm(false, false, mg, ohw, k, 1, w[gi*mg*k:], k, src, ohw, 0, yg, ohw, inner)
			}
			if b != nil {
				for ch := 0; ch < c.m; ch++ {
					row := yi[ch*ohw : (ch+1)*ohw]
					bv := b[ch]
					for j := range row {
						row[j] += bv
					}
				}
			}
		}
	})
	return nil
}

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
	outer, inner := c.split(ctx.Threads)
	workers := parallel.Workers(c.n, outer)
	colLen := k * ohw
	if c.depthwise() {
		colLen = 0
	}
	wlen := len(w)
	c.scratch(workers, colLen, wlen)
	// Each worker accumulates its own weight gradient; they are summed in
	// worker order afterwards so results do not depend on scheduling.
	parallel.For(c.n, outer, func(lo, hi, worker int) {
		col, dwp := c.cols[worker], c.dws[worker][:wlen]
		clear(dwp)
		for i := lo; i < hi; i++ {
			xi := x[i*c.cin*hw : (i+1)*c.cin*hw]
			dyi := dyd[i*c.m*ohw : (i+1)*c.m*ohw]
			var dxi []float32
			if dx != nil {
				dxi = dx[i*c.cin*hw : (i+1)*c.cin*hw]
			}
			if c.depthwise() {
				for ch := 0; ch < c.m; ch++ {
					var dxc []float32
					if dxi != nil {
						dxc = dxi[ch*hw : (ch+1)*hw]
					}
					kernels.DepthwiseBackward(g, xi[ch*hw:(ch+1)*hw], w[ch*k:(ch+1)*k], dyi[ch*ohw:(ch+1)*ohw], dxc, dwp[ch*k:(ch+1)*k])
				}
				continue
			}
			for gi := 0; gi < c.group; gi++ {
				xg := xi[gi*cg*hw : (gi+1)*cg*hw]
				dyg := dyi[gi*mg*ohw : (gi+1)*mg*ohw]
				wg := w[gi*mg*k:]
				if dw != nil {
					src := xg
					if !c.pointwise() {
						kernels.Im2col(g, xg, col)
						src = col
					}
					// dW_g (mg×k) += dY_g (mg×ohw) · colᵀ (ohw×k)
					gemm.Sgemm(false, true, mg, k, ohw, 1, dyg, ohw, src, ohw, 1, dwp[gi*mg*k:], k, inner)
				}
				if dxi != nil {
					dxg := dxi[gi*cg*hw : (gi+1)*cg*hw]
					if c.pointwise() {
						// dX_g (k×ohw) += W_gᵀ · dY_g
						gemm.Sgemm(true, false, k, ohw, mg, 1, wg, k, dyg, ohw, 1, dxg, ohw, inner)
						continue
					}
					gemm.Sgemm(true, false, k, ohw, mg, 1, wg, k, dyg, ohw, 0, col, ohw, inner)
					kernels.Col2im(g, col, dxg)
				}
			}
		}
	})
	if dw != nil {
		for wk := 0; wk < workers; wk++ {
			for j, v := range c.dws[wk][:wlen] {
				dw[j] += v
			}
		}
	}
	return nil
}
