package gemmtest

import (
	"math/rand/v2"
	"testing"
)

// naive is a straightforward correct implementation, used to check that the
// suite passes good code and fails each kind of broken code.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for l := 0; l < k; l++ {
				var av, bv float32
				if transA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if transB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func TestNaivePasses(t *testing.T) {
	// The naive code is slow at 257³; smaller sizes still cover every path
	// of the suite itself.
	defer func(s []int) { Sizes = s }(Sizes)
	Sizes = []int{1, 7, 33}
	Run(t, naive)
}

func TestSuiteCatchesBugs(t *testing.T) {
	bugs := map[string]SgemmFunc{
		"beta0 multiplies NaN": func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, th int) {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					c[i*ldc+j] *= beta
				}
			}
			naive(tA, tB, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc, th)
		},
		"ignores transB": func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, th int) {
			naive(tA, false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, th)
		},
		"drops last k": func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, th int) {
			naive(tA, tB, m, n, max(k-1, 0), alpha, a, lda, b, ldb, beta, c, ldc, th)
		},
		"writes C padding": func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, th int) {
			naive(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, th)
			if ldc > n && m > 1 {
				c[n] = 0
			}
		},
		"float16-ish accuracy": func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, th int) {
			naive(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, th)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					c[i*ldc+j] *= 1 + 1.0/1024
				}
			}
		},
		"wrong with threads": func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, th int) {
			naive(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, th)
			if th == 3 && m > 0 && n > 0 {
				c[(m-1)*ldc+n-1] += 1
			}
		},
	}
	for name, f := range bugs {
		caught := false
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				rng := rand.New(rand.NewPCG(1, 2))
				for _, s := range [][3]int{{7, 33, 7}, {33, 7, 33}} {
					p := NewProblem(rng, tA, tB, s[0], s[1], s[2])
					if len(p.CheckAll(f)) > 0 {
						caught = true
					}
				}
			}
		}
		if !caught {
			t.Errorf("suite did not catch bug %q", name)
		}
	}
}
