package linalg

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randMat(r *rand.Rand, rows, cols int) []float64 {
	m := make([]float64, rows*cols)
	for i := range m {
		m[i] = r.NormFloat64()
	}
	return m
}

// gramOf accumulates the rows of a (rows×d) with targets y (rows×o).
func gramOf(a, y []float64, rows, d, o int) *Gram {
	g := NewGram(d, o)
	for i := range rows {
		var yi []float64
		if o > 0 {
			yi = y[i*o : (i+1)*o]
		}
		g.Add(a[i*d:(i+1)*d], yi)
	}
	return g
}

func matMul(a, b []float64, n, k, m int) []float64 {
	c := make([]float64, n*m)
	for i := range n {
		for p := range k {
			for j := range m {
				c[i*m+j] += a[i*k+p] * b[p*m+j]
			}
		}
	}
	return c
}

func transpose(a []float64, n, m int) []float64 {
	t := make([]float64, n*m)
	for i := range n {
		for j := range m {
			t[j*n+i] = a[i*m+j]
		}
	}
	return t
}

func maxDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

func TestGramMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rows, d, o := 37, 6, 3
	a, y := randMat(r, rows, d), randMat(r, rows, o)
	g := gramOf(a, y, rows, d, o)
	at := transpose(a, rows, d)
	if e := maxDiff(g.Sym(), matMul(at, a, d, rows, d)); e > 1e-12 {
		t.Fatalf("AᵀA off by %g", e)
	}
	if e := maxDiff(g.AtY, matMul(at, y, d, rows, o)); e > 1e-12 {
		t.Fatalf("AᵀY off by %g", e)
	}
	if g.Rows != rows {
		t.Fatalf("rows %d, want %d", g.Rows, rows)
	}
}

func TestCholeskyInverseAndUpperFactor(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 7
	a := randMat(r, 20, n)
	s := gramOf(a, nil, 20, n, 0).Sym()
	l, ok := Cholesky(s, n)
	if !ok {
		t.Fatal("SPD matrix not factored")
	}
	if e := maxDiff(matMul(l, transpose(l, n, n), n, n, n), s); e > 1e-10 {
		t.Fatalf("L·Lᵀ off by %g", e)
	}
	reg, err := CholeskyRidge(s, n, 0)
	if err != nil || reg.IllConditioned() {
		t.Fatalf("well-conditioned matrix: err %v, ill %v", err, reg.IllConditioned())
	}
	inv := reg.Inverse()
	id := matMul(inv, s, n, n, n)
	for i := range n {
		id[i*n+i] -= 1
	}
	if e := maxDiff(id, make([]float64, n*n)); e > 1e-9 {
		t.Fatalf("A⁻¹A − I off by %g", e)
	}
	u, err := reg.UpperCholeskyOfInverse()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for j := range i {
			if u[i*n+j] != 0 {
				t.Fatalf("U[%d,%d] = %g below the diagonal", i, j, u[i*n+j])
			}
		}
	}
	if e := maxDiff(matMul(transpose(u, n, n), u, n, n, n), inv); e > 1e-9 {
		t.Fatalf("UᵀU − A⁻¹ off by %g", e)
	}
}

func TestLeastSquaresRecoversWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rows, d, o := 200, 8, 4
	a, x := randMat(r, rows, d), randMat(r, d, o)
	y := matMul(a, x, rows, d, o)
	got, reg, err := LeastSquares(gramOf(a, y, rows, d, o), 1e-12)
	if err != nil {
		t.Fatal(err)
	}
	if reg.IllConditioned() {
		t.Fatal("full-rank system called ill-conditioned")
	}
	if e := maxDiff(got, x); e > 1e-8 {
		t.Fatalf("X off by %g", e)
	}
}

