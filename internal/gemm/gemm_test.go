package gemm_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/gemm/gemmtest"
	"github.com/shearsml/shears/internal/testutil"
)

// forEachKernel runs fn once per micro-kernel this CPU supports, so the
// generic and AVX2 paths are tested even where AVX-512 is the default.
func forEachKernel(t *testing.T, fn func(t *testing.T)) {
	for _, name := range gemm.Kernels() {
		t.Run(name, func(t *testing.T) {
			restore, err := gemm.UseKernel(name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			fn(t)
		})
	}
}

func TestKernels(t *testing.T) {
	ks := gemm.Kernels()
	if ks[len(ks)-1] != "generic" || ks[0] != gemm.Kernel() {
		t.Fatalf("Kernels() = %v, Kernel() = %q: want best first, generic last", ks, gemm.Kernel())
	}
	t.Logf("kernels: %v", ks)
	if err := gemm.SetKernel("no-such-kernel"); err == nil {
		t.Fatal("SetKernel accepted an unknown kernel")
	}
}

func TestConformance(t *testing.T) {
	forEachKernel(t, func(t *testing.T) { gemmtest.Run(t, gemm.Sgemm) })
}

// TestConformanceTinyBlocking reruns the suite with blocking so small that
// the test sizes exercise multiple k blocks, B blocks, A row blocks and
// thread splits of tiny problems.
func TestConformanceTinyBlocking(t *testing.T) {
	defer gemm.SetTinyBlocking()()
	// With blocks this small, 100 already crosses every boundary 257 would.
	defer func(s []int) { gemmtest.Sizes = s }(gemmtest.Sizes)
	gemmtest.Sizes = []int{1, 7, 33, 100}
	forEachKernel(t, func(t *testing.T) { gemmtest.Run(t, gemm.Sgemm) })
}

func TestDeterministic(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, th := range []int{1, 2, 3} {
			gemmtest.Deterministic(t, gemm.Sgemm, th)
		}
	})
}

// TestThreadCountInvariant checks the stronger promise of doc.go: work is
// split along whole register tiles and never along k, so the thread count
// does not change a single bit.
func TestThreadCountInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	forEachKernel(t, func(t *testing.T) {
		for _, s := range [][3]int{{300, 257, 600}, {1000, 40, 300}, {64, 784, 576}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			var ref []float32
			for _, th := range []int{1, 2, 3, 4} {
				c := make([]float32, m*n)
				gemm.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n, th)
				if th == 1 {
					ref = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%v threads=%d: C[%d] = %v, threads=1 gave %v", s, th, i, c[i], ref[i])
					}
				}
			}
		}
	})
}

// TestConcurrentCallers mimics callers that parallelise over images: many
// goroutines calling Sgemm with threads=1 at once, sharing the buffer pool.
func TestConcurrentCallers(t *testing.T) {
	const m, n, k = 32, 196, 288
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randSlice(rng, m*k), randSlice(rng, k*n)
	want := make([]float32, m*n)
	gemm.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n, 1)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]float32, m*n)
			for rep := 0; rep < 20; rep++ {
				gemm.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n, 1)
				for i := range c {
					if c[i] != want[i] {
						errs <- fmt.Sprintf("goroutine result differs at %d", i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestNoAllocSingleThread(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	shapes := []struct {
		tA, tB  bool
		m, n, k int
	}{
		{false, false, 64, 784, 576}, // conv forward
		{false, false, 16, 49, 9},    // tiny, in-place A and B
		{true, false, 576, 196, 64},  // input gradient
		{false, true, 64, 576, 196},  // weight gradient
	}
	for _, s := range shapes {
		ra, ca := s.m, s.k
		if s.tA {
			ra, ca = ca, ra
		}
		rb, cb := s.k, s.n
		if s.tB {
			rb, cb = cb, rb
		}
		a, b, c := make([]float32, ra*ca), make([]float32, rb*cb), make([]float32, s.m*s.n)
		gemm.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ca, b, cb, 0, c, s.n, 1) // warm the pool
		allocs := testing.AllocsPerRun(20, func() {
			gemm.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ca, b, cb, 1, c, s.n, 1)
		})
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per call, want 0", s, allocs)
		}
	}
}

func TestPanicsOnBadArguments(t *testing.T) {
	buf := func(n int) []float32 { return make([]float32, n) }
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"negative m", func() { gemm.Sgemm(false, false, -1, 2, 2, 1, buf(4), 2, buf(4), 2, 0, buf(4), 2, 1) }, "negative"},
		{"lda < k", func() { gemm.Sgemm(false, false, 2, 2, 3, 1, buf(6), 2, buf(6), 2, 0, buf(4), 2, 1) }, "lda"},
		{"lda < m transA", func() { gemm.Sgemm(true, false, 3, 2, 2, 1, buf(6), 2, buf(4), 2, 0, buf(6), 2, 1) }, "lda"},
		{"ldb < n", func() { gemm.Sgemm(false, false, 2, 3, 2, 1, buf(4), 2, buf(6), 2, 0, buf(6), 3, 1) }, "ldb"},
		{"ldb < k transB", func() { gemm.Sgemm(false, true, 2, 2, 3, 1, buf(6), 3, buf(6), 2, 0, buf(4), 2, 1) }, "ldb"},
		{"ldc < n", func() { gemm.Sgemm(false, false, 2, 3, 2, 1, buf(4), 2, buf(6), 3, 0, buf(6), 2, 1) }, "ldc"},
		{"short A", func() { gemm.Sgemm(false, false, 2, 2, 2, 1, buf(3), 2, buf(4), 2, 0, buf(4), 2, 1) }, "len(A)"},
		{"short B", func() { gemm.Sgemm(false, false, 2, 2, 2, 1, buf(4), 2, buf(3), 2, 0, buf(4), 2, 1) }, "len(B)"},
		{"short C strided", func() { gemm.Sgemm(false, false, 2, 2, 2, 1, buf(4), 2, buf(4), 2, 0, buf(4), 3, 1) }, "len(C)"},
		{"ld 0 on empty", func() { gemm.Sgemm(false, false, 0, 0, 0, 1, nil, 0, nil, 1, 0, nil, 1, 1) }, "lda"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "gemm: ") {
					t.Fatalf("panic %q, want a gemm: message mentioning %q", msg, tc.want)
				}
			}()
			tc.call()
		})
	}
	// Empty problems with consistent arguments are fine, and so is k == 0
	// (C = beta*C).
	gemm.Sgemm(false, false, 0, 3, 2, 1, nil, 2, buf(6), 3, 0, nil, 3, 1)
	c := []float32{float32(math.NaN()), 2}
	gemm.Sgemm(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 0, c, 2, 1)
	if c[0] != 0 || c[1] != 0 {
		t.Fatalf("k=0, beta=0: C = %v, want zeros", c)
	}
}

