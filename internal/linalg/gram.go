package linalg

// Gram accumulates AᵀA (Dim×Dim) and AᵀY (Dim×Out) over rows a of A and
// y of Y added one at a time, in float64: the normal equations of a least
// squares fit whose rows are never held at once. Only the upper triangle
// of AᵀA is accumulated (Sym fills the rest).
type Gram struct {
	Dim, Out int
	AtA      []float64 // Dim×Dim, upper triangle while accumulating
	AtY      []float64 // Dim×Out
	Rows     int
}

// NewGram returns an empty accumulator for rows of dim inputs and out
// targets (out may be 0: only AᵀA).
func NewGram(dim, out int) *Gram {
	return &Gram{Dim: dim, Out: out, AtA: make([]float64, dim*dim), AtY: make([]float64, dim*out)}
}

// Add adds one row a (len Dim) and its targets y (len Out, or nil when
// Out is 0).
func (g *Gram) Add(a, y []float64) {
	d := g.Dim
	for i, ai := range a {
		if ai == 0 {
			continue
		}
		row := g.AtA[i*d : (i+1)*d]
		for j := i; j < d; j++ {
			row[j] += ai * a[j]
		}
		if g.Out > 0 {
			t := g.AtY[i*g.Out : (i+1)*g.Out]
			for o, yo := range y {
				t[o] += ai * yo
			}
		}
	}
	g.Rows++
}

// Sym returns AᵀA with both triangles filled (a copy).
func (g *Gram) Sym() []float64 {
	d := g.Dim
	s := make([]float64, d*d)
	for i := range d {
		for j := i; j < d; j++ {
			v := g.AtA[i*d+j]
			s[i*d+j], s[j*d+i] = v, v
		}
	}
	return s
}
