package graph

import (
	"fmt"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/tensor"
)

// gemmOp is ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C, with C broadcast
// to M×N. Linear layers are Gemm(X, W, b, transB=1).
type gemmOp struct {
	gemmAttrs
	gemmDims
}

// gemmAttrs are Gemm's attributes.
type gemmAttrs struct {
	alpha, beta    float32
	transA, transB bool
}

// gemmDims are a Gemm's sizes for given input shapes.
type gemmDims struct {
	m, n, k      int
	cRows, cCols int // C's broadcast shape (1 or M, 1 or N; 0 without C)
}

func init() {
	RegisterOp(OpSpec{Type: "Gemm", Infer: inferWith(parseGemm), Weight: gemmWeight, Params: gemmParams, MACs: gemmMACs,
		Init: linearInit(gemmWeight, true)})
	RegisterKernel("Gemm", newGemm)
}

func parseGemm(n *Node) (gemmAttrs, error) {
	r := attrReader{a: n.Attrs}
	a := gemmAttrs{alpha: r.float("alpha", 1), beta: r.float("beta", 1),
		transA: r.int("transA", 0) != 0, transB: r.int("transB", 0) != 0}
	return a, r.err
}

func newGemm(n *Node) (Op, error) {
	a, err := parseGemm(n)
	return &gemmOp{gemmAttrs: a}, err
}

// gemmWeight: B is out×in with transB=1 (a linear layer), in×out without.
// This is the one place that reads transB for the rest of shears.
func gemmWeight(n *Node, in []Operand) (WeightUse, bool) {
	if len(in) < 2 {
		return WeightUse{}, false
	}
	if tb, _ := n.Attrs.Int("transB", 0); tb != 0 {
		return WeightUse{Input: 1, Out: 0, In: 1, Groups: 1}, true
	}
	return WeightUse{Input: 1, Out: 1, In: 0, Groups: 1}, true
}

// gemmParams: B is the weight, C the bias when 1-D (out) or 2-D (1×out);
// both train. A scalar C is a constant.
func gemmParams(n *Node, in []Operand) []ParamUse {
	w, ok := gemmWeight(n, in)
	if !ok {
		return nil
	}
	roles := make([]AxisRole, 2)
	roles[w.Out], roles[w.In] = AxisOut, AxisIn
	uses := []ParamUse{{Input: w.Input, Kind: ParamWeight, Axes: roles, Trainable: true}}
	if c := paramAt(in, 2); c != nil {
		switch c.Value.Rank() {
		case 1:
			uses = append(uses, ParamUse{Input: 2, Kind: ParamBias, Axes: []AxisRole{AxisOut}, Trainable: true})
		case 2:
			uses = append(uses, ParamUse{Input: 2, Kind: ParamBias, Axes: []AxisRole{AxisNone, AxisOut}, Trainable: true})
		}
	}
	return uses
}

// gemmMACs: every output element is a dot product over A's inner axis.
func gemmMACs(n *Node, in, out [][]int) int {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	a := in[0]
	k := a[1]
	if t, _ := n.Attrs.Int("transA", 0); t != 0 {
		k = a[0]
	}
	return numElems(out[0]) * k
}

func (g *gemmOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := g.dims(in)
	if err != nil {
		return nil, err
	}
	g.gemmDims = d
	return [][]int{{d.m, d.n}}, nil
}

// Infer is Gemm's shape inference.
func (g gemmAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := g.dims(in)
	if err != nil {
		return nil, err
	}
	return [][]int{{d.m, d.n}}, nil
}

// dims checks A, B and C against the attributes and sizes the product.
func (g gemmAttrs) dims(in [][]int) (gemmDims, error) {
	var d gemmDims
	if err := wantInputs(in, 2, 3); err != nil {
		return d, err
	}
	a, b := in[0], in[1]
	if len(a) != 2 || len(b) != 2 {
		return d, shapeErr("A and B must be 2-D, have %v and %v", a, b)
	}
	m, ka := a[0], a[1]
	if g.transA {
		m, ka = a[1], a[0]
	}
	kb, n := b[0], b[1]
	if g.transB {
		kb, n = b[1], b[0]
	}
	if ka != kb {
		return d, shapeErr("inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", a, g.transA, b, g.transB)
	}
	d.m, d.n, d.k = m, n, ka
	if len(in) == 3 && in[2] != nil {
		c := in[2]
		switch len(c) {
		case 0:
			d.cRows, d.cCols = 1, 1
		case 1:
			d.cRows, d.cCols = 1, c[0]
		case 2:
			d.cRows, d.cCols = c[0], c[1]
		default:
			return d, shapeErr("C must have at most 2 dims, have %v", c)
		}
		if (d.cRows != 1 && d.cRows != m) || (d.cCols != 1 && d.cCols != n) {
			return d, shapeErr("C %v does not broadcast to %d×%d", c, m, n)
		}
	}
	return d, nil
}

func (g *gemmOp) lds() (lda, ldb int) {
	lda, ldb = g.k, g.n
	if g.transA {
		lda = g.m
	}
	if g.transB {
		ldb = g.k
	}
	return
}