func TestLeastSquaresIllConditionedIsRegularised(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	rows, d := 50, 5
	a := randMat(r, rows, d)
	for i := range rows { // column 4 = column 3: singular AᵀA
		a[i*d+4] = a[i*d+3]
	}
	y := randMat(r, rows, 1)
	got, reg, err := LeastSquares(gramOf(a, y, rows, d, 1), 1e-12)
	if err != nil {
		t.Fatal(err)
	}
	if !reg.IllConditioned() {
		t.Fatal("singular system not reported ill-conditioned")
	}
	for _, v := range got {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite solution %v", got)
		}
	}
	// The duplicated columns share their weight under a ridge.
	if math.Abs(got[3]-got[4]) > 1e-6 {
		t.Fatalf("duplicate columns got %g and %g", got[3], got[4])
	}
	// Fewer rows than unknowns: rank-deficient too.
	few := gramOf(a, y, 2, d, 1)
	if _, reg, err := LeastSquares(few, 1e-12); err != nil || !reg.IllConditioned() {
		t.Fatalf("2 rows for 5 unknowns: err %v", err)
	}
}

func TestCholeskyRidgeRejectsNaN(t *testing.T) {
	s := []float64{1, 0, 0, math.NaN()}
	if _, err := CholeskyRidge(s, 2, 0); !errors.Is(err, ErrNotFinite) {
		t.Fatalf("NaN matrix: %v", err)
	}
}

// lassoObjective is ½βᵀQβ − bᵀβ + λ‖β‖₁.
func lassoObjective(q, b, beta []float64, n int, lam float64) float64 {
	var f float64
	for i := range n {
		for j := range n {
			f += 0.5 * beta[i] * q[i*n+j] * beta[j]
		}
		f += -b[i]*beta[i] + lam*math.Abs(beta[i])
	}
	return f
}

func TestLassoSatisfiesOptimality(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	rows, n := 60, 6
	z := randMat(r, rows, n)
	y := randMat(r, rows, 1)
	g := gramOf(z, y, rows, n, 1)
	q, b := g.Sym(), g.AtY
	lam := 5.0
	beta := make([]float64, n)
	Lasso(q, b, n, lam, beta, 10000, 1e-12)
	// KKT: (b − Qβ)_j = λ·sign(β_j) where β_j ≠ 0, |(b − Qβ)_j| ≤ λ elsewhere.
	for j := range n {
		gj := b[j]
		for k := range n {
			gj -= q[j*n+k] * beta[k]
		}
		if beta[j] != 0 && math.Abs(gj-lam*math.Copysign(1, beta[j])) > 1e-6 {
			t.Fatalf("coordinate %d: gradient %g, β %g", j, gj, beta[j])
		}
		if beta[j] == 0 && math.Abs(gj) > lam+1e-6 {
			t.Fatalf("coordinate %d at zero with |gradient| %g > λ", j, gj)
		}
	}
	// And no random perturbation does better.
	f := lassoObjective(q, b, beta, n, lam)
	for range 200 {
		p := append([]float64(nil), beta...)
		p[r.IntN(n)] += 0.01 * r.NormFloat64()
		if lassoObjective(q, b, p, n, lam) < f-1e-12 {
			t.Fatal("a perturbation lowers the objective")
		}
	}
}

func TestLassoPathHitsTarget(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	rows, n := 100, 12
	z := randMat(r, rows, n)
	y := make([]float64, rows)
	for i := range rows {
		for j := range n {
			y[i] += z[i*n+j] * float64(j+1) / float64(n)
		}
	}
	g := gramOf(z, y, rows, n, 1)
	for _, k := range []int{1, 3, 6, 11} {
		beta, _, err := LassoPath(g.Sym(), g.AtY, n, k)
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		if nz := NonZero(beta); nz < k {
			t.Fatalf("k=%d: %d non-zero", k, nz)
		}
	}
	// The strongest regressors enter first.
	beta, _, _ := LassoPath(g.Sym(), g.AtY, n, 1)
	if NonZero(beta) == 1 && beta[n-1] == 0 {
		t.Fatalf("k=1 picked a weak regressor: %v", beta)
	}
}

func TestLassoPathUnreachable(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	rows, n := 40, 5
	z := randMat(r, rows, n)
	for i := range rows { // regressors 3 and 4 are zero: they never enter
		z[i*n+3], z[i*n+4] = 0, 0
	}
	y := randMat(r, rows, 1)
	g := gramOf(z, y, rows, n, 1)
	_, _, err := LassoPath(g.Sym(), g.AtY, n, 4)
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Reachable != 3 {
		t.Fatalf("want unreachable with 3 reachable, have %v", err)
	}
}
