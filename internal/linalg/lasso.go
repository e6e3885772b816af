package linalg

import (
	"fmt"
	"math"
)

// Lasso solves min_β ½βᵀQβ − bᵀβ + λ‖β‖₁ by cyclic coordinate descent,
// the LASSO ½‖y − Zβ‖² + λ‖β‖₁ written with Q = ZᵀZ (n×n) and b = Zᵀy, so
// that only the Gram matrix of the regressors is needed. beta is the
// starting point and the result (warm starts along a λ path). Coordinates
// with Q_jj = 0 stay 0.
func Lasso(q, b []float64, n int, lambda float64, beta []float64, iters int, tol float64) {
	for range iters {
		var change, scale float64
		for j := range n {
			qjj := q[j*n+j]
			if qjj <= 0 {
				beta[j] = 0
				continue
			}
			// r = b_j − Σ_{k≠j} Q_jk β_k
			r := b[j]
			row := q[j*n : (j+1)*n]
			for k, bk := range beta {
				if k != j && bk != 0 {
					r -= row[k] * bk
				}
			}
			nb := softThreshold(r, lambda) / qjj
			change = max(change, math.Abs(nb-beta[j]))
			scale = max(scale, math.Abs(nb))
			beta[j] = nb
		}
		if change <= tol*max(scale, 1e-300) {
			return
		}
	}
}

func softThreshold(x, t float64) float64 {
	switch {
	case x > t:
		return x - t
	case x < -t:
		return x + t
	}
	return 0
}

// NonZero counts the non-zero entries of beta.
func NonZero(beta []float64) int {
	n := 0
	for _, v := range beta {
		if v != 0 {
			n++
		}
	}
	return n
}

// UnreachableError says that no λ leaves the wanted number of non-zero
// coefficients: at λ → 0 only Reachable of N regressors enter the model
// (the others contribute nothing).
type UnreachableError struct{ Want, Reachable, N int }

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("LASSO keeps at most %d of %d (%.3g of them) at any λ; %d asked", e.Reachable, e.N, float64(e.Reachable)/float64(max(e.N, 1)), e.Want)
}

// LassoPath searches λ (bisection on log λ between 0 and λ_max = max|b|,
// where every β is zero) for a solution with exactly k non-zero
// coefficients, warm-starting each solve from the last. When no λ in the
// search gives exactly k, it returns the solution with the smallest count
// above k (the caller keeps the k largest |β|). An UnreachableError says
// that even the least penalised solve keeps fewer than k.
func LassoPath(q, b []float64, n, k int) (beta []float64, lambda float64, err error) {
	if k < 0 || k > n {
		return nil, 0, fmt.Errorf("linalg: LASSO target %d of %d", k, n)
	}
	var lmax float64
	for _, v := range b {
		lmax = max(lmax, math.Abs(v))
	}
	beta = make([]float64, n)
	if k == 0 || lmax == 0 {
		if k > 0 {
			return nil, 0, &UnreachableError{k, 0, n}
		}
		return beta, lmax, nil
	}
	const iters, tol = 500, 1e-7
	// The least penalised solve: how many regressors can enter at all.
	lo := lmax * 1e-9
	Lasso(q, b, n, lo, beta, iters, tol)
	if nz := NonZero(beta); nz < k {
		return nil, 0, &UnreachableError{k, nz, n}
	} else if nz == k {
		return beta, lo, nil
	}
	best := append([]float64(nil), beta...)
	bestLam, bestNZ := lo, NonZero(beta)
	hi := lmax
	for range 60 {
		mid := math.Sqrt(lo * hi)
		Lasso(q, b, n, mid, beta, iters, tol)
		nz := NonZero(beta)
		if nz == k {
			return beta, mid, nil
		}
		if nz > k {
			lo = mid
			if nz < bestNZ {
				copy(best, beta)
				bestLam, bestNZ = mid, nz
			}
		} else {
			hi = mid
		}
		if hi/lo < 1+1e-9 {
			break
		}
	}
	return best, bestLam, nil
}