func (g *gemmOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	y := out[0].Data
	beta := float32(0)
	if g.cRows > 0 && g.beta != 0 {
		c := in[2].Data
		for i := 0; i < g.m; i++ {
			row := y[i*g.n : (i+1)*g.n]
			ci := 0
			if g.cRows > 1 {
				ci = i * g.cCols
			}
			if g.cCols == 1 {
				v := g.beta * c[ci]
				for j := range row {
					row[j] = v
				}
			} else {
				for j := range row {
					row[j] = g.beta * c[ci+j]
				}
			}
		}
		beta = 1
	}
	lda, ldb := g.lds()
	if g.m == 1 && !g.transA {
		// batch 1: a matrix-vector product, B read in place
		gemm.Sgemv(g.transB, g.n, g.k, g.alpha, in[0].Data, in[1].Data, ldb, beta, y, ctx.Threads)
		return nil
	}
	gemm.Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, in[0].Data, lda, in[1].Data, ldb, beta, y, g.n, ctx.Threads)
	return nil
}

func (g *gemmOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	dy := gout[0].Data
	a, b := in[0].Data, in[1].Data
	lda, ldb := g.lds()
	if gin[0] != nil {
		da := gin[0].Data
		if !g.transA {
			// dA (m×k) += α·dY·op(B)ᵀ
			gemm.Sgemm(false, !g.transB, g.m, g.k, g.n, g.alpha, dy, g.n, b, ldb, 1, da, lda, ctx.Threads)
		} else {
			// dA (k×m) += α·op(B)·dYᵀ
			gemm.Sgemm(g.transB, true, g.k, g.m, g.n, g.alpha, b, ldb, dy, g.n, 1, da, lda, ctx.Threads)
		}
	}
	if gin[1] != nil {
		db := gin[1].Data
		if !g.transB {
			// dB (k×n) += α·op(A)ᵀ·dY
			gemm.Sgemm(!g.transA, false, g.k, g.n, g.m, g.alpha, a, lda, dy, g.n, 1, db, ldb, ctx.Threads)
		} else {
			// dB (n×k) += α·dYᵀ·op(A)
			gemm.Sgemm(true, g.transA, g.n, g.k, g.m, g.alpha, dy, g.n, a, lda, 1, db, ldb, ctx.Threads)
		}
	}
	if len(gin) > 2 && gin[2] != nil && g.cRows > 0 {
		dc := gin[2].Data
		for i := 0; i < g.m; i++ {
			ci := 0
			if g.cRows > 1 {
				ci = i * g.cCols
			}
			for j, v := range dy[i*g.n : (i+1)*g.n] {
				if g.cCols == 1 {
					dc[ci] += g.beta * v
				} else {
					dc[ci+j] += g.beta * v
				}
			}
		}
	}
	return nil
}

// matMulOp is ONNX MatMul with numpy semantics: 1-D operands are promoted
// and leading (batch) dimensions broadcast.
type matMulOp struct {
	matMulDims
	aBatch []int // per output batch index: offset multiplier, computed in Infer
	bBatch []int
}

// matMulDims are a MatMul's sizes for given input shapes.
type matMulDims struct {
	m, n, k    int
	batches    int
	aVec, bVec bool
	// ab, bb are the operands' batch shapes, batch their broadcast.
	ab, bb, batch []int
	out           []int
}

func init() {
	RegisterOp(OpSpec{Type: "MatMul", Infer: inferMatMul,
		Weight: matMulWeight, Params: matMulParams, MACs: matMulMACs, Init: linearInit(matMulWeight, false)})
	RegisterKernel("MatMul", func(n *Node) (Op, error) { return &matMulOp{}, nil })
}

// matMulWeight: a 2-D param B of x·B is a linear layer's in×out weight;
// MatMul by anything else has none.
func matMulWeight(n *Node, in []Operand) (WeightUse, bool) {
	if b := paramAt(in, 1); b == nil || b.Value.Rank() != 2 {
		return WeightUse{}, false
	}
	return WeightUse{Input: 1, Out: 1, In: 0, Groups: 1}, true
}

// matMulParams: the weight trains; other param operands are constants.
func matMulParams(n *Node, in []Operand) []ParamUse {
	w, ok := matMulWeight(n, in)
	if !ok {
		return nil
	}
	return []ParamUse{{Input: w.Input, Kind: ParamWeight, Axes: []AxisRole{AxisIn, AxisOut}, Trainable: true}}
}

// matMulMACs: every output element is a dot product over A's last axis.
func matMulMACs(n *Node, in, out [][]int) int {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	a := in[0]
	return numElems(out[0]) * a[len(a)-1]
}

func (mm *matMulOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := matMulShape(in)
	if err != nil {
		return nil, err
	}
	mm.matMulDims = d
	mm.aBatch = batchOffsets(d.ab, d.batch)
	mm.bBatch = batchOffsets(d.bb, d.batch)
	return [][]int{d.out}, nil
}

