package gemm_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/gemm"
)

func TestExtremeShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, s := range [][3]int{{9, 8, 600000}, {3000, 2, 2000}, {2, 5000, 3}, {1, 1, 100000}, {100, 100, 50000}} {
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			c := make([]float32, m*n)
			gemm.Sgemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n, 2)
			for i := 0; i < m; i += max(1, m/7) {
				for j := 0; j < n; j += max(1, n/7) {
					var want, scale float64
					for l := 0; l < k; l++ {
						var av, bv float32
						if tr[0] {
							av = a[l*lda+i]
						} else {
							av = a[i*lda+l]
						}
						if tr[1] {
							bv = b[j*ldb+l]
						} else {
							bv = b[l*ldb+j]
						}
						want += float64(av) * float64(bv)
						scale += math.Abs(float64(av) * float64(bv))
					}
					if math.Abs(float64(c[i*n+j])-want) > 1e-5*scale+1e-6 {
						t.Errorf("%v %v: C[%d,%d]=%v want %v", s, tr, i, j, c[i*n+j], want)
					}
				}
			}
		}
	}
}
