package sparse

import "sync"

// bsrMatrix is block sparse rows with r×c blocks: block row b (rows
// b·r … b·r+r−1) has blocks blockPtr[b] … blockPtr[b+1]−1, block k starting
// at column bcol[k] (a multiple of c, increasing) with its r·c values
// row-major at val[k·r·c:]. Entries of an edge block outside the matrix are
// zero and the kernels never read the input there.
type bsrMatrix struct {
	rows, cols int
	r, c       int
	blockPtr   []int32
	bcol       []int32
	val        []float32
	nonzeros   int

	rowsOnce sync.Once
	rowForm  *csrMatrix // asRows
}

func newBSR(w []float32, rows, cols, r, c int) (*bsrMatrix, error) {
	brows, bcols := (rows+r-1)/r, (cols+c-1)/c
	m := &bsrMatrix{rows: rows, cols: cols, r: r, c: c, blockPtr: make([]int32, brows+1)}
	for br := range brows {
		for bc := range bcols {
			if !m.blockNonzero(w, br, bc) {
				continue
			}
			m.bcol = append(m.bcol, int32(bc*c))
			for rr := range r {
				for cc := range c {
					o, i := br*r+rr, bc*c+cc
					var v float32
					if o < rows && i < cols {
						v = w[o*cols+i]
					}
					if v != 0 {
						m.nonzeros++
					}
					m.val = append(m.val, v)
				}
			}
		}
		m.blockPtr[br+1] = int32(len(m.bcol))
	}
	return m, nil
}

func (m *bsrMatrix) blockNonzero(w []float32, br, bc int) bool {
	for o := br * m.r; o < min((br+1)*m.r, m.rows); o++ {
		for i := bc * m.c; i < min((bc+1)*m.c, m.cols); i++ {
			if w[o*m.cols+i] != 0 {
				return true
			}
		}
	}
	return false
}

func (m *bsrMatrix) Format() Format         { return Format{Kind: BSR, R: m.r, C: m.c} }
func (m *bsrMatrix) Dims() (rows, cols int) { return m.rows, m.cols }
func (m *bsrMatrix) NonZeros() int          { return m.nonzeros }
func (m *bsrMatrix) Stored() int            { return len(m.val) }
func (m *bsrMatrix) Bytes() int             { return 4*len(m.val) + 4*len(m.bcol) + 4*len(m.blockPtr) }
func (m *bsrMatrix) units() int             { return len(m.blockPtr) - 1 }
func (m *bsrMatrix) unitRows() int          { return m.r }
func (m *bsrMatrix) work(u int) int         { return int(m.blockPtr[u]) * m.r * m.c }

func (m *bsrMatrix) Dense() []float32 {
	w := make([]float32, m.rows*m.cols)
	for br := range m.units() {
		for k := m.blockPtr[br]; k < m.blockPtr[br+1]; k++ {
			blk := m.val[int(k)*m.r*m.c:][:m.r*m.c]
			for rr := range m.r {
				for cc := range m.c {
					o, i := br*m.r+rr, int(m.bcol[k])+cc
					if o < m.rows && i < m.cols {
						w[o*m.cols+i] = blk[rr*m.c+cc]
					}
				}
			}
		}
	}
	return w
}

// width is how many columns of the block at column c0 lie in the matrix.
func (m *bsrMatrix) width(c0 int32) int { return min(m.c, m.cols-int(c0)) }

// height is how many rows of block row br lie in the matrix.
func (m *bsrMatrix) height(br int) int { return min(m.r, m.rows-br*m.r) }

func (m *bsrMatrix) mulVec(y, x []float32, u0, u1 int) {
	x = x[:m.cols]
	for br := u0; br < u1; br++ {
		lo, hi := m.blockPtr[br], m.blockPtr[br+1]
		if m.r == 1 && (m.c == 8 || m.c == 4) {
			y[br] = bsrRowDot(m.c, m.val[int(lo)*m.c:int(hi)*m.c], m.bcol[lo:hi], x)
			continue
		}
		rows := y[br*m.r:][:m.height(br)]
		clear(rows)
		if m.r == 4 && m.c == 4 && useAsm && hi > lo {
			// Full-width blocks in assembly (rows past the matrix are
			// zeros in the blocks), a ragged last block below.
			full := hi
			if int(m.bcol[hi-1])+4 > m.cols {
				full--
			}
			if full > lo {
				var acc [4]float32
				bsr4x4DotAVX2(&m.val[int(lo)*16], &m.bcol[lo], int(full-lo), &x[0], &acc)
				copy(rows, acc[:])
			}
			lo = full
		}
		for k := lo; k < hi; k++ {
			c0 := m.bcol[k]
			xs := x[c0:][:m.width(c0)]
			blk := m.val[int(k)*m.r*m.c:]
			for rr := range rows {
				b := blk[rr*m.c:][:len(xs)]
				var s float32
				for cc, v := range xs {
					s += b[cc] * v
				}
				rows[rr] += s
			}
		}
	}
}

// mulPanel runs the CSR panel kernel over the block rows spelled out
// row by row (asRows): the panel kernel's cost is a broadcast and FMAs
// per stored value, which blocks do not change. Blocks would let a kernel
// reuse each panel row for R output rows in registers; that kernel is not
// written yet.
func (m *bsrMatrix) mulPanel(out []float32, ldo int, p []float32, ldp, n int, u0, u1 int) {
	m.asRows().mulPanel(out, ldo, p, ldp, n, u0*m.r, min(u1*m.r, m.rows))
}

// asRows is the matrix as CSR with the blocks' zeros kept as stored
// values, built on first use.
func (m *bsrMatrix) asRows() *csrMatrix {
	m.rowsOnce.Do(func() {
		w := &csrMatrix{rows: m.rows, cols: m.cols, rowPtr: make([]int32, m.rows+1), val: make([]float32, 0, len(m.val))}
		short := m.cols <= 1<<16
		if short {
			w.col16 = make([]uint16, 0, len(m.val))
		} else {
			w.col32 = make([]int32, 0, len(m.val))
		}
		for o := range m.rows {
			br, rr := o/m.r, o%m.r
			for k := m.blockPtr[br]; k < m.blockPtr[br+1]; k++ {
				c0 := m.bcol[k]
				for cc, v := range m.val[int(k)*m.r*m.c+rr*m.c:][:m.width(c0)] {
					w.val = append(w.val, v)
					if short {
						w.col16 = append(w.col16, uint16(int(c0)+cc))
					} else {
						w.col32 = append(w.col32, c0+int32(cc))
					}
				}
			}
			w.rowPtr[o+1] = int32(len(w.val))
		}
		m.rowForm = w
	})
	return m.rowForm
}

// bsrRowDotGo is Σ over 1×c blocks of val·x[bcol:bcol+c], the last block
// clipped to len(x).
func bsrRowDotGo(c int, val []float32, bcol []int32, x []float32) float32 {
	var s float32
	for k, c0 := range bcol {
		xs := x[c0:min(int(c0)+c, len(x))]
		b := val[k*c:][:len(xs)]
		for cc, v := range xs {
			s += b[cc] * v
		}
	}
	return s
}
