package sparse

import (
	"fmt"
	"sync"
)

// nmMatrix is N:M sparsity along the input axis: row o's group g (columns
// g·M … g·M+M−1, the last group short when M does not divide cols) keeps n
// values at val[(o·groups+g)·n:] and their positions within the group in
// pos (same index). A group with fewer than n nonzeros is padded with
// zero values at positions the group does not otherwise use.
type nmMatrix struct {
	rows, cols int
	n, m       int
	groups     int
	val        []float32
	pos        []uint8
	nonzeros   int

	rowsOnce sync.Once
	rowForm  *csrMatrix // asRows
}

func newNM(w []float32, rows, cols, n, m int) (*nmMatrix, error) {
	groups := (cols + m - 1) / m
	nm := &nmMatrix{
		rows: rows, cols: cols, n: n, m: m, groups: groups,
		val: make([]float32, rows*groups*n),
		pos: make([]uint8, rows*groups*n),
	}
	for o := range rows {
		for g := range groups {
			at := (o*groups + g) * n
			kept := 0
			var used [maxBlock]bool
			width := min(m, cols-g*m)
			for p, v := range w[o*cols+g*m:][:width] {
				if v == 0 {
					continue
				}
				if kept == n {
					return nil, fmt.Errorf("sparse: weight row %d, inputs %d..%d: more than %d nonzeros in a group of %d, not %d:%d sparse", o, g*m, g*m+width-1, n, m, n, m)
				}
				nm.val[at+kept], nm.pos[at+kept] = v, uint8(p)
				used[p] = true
				kept++
			}
			nm.nonzeros += kept
			// Pad at unused positions (a short last group may have fewer
			// than n positions: then repeat position 0 with value 0).
			for p := 0; kept < n; p++ {
				if p >= width {
					nm.pos[at+kept] = 0
					kept++
					continue
				}
				if !used[p] {
					nm.pos[at+kept] = uint8(p)
					kept++
				}
			}
		}
	}
	return nm, nil
}

func (nm *nmMatrix) Format() Format         { return Format{Kind: NM, R: nm.n, C: nm.m} }
func (nm *nmMatrix) Dims() (rows, cols int) { return nm.rows, nm.cols }
func (nm *nmMatrix) NonZeros() int          { return nm.nonzeros }
func (nm *nmMatrix) Stored() int            { return len(nm.val) }
func (nm *nmMatrix) Bytes() int             { return 4*len(nm.val) + len(nm.pos) }
func (nm *nmMatrix) units() int             { return nm.rows }
func (nm *nmMatrix) unitRows() int          { return 1 }
func (nm *nmMatrix) work(u int) int         { return u * nm.groups * nm.n }

func (nm *nmMatrix) Dense() []float32 {
	w := make([]float32, nm.rows*nm.cols)
	for o := range nm.rows {
		for k := range nm.groups * nm.n {
			at := o*nm.groups*nm.n + k
			if v := nm.val[at]; v != 0 {
				w[o*nm.cols+(k/nm.n)*nm.m+int(nm.pos[at])] = v
			}
		}
	}
	return w
}

// row returns row o's values and positions.
func (nm *nmMatrix) row(o int) ([]float32, []uint8) {
	k := nm.groups * nm.n
	return nm.val[o*k:][:k], nm.pos[o*k:][:k]
}

func (nm *nmMatrix) mulVec(y, x []float32, u0, u1 int) {
	x = x[:nm.cols]
	for o := u0; o < u1; o++ {
		val, pos := nm.row(o)
		y[o] = nmDot(val, pos, nm.n, nm.m, x)
	}
}

// mulPanel runs the CSR panel kernel over the rows with their columns
// spelled out (asRows, padding zeros kept): at panel widths of 8 and more
// the index arithmetic N:M saves is a small part of the work.
func (nm *nmMatrix) mulPanel(out []float32, ldo int, p []float32, ldp, n int, u0, u1 int) {
	nm.asRows().mulPanel(out, ldo, p, ldp, n, u0, u1)
}

// asRows is the matrix as CSR with the padding zeros as stored values,
// built on first use.
func (nm *nmMatrix) asRows() *csrMatrix {
	nm.rowsOnce.Do(func() {
		per := nm.groups * nm.n
		w := &csrMatrix{rows: nm.rows, cols: nm.cols, rowPtr: make([]int32, nm.rows+1), val: nm.val}
		short := nm.cols <= 1<<16
		if short {
			w.col16 = make([]uint16, 0, len(nm.val))
		} else {
			w.col32 = make([]int32, 0, len(nm.val))
		}
		for o := range nm.rows {
			_, pos := nm.row(o)
			for k, q := range pos {
				c := (k/nm.n)*nm.m + int(q)
				if short {
					w.col16 = append(w.col16, uint16(c))
				} else {
					w.col32 = append(w.col32, int32(c))
				}
			}
			w.rowPtr[o+1] = int32((o + 1) * per)
		}
		nm.rowForm = w
	})
	return nm.rowForm
}

// nmDotGo is Σ_k val[k]·x[(k/n)·m+pos[k]].
func nmDotGo(val []float32, pos []uint8, n, m int, x []float32) float32 {
	pos = pos[:len(val)]
	var s0, s1 float32
	base := 0
	k := 0
	for ; k+2*n <= len(val); k += 2 * n {
		for j := range n {
			s0 += val[k+j] * x[base+int(pos[k+j])]
			s1 += val[k+n+j] * x[base+m+int(pos[k+n+j])]
		}
		base += 2 * m
	}
	for ; k < len(val); k += n {
		for j := range n {
			s0 += val[k+j] * x[base+int(pos[k+j])]
		}
		base += m
	}
	return s0 + s1
}