// inferMatMul is MatMul's shape inference.
func inferMatMul(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := matMulShape(in)
	if err != nil {
		return nil, err
	}
	return [][]int{d.out}, nil
}

// matMulShape checks the operands (numpy semantics) and sizes the
// product.
func matMulShape(in [][]int) (matMulDims, error) {
	var mm matMulDims
	if err := wantInputs(in, 2, 2); err != nil {
		return mm, err
	}
	a, b := in[0], in[1]
	if len(a) == 0 || len(b) == 0 {
		return mm, fmt.Errorf("MatMul operands must have at least 1 dim")
	}
	mm.aVec, mm.bVec = len(a) == 1, len(b) == 1
	if mm.aVec {
		a = []int{1, a[0]}
	}
	if mm.bVec {
		b = []int{b[0], 1}
	}
	mm.m, mm.k = a[len(a)-2], a[len(a)-1]
	if b[len(b)-2] != mm.k {
		return mm, shapeErr("inner dimensions differ: %v · %v", in[0], in[1])
	}
	mm.n = b[len(b)-1]
	ab, bb := a[:len(a)-2], b[:len(b)-2]
	batch, err := matmulBroadcast(ab, bb)
	if err != nil {
		return mm, shapeErr("batch dims of %v and %v do not broadcast", in[0], in[1])
	}
	mm.batches = shapeProd(batch)
	mm.ab, mm.bb, mm.batch = ab, bb, batch
	out := append([]int(nil), batch...)
	if !mm.aVec {
		out = append(out, mm.m)
	}
	if !mm.bVec {
		out = append(out, mm.n)
	}
	mm.out = out
	return mm, nil
}

// matmulBroadcast applies numpy broadcasting to two shapes.
func matmulBroadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// batchOffsets maps each flat index over the broadcast batch shape to the
// flat batch index of an operand with batch shape src.
func batchOffsets(src, batch []int) []int {
	total := 1
	for _, d := range batch {
		total *= d
	}
	offs := make([]int, total)
	idx := make([]int, len(batch))
	for f := 0; f < total; f++ {
		o, stride := 0, 1
		for i := len(src) - 1; i >= 0; i-- {
			bi := idx[len(batch)-len(src)+i]
			if src[i] == 1 {
				bi = 0
			}
			o += bi * stride
			stride *= src[i]
		}
		offs[f] = o
		for d := len(batch) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return offs
}

func (mm *matMulOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	a, b, y := in[0].Data, in[1].Data, out[0].Data
	sa, sb, sy := mm.m*mm.k, mm.k*mm.n, mm.m*mm.n
	// A single 2-D B shared by every batch: one big GEMM over stacked rows.
	if len(mm.bBatch) > 0 && allZero(mm.bBatch) && isIota(mm.aBatch) {
		if mm.batches*mm.m == 1 {
			gemm.Sgemv(false, mm.n, mm.k, 1, a, b, mm.n, 0, y, ctx.Threads)
			return nil
		}
		gemm.Sgemm(false, false, mm.batches*mm.m, mm.n, mm.k, 1, a, mm.k, b, mm.n, 0, y, mm.n, ctx.Threads)
		return nil
	}
	for i := 0; i < mm.batches; i++ {
		gemm.Sgemm(false, false, mm.m, mm.n, mm.k, 1, a[mm.aBatch[i]*sa:], mm.k, b[mm.bBatch[i]*sb:], mm.n, 0, y[i*sy:], mm.n, ctx.Threads)
	}
	return nil
}

func (mm *matMulOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	a, b, dy := in[0].Data, in[1].Data, gout[0].Data
	sa, sb, sy := mm.m*mm.k, mm.k*mm.n, mm.m*mm.n
	if len(mm.bBatch) > 0 && allZero(mm.bBatch) && isIota(mm.aBatch) {
		rows := mm.batches * mm.m
		if gin[0] != nil {
			gemm.Sgemm(false, true, rows, mm.k, mm.n, 1, dy, mm.n, b, mm.n, 1, gin[0].Data, mm.k, ctx.Threads)
		}
		if gin[1] != nil {
			gemm.Sgemm(true, false, mm.k, mm.n, rows, 1, a, mm.k, dy, mm.n, 1, gin[1].Data, mm.n, ctx.Threads)
		}
		return nil
	}
	for i := 0; i < mm.batches; i++ {
		if gin[0] != nil {
			gemm.Sgemm(false, true, mm.m, mm.k, mm.n, 1, dy[i*sy:], mm.n, b[mm.bBatch[i]*sb:], mm.n, 1, gin[0].Data[mm.aBatch[i]*sa:], mm.k, ctx.Threads)
		}
		if gin[1] != nil {
			gemm.Sgemm(true, false, mm.k, mm.n, mm.m, 1, a[mm.aBatch[i]*sa:], mm.k, dy[i*sy:], mm.n, 1, gin[1].Data[mm.bBatch[i]*sb:], mm.n, ctx.Threads)
		}
	}
	return nil
}

func allZero(v []int) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func isIota(v []int) bool {
	for i, x := range v {
		if x != i {
			return false
		}
	}
	return true
}
