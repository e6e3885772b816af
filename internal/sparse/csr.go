package sparse

// csrMatrix is compressed sparse rows: row o's nonzeros are
// val[rowPtr[o]:rowPtr[o+1]] at columns col[...], columns increasing.
type csrMatrix struct {
	rows, cols int
	rowPtr     []int32
	col        []int32
	val        []float32
}

func newCSR(w []float32, rows, cols int) (*csrMatrix, error) {
	nnz := 0
	for _, v := range w {
		if v != 0 {
			nnz++
		}
	}
	m := &csrMatrix{
		rows: rows, cols: cols,
		rowPtr: make([]int32, rows+1),
		col:    make([]int32, 0, nnz),
		val:    make([]float32, 0, nnz),
	}
	for o := range rows {
		for i, v := range w[o*cols : (o+1)*cols] {
			if v != 0 {
				m.col = append(m.col, int32(i))
				m.val = append(m.val, v)
			}
		}
		m.rowPtr[o+1] = int32(len(m.val))
	}
	return m, nil
}

func (m *csrMatrix) Format() Format         { return FormatCSR }
func (m *csrMatrix) Dims() (rows, cols int) { return m.rows, m.cols }
func (m *csrMatrix) NonZeros() int          { return len(m.val) }
func (m *csrMatrix) Stored() int            { return len(m.val) }
func (m *csrMatrix) Bytes() int             { return 4*len(m.val) + 4*len(m.col) + 4*len(m.rowPtr) }
func (m *csrMatrix) units() int             { return m.rows }
func (m *csrMatrix) unitRows() int          { return 1 }
func (m *csrMatrix) work(u int) int         { return int(m.rowPtr[u]) }

func (m *csrMatrix) Dense() []float32 {
	w := make([]float32, m.rows*m.cols)
	for o := range m.rows {
		for k := m.rowPtr[o]; k < m.rowPtr[o+1]; k++ {
			w[o*m.cols+int(m.col[k])] = m.val[k]
		}
	}
	return w
}

func (m *csrMatrix) mulVec(y, x []float32, u0, u1 int) {
	x = x[:m.cols]
	for o := u0; o < u1; o++ {
		lo, hi := m.rowPtr[o], m.rowPtr[o+1]
		y[o] = csrDot(m.val[lo:hi], m.col[lo:hi], x)
	}
}

func (m *csrMatrix) mulPanel(out []float32, ldo int, p []float32, ldp, n int, u0, u1 int) {
	for o := u0; o < u1; o++ {
		lo, hi := m.rowPtr[o], m.rowPtr[o+1]
		panelRow(out[o*ldo:][:n], m.val[lo:hi], m.col[lo:hi], p, ldp)
	}
}

// csrDotGo is Σ_k val[k]·x[col[k]] in four partial sums.
func csrDotGo(val []float32, col []int32, x []float32) float32 {
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

// panelRowGo sets out[j] = Σ_k val[k]·p[col[k]·ldp+j] for j < len(out).
func panelRowGo(out, val []float32, col []int32, p []float32, ldp int) {
	clear(out)
	col = col[:len(val)]
	for k, v := range val {
		row := p[int(col[k])*ldp:][:len(out)]
		for j, x := range row {
			out[j] += v * x
		}
	}
}
