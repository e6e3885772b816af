package linalg

import (
	"errors"
	"fmt"
	"math"
)

// ErrNotFinite is returned for a matrix holding NaN or ±Inf.
var ErrNotFinite = errors.New("linalg: matrix has NaN or infinite entries")

// Cholesky factors the symmetric positive definite n×n matrix a (row-major,
// both triangles or the lower one read) as L·Lᵀ and returns L (lower
// triangular, row-major), or false when a is not positive definite to
// working precision.
func Cholesky(a []float64, n int) ([]float64, bool) {
	l := make([]float64, n*n)
	for j := range n {
		s := a[j*n+j]
		lj := l[j*n : j*n+j]
		for _, v := range lj {
			s -= v * v
		}
		// A pivot below 1e-10 of its diagonal entry means the column is a
		// near-linear combination of the ones before (condition number
		// past ~1e10): solving with it would amplify rounding into the
		// weights, so the caller regularises instead.
		if !(s > 1e-10*math.Abs(a[j*n+j])) {
			return nil, false
		}
		d := math.Sqrt(s)
		l[j*n+j] = d
		for i := j + 1; i < n; i++ {
			t := a[i*n+j]
			li := l[i*n : i*n+j]
			for k, v := range li {
				t -= v * lj[k]
			}
			l[i*n+j] = t / d
		}
	}
	return l, true
}

// Regularized is a Cholesky factorisation of A + Added·I.
type Regularized struct {
	L     []float64 // lower factor of A + Added·I
	N     int
	Added float64 // the ridge added to the diagonal
	Base  float64 // the ridge asked for
	// MinPivot is the smallest L_jj² / (A_jj + Added): how much of a
	// diagonal entry survives elimination of the columns before it
	// (near 0: a column is nearly a combination of others, and the
	// ridge rather than the data decides its coefficient).
	MinPivot float64
}

// IllConditioned reports whether the ridge, rather than the data, decides
// part of the solution: more than the requested ridge had to be added for
// the factorisation to succeed, or some pivot kept less than 1e-5 of its
// diagonal entry (a near-singular direction, condition number past
// ~1e5).
func (r *Regularized) IllConditioned() bool {
	return r.Added > r.Base*1.0000001 || r.MinPivot < 1e-5
}

// minPivot computes MinPivot of factor l of m.
func minPivot(l, m []float64, n int) float64 {
	p := 1.0
	for j := range n {
		if d := m[j*n+j]; d > 0 {
			p = min(p, l[j*n+j]*l[j*n+j]/d)
		}
	}
	return p
}

// CholeskyRidge factors A + λ·I, starting from λ = rel·mean(diag A) (and
// a tiny absolute floor for an all-zero A), multiplying λ by 10 until the
// factorisation succeeds. Callers warn, naming what A belongs to, when
// IllConditioned: the solution is then a ridge regression, not the exact
// least squares one.
func CholeskyRidge(a []float64, n int, rel float64) (*Regularized, error) {
	var tr float64
	for i := range n {
		v := a[i*n+i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, ErrNotFinite
		}
		tr += v
	}
	for _, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, ErrNotFinite
		}
	}
	mean := tr / float64(max(n, 1))
	if mean <= 0 {
		mean = 1
	}
	base := rel * mean
	lam := base
	if lam == 0 {
		lam = 1e-12 * mean
		if l, ok := Cholesky(a, n); ok {
			return &Regularized{L: l, N: n, MinPivot: minPivot(l, a, n)}, nil
		}
	}
	m := make([]float64, len(a))
	for range 40 {
		copy(m, a)
		for i := range n {
			m[i*n+i] += lam
		}
		if l, ok := Cholesky(m, n); ok {
			return &Regularized{L: l, N: n, Added: lam, Base: base, MinPivot: minPivot(l, m, n)}, nil
		}
		lam *= 10
	}
	return nil, fmt.Errorf("linalg: %d×%d matrix not positive definite even with ridge %g", n, n, lam)
}

// Solve solves (A + Added·I)·X = B for X, B n×m row-major, in place.
func (r *Regularized) Solve(b []float64, m int) {
	n, l := r.N, r.L
	// L·Z = B
	for i := range n {
		bi := b[i*m : (i+1)*m]
		for k := range i {
			f := l[i*n+k]
			if f == 0 {
				continue
			}
			bk := b[k*m : (k+1)*m]
			for c := range bi {
				bi[c] -= f * bk[c]
			}
		}
		d := l[i*n+i]
		for c := range bi {
			bi[c] /= d
		}
	}
	// Lᵀ·X = Z
	for i := n - 1; i >= 0; i-- {
		bi := b[i*m : (i+1)*m]
		for k := i + 1; k < n; k++ {
			f := l[k*n+i]
			if f == 0 {
				continue
			}
			bk := b[k*m : (k+1)*m]
			for c := range bi {
				bi[c] -= f * bk[c]
			}
		}
		d := l[i*n+i]
		for c := range bi {
			bi[c] /= d
		}
	}
}

// Inverse returns (A + Added·I)⁻¹ (n×n, symmetric).
func (r *Regularized) Inverse() []float64 {
	n := r.N
	inv := make([]float64, n*n)
	for i := range n {
		inv[i*n+i] = 1
	}
	r.Solve(inv, n)
	// Symmetrise away rounding.
	for i := range n {
		for j := i + 1; j < n; j++ {
			v := (inv[i*n+j] + inv[j*n+i]) / 2
			inv[i*n+j], inv[j*n+i] = v, v
		}
	}
	return inv
}

// UpperCholeskyOfInverse returns the upper triangular U with UᵀU =
// (A + Added·I)⁻¹ (row-major; U = Lᵀ for the lower factor L of the
// inverse): the factor SparseGPT walks row by row, whose row q from the
// diagonal on is the inverse Hessian's row q once the variables before q
// are eliminated, divided by the square root of its diagonal.
func (r *Regularized) UpperCholeskyOfInverse() ([]float64, error) {
	n := r.N
	l, ok := Cholesky(r.Inverse(), n)
	if !ok {
		return nil, fmt.Errorf("linalg: inverse of a %d×%d matrix is not positive definite to working precision", n, n)
	}
	u := make([]float64, n*n)
	for i := range n {
		for j := 0; j <= i; j++ {
			u[j*n+i] = l[i*n+j]
		}
	}
	return u, nil
}
