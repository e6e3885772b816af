package sparse

// csrMatrix is compressed sparse rows: row o's nonzeros are
// val[rowPtr[o]:rowPtr[o+1]] at the same range of the column indices,
// columns increasing. The columns are col16 when the weight has at most
// 2¹⁶ inputs, else col32.
type csrMatrix struct {
	rows, cols int
	rowPtr     []int32
	col16      []uint16
	col32      []int32
	val        []float32
}

func newCSR(w []float32, rows, cols int) (*csrMatrix, error) {
	nnz := 0
	for _, v := range w {
		if v != 0 {
			nnz++
		}
	}
	m := &csrMatrix{rows: rows, cols: cols, rowPtr: make([]int32, rows+1), val: make([]float32, 0, nnz)}
	short := cols <= 1<<16
	if short {
		m.col16 = make([]uint16, 0, nnz)
	} else {
		m.col32 = make([]int32, 0, nnz)
	}
	for o := range rows {
		for i, v := range w[o*cols : (o+1)*cols] {
			if v == 0 {
				continue
			}
			if short {
				m.col16 = append(m.col16, uint16(i))
			} else {
				m.col32 = append(m.col32, int32(i))
			}
			m.val = append(m.val, v)
		}
		m.rowPtr[o+1] = int32(len(m.val))
	}
	return m, nil
}

func (m *csrMatrix) Format() Format         { return FormatCSR }
func (m *csrMatrix) Dims() (rows, cols int) { return m.rows, m.cols }
func (m *csrMatrix) NonZeros() int          { return len(m.val) }
func (m *csrMatrix) Stored() int            { return len(m.val) }
func (m *csrMatrix) Bytes() int {
	return 4*len(m.val) + 2*len(m.col16) + 4*len(m.col32) + 4*len(m.rowPtr)
}
func (m *csrMatrix) units() int     { return m.rows }
func (m *csrMatrix) unitRows() int  { return 1 }
func (m *csrMatrix) work(u int) int { return int(m.rowPtr[u]) }

// column is the column of stored value k.
func (m *csrMatrix) column(k int32) int {
	if m.col16 != nil {
		return int(m.col16[k])
	}
	return int(m.col32[k])
}

func (m *csrMatrix) Dense() []float32 {
	w := make([]float32, m.rows*m.cols)
	for o := range m.rows {
		for k := m.rowPtr[o]; k < m.rowPtr[o+1]; k++ {
			w[o*m.cols+m.column(k)] = m.val[k]
		}
	}
	return w
}

func (m *csrMatrix) mulVec(y, x []float32, u0, u1 int) {
	x = x[:m.cols]
	if useAsm && m.col16 != nil && len(m.val) > 0 && u1 > u0 {
		_ = y[u1-1]
		csrRows16AVX2(&y[u0], &m.rowPtr[u0], u1-u0, &m.val[0], &m.col16[0], &x[0])
		return
	}
	for o := u0; o < u1; o++ {
		lo, hi := m.rowPtr[o], m.rowPtr[o+1]
		if m.col16 != nil {
			y[o] = csrDot(m.val[lo:hi], m.col16[lo:hi], x)
		} else {
			y[o] = csrDot(m.val[lo:hi], m.col32[lo:hi], x)
		}
	}
}

func (m *csrMatrix) mulPanel(out []float32, ldo int, p []float32, ldp, n int, u0, u1 int) {
	if m.col16 != nil {
		csrPanel(m, m.col16, out, ldo, p, ldp, n, u0, u1)
	} else {
		csrPanel(m, m.col32, out, ldo, p, ldp, n, u0, u1)
	}
}

// panelBlockFloats is how much of the panel one pass over the rows reads:
// 192 KiB, well inside the L2 of the core. Each nonzero loads a row of the
// panel, and with all of a 4096-input panel (1 MiB at 64 columns) in play
// those loads came from L3 and the FMAs waited on them.
const panelBlockFloats = 48 << 10

// inputBlock is how many panel rows (inputs) one pass covers at n columns:
// a multiple of 8, at least 64.
func inputBlock(n int) int { return max(64, panelBlockFloats/max(n, 1)&^7) }

// csrPanel is mulPanel over blocks of inputs: for each block, every row's
// nonzeros in it (a cursor per row walks the sorted columns), added to the
// previous blocks' sums.
func csrPanel[T index](m *csrMatrix, col []T, out []float32, ldo int, p []float32, ldp, n int, u0, u1 int) {
	blk := inputBlock(n)
	if blk >= m.cols {
		for o := u0; o < u1; o++ {
			lo, hi := m.rowPtr[o], m.rowPtr[o+1]
			panelRow(out[o*ldo:][:n], m.val[lo:hi], col[lo:hi], p, ldp, false)
		}
		return
	}
	cursor := make([]int32, u1-u0)
	copy(cursor, m.rowPtr[u0:u1])
	for c0 := 0; c0 < m.cols; c0 += blk {
		c1 := T(min(c0+blk, m.cols) - 1) // the block's last column, fits T
		for o := u0; o < u1; o++ {
			lo, end := cursor[o-u0], m.rowPtr[o+1]
			hi := lo
			for hi < end && col[hi] <= c1 {
				hi++
			}
			cursor[o-u0] = hi
			if hi > lo || c0 == 0 {
				panelRow(out[o*ldo:][:n], m.val[lo:hi], col[lo:hi], p, ldp, c0 > 0)
			}
		}
	}
}

// csrDotGo is Σ_k val[k]·x[col[k]] in four partial sums.
func csrDotGo[T index](val []float32, col []T, x []float32) float32 {
	col = col[:len(val)]
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+4 <= len(val); k += 4 {
		s0 += val[k] * x[col[k]]
		s1 += val[k+1] * x[col[k+1]]
		s2 += val[k+2] * x[col[k+2]]
		s3 += val[k+3] * x[col[k+3]]
	}
	for ; k < len(val); k++ {
		s0 += val[k] * x[col[k]]
	}
	return (s0 + s1) + (s2 + s3)
}

// panelRowGo sets out[j] = Σ_k val[k]·p[col[k]·ldp+j] for j < len(out),
// adding to out when acc.
func panelRowGo[T index](out, val []float32, col []T, p []float32, ldp int, acc bool) {
	if !acc {
		clear(out)
	}
	col = col[:len(val)]
	for k, v := range val {
		row := p[int(col[k])*ldp:][:len(out)]
		for j, x := range row {
			out[j] += v * x
		}
	}
}
