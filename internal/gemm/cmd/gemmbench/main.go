// Command gemmbench times one Sgemm implementation on a list of shapes and
// prints one line per shape: "m n k transA transB impl threads GFLOP/s".
// scripts/bench_gemm.sh runs it from a default build (shears) and from a
// -tags openblas build (OpenBLAS) and tabulates the two.
//
// Each shape is timed in several trials of at least -trialtime; the best
// trial is reported, since on a shared machine noise only ever slows a run
// down.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/gemm/openblas"
)

func main() {
	impl := flag.String("impl", "shears", "implementation: shears, openblas, or a gemm kernel name (avx512, avx2, generic)")
	threads := flag.Int("threads", 2, "threads for shears (OpenBLAS uses OPENBLAS_NUM_THREADS)")
	shapes := flag.String("shapes", "256x256x256,512x512x512,1024x1024x1024,8192x64x576", "comma-separated MxNxK, optional suffix :TN, :NT or :TT for transA/transB")
	trials := flag.Int("trials", 5, "timed trials per shape")
	trialTime := flag.Duration("trialtime", 300*time.Millisecond, "minimum duration of one trial")
	flag.Parse()

	sgemm := gemm.Sgemm
	var name string
	switch *impl {
	case "openblas":
		if !openblas.Available {
			fatalf("this binary was built without -tags openblas")
		}
		sgemm = openblas.Sgemm
		name = "openblas/" + openblas.CoreName()
	case "shears":
		name = "shears/" + gemm.Kernel()
	default:
		if err := gemm.SetKernel(*impl); err != nil {
			fatalf("%v", err)
		}
		name = "shears/" + *impl
	}

	for _, s := range strings.Split(*shapes, ",") {
		m, n, k, tA, tB, err := parseShape(s)
		if err != nil {
			fatalf("%v", err)
		}
		g := run(sgemm, tA, tB, m, n, k, *threads, *trials, *trialTime)
		fmt.Printf("%d %d %d %v %v %s %d %.1f\n", m, n, k, tA, tB, name, *threads, g)
	}
}

func parseShape(s string) (m, n, k int, tA, tB bool, err error) {
	s, trans, _ := strings.Cut(strings.TrimSpace(s), ":")
	parts := strings.Split(s, "x")
	if len(parts) != 3 {
		return 0, 0, 0, false, false, fmt.Errorf("shape %q: want MxNxK", s)
	}
	var d [3]int
	for i, p := range parts {
		if d[i], err = strconv.Atoi(p); err != nil || d[i] <= 0 {
			return 0, 0, 0, false, false, fmt.Errorf("shape %q: bad size %q", s, p)
		}
	}
	switch trans {
	case "", "NN":
	case "TN":
		tA = true
	case "NT":
		tB = true
	case "TT":
		tA, tB = true, true
	default:
		return 0, 0, 0, false, false, fmt.Errorf("shape %q: transpose suffix must be NN, TN, NT or TT", s)
	}
	return d[0], d[1], d[2], tA, tB, nil
}

// run returns the best GFLOP/s over the trials.
func run(sgemm func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int, int), tA, tB bool, m, n, k, threads, trials int, trialTime time.Duration) float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	call := func() { sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n, threads) }
	call() // warm up caches, buffer pools and thread pools
	best := 0.0
	for t := 0; t < trials; t++ {
		reps := 0
		start := time.Now()
		for time.Since(start) < trialTime {
			call()
			reps++
		}
		g := 2 * float64(m) * float64(n) * float64(k) * float64(reps) / time.Since(start).Seconds() / 1e9
		best = max(best, g)
	}
	return best
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gemmbench: "+format+"\n", args...)
	os.Exit(2)
}
