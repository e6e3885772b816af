package cpu

import (
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/tensor"
)

// gemmOp is ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C, with C broadcast
// to M×N. Linear layers are Gemm(X, W, b, transB=1).
type gemmOp struct {
	graph.GemmAttrs
	graph.GemmDims
}

func init() {
	RegisterKernel("Gemm", newGemm)
}

func newGemm(n *graph.Node) (Op, error) {
	a, err := graph.ParseGemm(n)
	return &gemmOp{GemmAttrs: a}, err
}

func (g *gemmOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := g.Dims(in)
	if err != nil {
		return nil, err
	}
	g.GemmDims = d
	return [][]int{{d.M, d.N}}, nil
}

func (g *gemmOp) lds() (lda, ldb int) {
	lda, ldb = g.K, g.N
	if g.TransA {
		lda = g.M
	}
	if g.TransB {
		ldb = g.K
	}
	return
}

func (g *gemmOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	y := out[0].Data
	beta := float32(0)
	if g.CRows > 0 && g.Beta != 0 {
		c := in[2].Data
		for i := 0; i < g.M; i++ {
			row := y[i*g.N : (i+1)*g.N]
			ci := 0
			if g.CRows > 1 {
				ci = i * g.CCols
			}
			if g.CCols == 1 {
				v := g.Beta * c[ci]
				for j := range row {
					row[j] = v
				}
			} else {
				for j := range row {
					row[j] = g.Beta * c[ci+j]
				}
			}
		}
		beta = 1
	}
	lda, ldb := g.lds()
	if g.M == 1 && !g.TransA {
		// batch 1: a matrix-vector product, B read in place
		gemm.Sgemv(g.TransB, g.N, g.K, g.Alpha, in[0].Data, in[1].Data, ldb, beta, y, ctx.Threads)
		return nil
	}
	gemm.Sgemm(g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, in[0].Data, lda, in[1].Data, ldb, beta, y, g.N, ctx.Threads)
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
		if !g.TransA {
			// dA (m×k) += α·dY·op(B)ᵀ
			gemm.Sgemm(false, !g.TransB, g.M, g.K, g.N, g.Alpha, dy, g.N, b, ldb, 1, da, lda, ctx.Threads)
		} else {
			// dA (k×m) += α·op(B)·dYᵀ
			gemm.Sgemm(g.TransB, true, g.K, g.M, g.N, g.Alpha, b, ldb, dy, g.N, 1, da, lda, ctx.Threads)
		}
	}
	if gin[1] != nil {
		db := gin[1].Data
		if !g.TransB {
			// dB (k×n) += α·op(A)ᵀ·dY
			gemm.Sgemm(!g.TransA, false, g.K, g.N, g.M, g.Alpha, a, lda, dy, g.N, 1, db, ldb, ctx.Threads)
		} else {
			// dB (n×k) += α·dYᵀ·op(A)
			gemm.Sgemm(true, g.TransA, g.N, g.K, g.M, g.Alpha, dy, g.N, a, lda, 1, db, ldb, ctx.Threads)
		}
	}
	if len(gin) > 2 && gin[2] != nil && g.CRows > 0 {
		dc := gin[2].Data
		for i := 0; i < g.M; i++ {
			ci := 0
			if g.CRows > 1 {
				ci = i * g.CCols
			}
			for j, v := range dy[i*g.N : (i+1)*g.N] {
				if g.CCols == 1 {
					dc[ci] += g.Beta * v
				} else {
					dc[ci+j] += g.Beta * v
				}
			}
		}
	}
	return nil
}

// matMulOp is ONNX MatMul with numpy semantics: 1-D operands are promoted
// and leading (batch) dimensions broadcast.
type matMulOp struct {
	graph.MatMulDims
	aBatch []int // per output batch index: offset multiplier, computed in Infer
	bBatch []int
}

func init() {
	RegisterKernel("MatMul", func(n *graph.Node) (Op, error) { return &matMulOp{}, nil })
}

func (mm *matMulOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := graph.MatMulShape(in)
	if err != nil {
		return nil, err
	}
	mm.MatMulDims = d
	mm.aBatch = batchOffsets(d.Ab, d.Batch)
	mm.bBatch = batchOffsets(d.Bb, d.Batch)
	return [][]int{d.Out}, nil
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
	sa, sb, sy := mm.M*mm.K, mm.K*mm.N, mm.M*mm.N
	// A single 2-D B shared by every batch: one big GEMM over stacked rows.
	if len(mm.bBatch) > 0 && allZero(mm.bBatch) && isIota(mm.aBatch) {
		if mm.Batches*mm.M == 1 {
			gemm.Sgemv(false, mm.N, mm.K, 1, a, b, mm.N, 0, y, ctx.Threads)
			return nil
		}
		gemm.Sgemm(false, false, mm.Batches*mm.M, mm.N, mm.K, 1, a, mm.K, b, mm.N, 0, y, mm.N, ctx.Threads)
		return nil
	}
	for i := 0; i < mm.Batches; i++ {
		gemm.Sgemm(false, false, mm.M, mm.N, mm.K, 1, a[mm.aBatch[i]*sa:], mm.K, b[mm.bBatch[i]*sb:], mm.N, 0, y[i*sy:], mm.N, ctx.Threads)
	}
	return nil
}

func (mm *matMulOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil {
		return nil
	}
	a, b, dy := in[0].Data, in[1].Data, gout[0].Data
	sa, sb, sy := mm.M*mm.K, mm.K*mm.N, mm.M*mm.N
	if len(mm.bBatch) > 0 && allZero(mm.bBatch) && isIota(mm.aBatch) {
		rows := mm.Batches * mm.M
		if gin[0] != nil {
			gemm.Sgemm(false, true, rows, mm.K, mm.N, 1, dy, mm.N, b, mm.N, 1, gin[0].Data, mm.K, ctx.Threads)
		}
		if gin[1] != nil {
			gemm.Sgemm(true, false, mm.K, mm.N, rows, 1, a, mm.K, dy, mm.N, 1, gin[1].Data, mm.N, ctx.Threads)
		}
		return nil
	}
	for i := 0; i < mm.Batches; i++ {
		if gin[0] != nil {
			gemm.Sgemm(false, true, mm.M, mm.K, mm.N, 1, dy[i*sy:], mm.N, b[mm.bBatch[i]*sb:], mm.N, 1, gin[0].Data[mm.aBatch[i]*sa:], mm.K, ctx.Threads)
		}
		if gin[1] != nil {
			gemm.Sgemm(true, false, mm.K, mm.N, mm.M, 1, a[mm.aBatch[i]*sa:], mm.K, dy[i*sy:], mm.N, 1, gin[1].Data[mm.bBatch[i]*sb:], mm.N, ctx.Threads)
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
