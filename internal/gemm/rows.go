package gemm

import (
	"fmt"

	"github.com/shearsml/shears/internal/vec"
)

// RowsB is a B operand whose rows lie anywhere in one buffer. A stride-1
// convolution's column matrix is like that: each of its rows is the padded
// input image shifted by a kernel offset, so instead of copying it into a
// K×pixels matrix first and packing that again, Sgemm packs straight from
// the padded image ("implicit GEMM").
//
// Element (r, j) is Data[(j/Seg)*SegStride + RowOff[r] + j%Seg]: columns
// come in segments of Seg (several images side by side, each at its own
// SegStride offset), and within a segment a row is contiguous.
type RowsB struct {
	Data      []float32
	RowOff    []int // start of each row, ≥ 0; len is the row count
	Seg       int   // columns per segment, ≥ 1
	SegStride int   // offset between segments, ≥ 0
}

// check panics unless every element of a rows×cols view is inside Data.
func (b *RowsB) check(rows, cols int) {
	if len(b.RowOff) != rows {
		panic(fmt.Sprintf("gemm: RowsB has %d rows, the product needs %d", len(b.RowOff), rows))
	}
	if b.Seg < 1 || b.SegStride < 0 {
		panic(fmt.Sprintf("gemm: RowsB segments of %d columns %d apart, need ≥ 1 and ≥ 0", b.Seg, b.SegStride))
	}
	if rows == 0 || cols == 0 {
		return
	}
	// The last element of a row is in the last segment, or at the end of
	// the one before when the last is short and segments overlap.
	last := (cols-1)/b.Seg*b.SegStride + (cols-1)%b.Seg
	if cols > b.Seg {
		last = max(last, ((cols-1)/b.Seg-1)*b.SegStride+b.Seg-1)
	}
	for r, off := range b.RowOff {
		if off < 0 || off+last >= len(b.Data) {
			panic(fmt.Sprintf("gemm: RowsB row %d at %d reaches %d, len(Data) = %d", r, off, off+last, len(b.Data)))
		}
	}
}

// SgemmRowsB is Sgemm with B given as a RowsB: C = alpha*A*op(B) + beta*C,
// A m×k row-major with lda (not transposed), op(B) = B (k rows of n
// columns) or, with transB, Bᵀ (B has n rows of k columns). Results are
// bit-identical to Sgemm on the materialised matrix.
func SgemmRowsB(transB bool, m, n, k int, alpha float32, a []float32, lda int, b *RowsB, beta float32, c []float32, ldc int, threads int) {
	checkSizes(m, n, k)
	checkMatrix("A", "lda", a, m, k, lda)
	if transB {
		b.check(n, k)
	} else {
		b.check(k, n)
	}
	checkMatrix("C", "ldc", c, m, n, ldc)
	start(job{
		transB: transB,
		m:      m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, rb: b, c: c, ldc: ldc,
	}, threads)
}

// panelStart returns where columns [j0, j0+w) of every row start
// relative to the row's offset, when they lie inside one segment.
func (b *RowsB) panelStart(j0, w int) (int, bool) {
	s, q := j0/b.Seg, j0%b.Seg
	if q+w > b.Seg {
		return 0, false
	}
	return s*b.SegStride + q, true
}

// SgemmRowsA is Sgemm with A given as a RowsB of one segment: C =
// alpha*A*op(B) + beta*C, A m rows of k columns, op(B) = B (k×n with ldb)
// or, with transB, Bᵀ (B n×k). A is read in place: every group of
// register-panel rows (8 for AVX-512) whose offsets are evenly spaced is
// one strided panel for the micro-kernel, so a convolution's weight
// gradient, ordered (kernel position, channel), multiplies straight out of
// the padded image. Other panels are gathered.
func SgemmRowsA(m, n, k int, alpha float32, a *RowsB, transB bool, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	checkSizes(m, n, k)
	a.check(m, k)
	if k > a.Seg {
		panic(fmt.Sprintf("gemm: SgemmRowsA needs one segment, have %d columns in segments of %d", k, a.Seg))
	}
	checkOp("B", "ldb", b, transB, k, n, ldb)
	checkMatrix("C", "ldc", c, m, n, ldc)
	start(job{
		transB: transB,
		m:      m, n: n, k: k, alpha: alpha, beta: beta,
		ra: a, b: b, ldb: ldb, c: c, ldc: ldc,
	}, threads)
}

// aPanel returns rows [i0, i0+mr) × columns [p0, p0+kc) of a one-segment
// RowsB as the micro-kernel's A operand: in place with row stride rsa when
// the panel is full and its rows evenly spaced, else gathered into tmp
// (mr·kc floats) and packed into edge like any A panel.
func (b *RowsB) aPanel(edge, tmp []float32, i0, mr, p0, kc, MR int) (ap []float32, rsa, csa int) {
	off := b.RowOff[i0 : i0+mr]
	if mr == MR && MR > 1 {
		s := off[1] - off[0]
		even := s > 0
		for r := 2; r < mr && even; r++ {
			even = off[r]-off[r-1] == s
		}
		if even {
			return b.Data[off[0]+p0:], s, 1
		}
	}
	vec.CopyRowsAt(tmp, kc, b.Data[p0:], off, kc)
	packAPanel(edge, tmp, kc, false, 0, mr, 0, kc, MR)
	return edge, 1, MR
}

// piece is a run of a RowsB row inside one segment: block columns
// [at, at+n) sit at offset src from the row's start.
type piece struct{ at, src, n int }

// pieces cuts columns [c0, c0+cn) into runs within segments.
func (b *RowsB) pieces(buf []piece, c0, cn int) []piece {
	buf = buf[:0]
	s, q := c0/b.Seg, c0%b.Seg
	for at := 0; at < cn; {
		n := min(b.Seg-q, cn-at)
		buf = append(buf, piece{at, s*b.SegStride + q, n})
		at += n
		s++
		q = 0
	}
	return buf
}

// packRowsPanel is packBPanel for a RowsB: dst[p*NR+j] = op(B)(p0+p, j0+j),
// columns j >= nr zeroed. tmp holds nr·kc floats (transposed case).
func packRowsPanel(dst []float32, b *RowsB, transB bool, p0, kc, j0, nr, NR int, ps *[]piece, tmp []float32) {
	dst = dst[:kc*NR]
	if !transB {
		// Row p0+p of B is the k step: a few contiguous runs.
		pcs := b.pieces(*ps, j0, nr)
		*ps = pcs
		off := b.RowOff[p0 : p0+kc]
		for _, pc := range pcs {
			vec.CopyRowsAt(dst[pc.at:], NR, b.Data[pc.src:], off, pc.n)
		}
		if nr < NR {
			for p := 0; p < kc; p++ {
				clear(dst[p*NR+nr : p*NR+NR])
			}
		}
		return
	}
	// op(B)(p, j) = B(j, p): gather the panel's nr rows of B into tmp,
	// contiguous, and pack them as a transposed B.
	pcs := b.pieces(*ps, p0, kc)
	*ps = pcs
	for _, pc := range pcs {
		vec.CopyRowsAt(tmp[pc.at:], kc, b.Data[pc.src:], b.RowOff[j0:j0+nr], pc.n)
	}
	packBPanel(dst, tmp, kc, true, 0, kc, 0, nr, NR)
}
