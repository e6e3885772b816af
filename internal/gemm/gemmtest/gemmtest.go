// Package gemmtest is a conformance suite for row-major single-precision
// GEMM implementations with the signature of gemm.Sgemm, in the spirit of
// gonum's blas/testblas: every implementation (each gemm micro-kernel, and
// OpenBLAS behind the openblas build tag) is held to the same checks against
// a float64 reference.
package gemmtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// SgemmFunc has the signature and semantics of gemm.Sgemm.
type SgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int)

// Sizes used for m, n and k independently. 257 crosses the 256-deep k
// blocking and leaves ragged edges for every register tile in use.
var Sizes = []int{1, 7, 33, 257}

var (
	alphas  = []float32{1, -0.5, 0}
	betas   = []float32{0, 1, 0.3}
	threads = []int{1, 2, 3}
)

// maxErrors stops a broken implementation from printing thousands of lines.
const maxErrors = 10

// Run checks f on all four transpose combinations, every (m, n, k) from
// Sizes, tight and padded leading dimensions, alpha in {1, -0.5, 0}, beta in
// {0, 1, 0.3} and threads in {1, 2, 3}.
func Run(t *testing.T, f SgemmFunc) {
	t.Helper()
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			t.Run(fmt.Sprintf("transA=%v,transB=%v", tA, tB), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(b2i(tA)*2+b2i(tB))))
				errs := 0
				for _, m := range Sizes {
					for _, n := range Sizes {
						for _, k := range Sizes {
							p := NewProblem(rng, tA, tB, m, n, k)
							for _, err := range p.CheckAll(f) {
								t.Error(err)
								if errs++; errs >= maxErrors {
									t.Fatal("too many errors")
								}
							}
						}
					}
				}
			})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Problem is one (transA, transB, m, n, k) with fixed random operands and
// their float64 product.
type Problem struct {
	TransA, TransB bool
	M, N, K        int
	opA, opB       []float64    // op(A) m×k, op(B) k×n, dense
	c0             []float64    // initial C for beta != 0, m×n
	ab             []float64    // op(A)*op(B) in float64
	absAB          []float64    // |op(A)|*|op(B)|, scales the error bound
	a, b           [2][]float32 // A and B laid out tight [0] and padded [1]
}

// NewProblem draws operands uniformly from [-1, 1].
func NewProblem(rng *rand.Rand, transA, transB bool, m, n, k int) *Problem {
	p := &Problem{TransA: transA, TransB: transB, M: m, N: n, K: k}
	fill := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			// Values exactly representable in float32, so the only error
			// measured is the implementation's.
			s[i] = float64(float32(rng.Float64()*2 - 1))
		}
		return s
	}
	p.opA, p.opB, p.c0 = fill(m*k), fill(k*n), fill(m*n)
	p.ab = make([]float64, m*n)
	p.absAB = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for l := 0; l < k; l++ {
			a := p.opA[i*k+l]
			for j := 0; j < n; j++ {
				p.ab[i*n+j] += a * p.opB[l*n+j]
				p.absAB[i*n+j] += math.Abs(a * p.opB[l*n+j])
			}
		}
	}
	return p
}

// Sentinels: NaN in the padding of A and B, so reading it poisons the
// result; a recognisable value in the padding of C, which must survive.
var (
	padAB = float32(math.NaN())
	padC  = math.Float32frombits(0x7fa5a5a5) // a NaN payload nothing computes
)

// layout stores a rows×cols matrix row-major with leading dimension ld
// (≥ cols), padding filled with pad. The slice has exactly the minimum
// length BLAS allows; the returned full buffer also has a padded tail.
func layout(rows, cols, ld int, get func(i, j int) float32, pad float32) (view, full []float32) {
	const tail = 7
	need := 0
	if rows > 0 && cols > 0 {
		need = (rows-1)*ld + cols
	}
	full = make([]float32, need+tail)
	for i := range full {
		full[i] = pad
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			full[i*ld+j] = get(i, j)
		}
	}
	return full[:need], full
}