// randSlice draws n values uniform in [-1, 1] from the stream these tests
// were written with.
func randSlice(rng *rand.Rand, n int) []float32 { return testutil.Floats(rng, testutil.Uniform64, n) }

// TestSgemv checks the one-row product against a float64 reference for
// both orientations of B, betas 0 (C's NaNs ignored), 1 and ½, a B with
// padded rows, and sizes on either side of the parallel threshold; the
// results must not depend on the thread count.
func TestSgemv(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sz := range [][2]int{{1, 1}, {7, 5}, {500, 800}, {10, 1}, {2100, 2000}} {
		n, k := sz[0], sz[1]
		for _, transB := range []bool{false, true} {
			ldb := n + 3
			if transB {
				ldb = k + 3
			}
			a := randSlice(rng, k)
			b := randSlice(rng, ldb*max(n, k))
			for _, beta := range []float32{0, 1, 0.5} {
				c0 := randSlice(rng, n)
				if beta == 0 {
					c0[0] = float32(math.NaN())
				}
				var first []float32
				for _, threads := range []int{1, 2} {
					c := append([]float32(nil), c0...)
					gemm.Sgemv(transB, n, k, 1.5, a, b, ldb, beta, c, threads)
					for j := range c {
						var s float64
						for kk := range k {
							bv := b[kk*ldb+j]
							if transB {
								bv = b[j*ldb+kk]
							}
							s += float64(a[kk]) * float64(bv)
						}
						want := 1.5 * s
						if beta != 0 {
							want += float64(beta) * float64(c0[j])
						}
						if math.Abs(float64(c[j])-want) > 1e-4*(1+math.Sqrt(float64(k))) {
							t.Fatalf("n=%d k=%d transB=%v beta=%v threads=%d: c[%d] = %v, want %v", n, k, transB, beta, threads, j, c[j], want)
						}
					}
					if first == nil {
						first = c
					} else if !slices.Equal(first, c) {
						t.Fatalf("n=%d k=%d transB=%v: results differ between 1 and 2 threads", n, k, transB)
					}
				}
			}
		}
	}
}

// TestSgemmEpilogue: the epilogue applied inside the multiply gives exactly
// Sgemm's product with the bias, residual and clamp applied afterwards, for every
// shape class (edge tiles, several k and column blocks, in-place and
// packed operands), with and without a bias, on one and two threads.
func TestSgemmEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	inf := float32(math.Inf(1))
	for _, sz := range [][3]int{{1, 1, 1}, {5, 7, 3}, {33, 65, 17}, {64, 300, 600}, {96, 1100, 16}, {17, 40, 1}, {3, 2000, 27}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, trans := range [][2]bool{{false, false}, {true, false}, {false, true}} {
			lda, ldb := k, n
			if trans[0] {
				lda = m
			}
			if trans[1] {
				ldb = k
			}
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			res := randSlice(rng, m*n)
			for _, epi := range []gemm.Epilogue{{Bias: randSlice(rng, m), Lo: 0, Hi: inf}, {Lo: -0.25, Hi: 0.5}, {Bias: randSlice(rng, m), Lo: -inf, Hi: inf},
				{Bias: randSlice(rng, m), Lo: 0, Hi: inf, Res: res}, {Lo: -inf, Hi: 1, Res: res}} {
				for _, threads := range []int{1, 2} {
					want := make([]float32, m*n)
					gemm.Sgemm(trans[0], trans[1], m, n, k, 1, a, lda, b, ldb, 0, want, n, threads)
					for i := range m {
						var bias float32
						if epi.Bias != nil {
							bias = epi.Bias[i]
						}
						for j := range n {
							v := want[i*n+j] + bias
							if epi.Res != nil {
								v += epi.Res[i*n+j]
							}
							want[i*n+j] = min(max(v, epi.Lo), epi.Hi)
						}
					}
					got := randSlice(rng, m*n) // overwritten, not accumulated onto
					gemm.SgemmEpilogue(trans[0], trans[1], m, n, k, a, lda, b, ldb, got, n, &epi, threads)
					if !slices.Equal(got, want) {
						t.Fatalf("m=%d n=%d k=%d trans=%v epilogue %+v threads=%d: differs from Sgemm then epilogue", m, n, k, trans, epi, threads)
					}
				}
			}
		}
	}
}