// CheckAll runs every (layout, alpha, beta, threads) combination on p.
func (p *Problem) CheckAll(f SgemmFunc) []error {
	var errs []error
	for _, padded := range []bool{false, true} {
		for _, alpha := range alphas {
			for _, beta := range betas {
				for _, th := range threads {
					if err := p.Check(f, padded, alpha, beta, th); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	return errs
}

// Check runs f once and compares the result with the float64 reference.
// With padded, every leading dimension exceeds its row width.
func (p *Problem) Check(f SgemmFunc, padded bool, alpha, beta float32, threads int) error {
	m, n, k := p.M, p.N, p.K
	ra, ca := m, k
	if p.TransA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if p.TransB {
		rb, cb = n, k
	}
	lda, ldb, ldc := max(ca, 1), max(cb, 1), max(n, 1)
	if padded {
		lda, ldb, ldc = ca+3, cb+5, n+2
	}
	pi := b2i(padded)
	if p.a[pi] == nil {
		p.a[pi], _ = layout(ra, ca, lda, func(i, j int) float32 {
			if p.TransA {
				return float32(p.opA[j*k+i])
			}
			return float32(p.opA[i*k+j])
		}, padAB)
		p.b[pi], _ = layout(rb, cb, ldb, func(i, j int) float32 {
			if p.TransB {
				return float32(p.opB[j*n+i])
			}
			return float32(p.opB[i*n+j])
		}, padAB)
	}
	// f gets copies, so the pristine layouts also detect writes to A or B.
	aCopy, bCopy := p.a[pi], p.b[pi]
	a, b := append([]float32(nil), aCopy...), append([]float32(nil), bCopy...)
	c, cfull := layout(m, n, ldc, func(i, j int) float32 {
		if beta == 0 {
			return float32(math.NaN()) // must be ignored
		}
		return float32(p.c0[i*n+j])
	}, padC)

	name := fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%v beta=%v threads=%d",
		p.TransA, p.TransB, m, n, k, lda, ldb, ldc, alpha, beta, threads)
	if err := call(f, p.TransA, p.TransB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if !sameBits(a, aCopy) || !sameBits(b, bCopy) {
		return fmt.Errorf("%s: A or B was modified", name)
	}
	const eps = 1.0 / (1 << 24) // float32 unit roundoff
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			want := float64(alpha) * p.ab[i*n+j]
			scale := math.Abs(float64(alpha)) * p.absAB[i*n+j]
			if beta != 0 {
				want += float64(beta) * p.c0[i*n+j]
				scale += math.Abs(float64(beta) * p.c0[i*n+j])
			}
			got := float64(c[i*ldc+j])
			// A k-term float32 dot product may be off by about k
			// roundings of the running sum, plus the alpha/beta update.
			tol := float64(k+4) * eps * scale
			if !(math.Abs(got-want) <= tol) {
				return fmt.Errorf("%s: C[%d,%d] = %v, want %v (tolerance %.3g)", name, i, j, got, want, tol)
			}
		}
	}
	for idx, v := range cfull {
		i, j := idx/ldc, idx%ldc
		inside := i < m && j < n
		if !inside && math.Float32bits(v) != math.Float32bits(padC) {
			return fmt.Errorf("%s: C padding at offset %d (row %d, col %d) overwritten with %v", name, idx, i, j, v)
		}
	}
	return nil
}

// call runs f, turning a panic (valid arguments must never panic) into an
// error.
func call(f SgemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	f(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
	return nil
}

func sameBits(x, y []float32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

// Deterministic checks that repeated calls with the same inputs and thread
// count give bit-identical results on a few shapes large enough to be split
// across workers and k blocks.
func Deterministic(t *testing.T, f SgemmFunc, threads int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, s := range [][3]int{{257, 300, 513}, {64, 784, 576}, {1000, 33, 70}} {
		m, n, k := s[0], s[1], s[2]
		a := randSlice(rng, m*k)
		b := randSlice(rng, k*n)
		c0 := randSlice(rng, m*n)
		var first []float32
		for rep := 0; rep < 3; rep++ {
			c := append([]float32(nil), c0...)
			f(false, false, m, n, k, 1, a, k, b, n, 0.5, c, n, threads)
			if rep == 0 {
				first = c
			} else if !sameBits(first, c) {
				t.Errorf("m=%d n=%d k=%d threads=%d: run %d differs from run 0", m, n, k, threads, rep)
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}
