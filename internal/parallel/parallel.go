// Package parallel splits loops over a fixed number of worker goroutines.
//
// Work is always partitioned the same way for the same (n, threads), so code
// that reduces per-worker partial results in worker order is bit-identical
// from run to run: shears promises that the same seed and thread count give
// the same numbers.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var defaultThreads atomic.Int64

func init() { defaultThreads.Store(int64(runtime.GOMAXPROCS(0))) }

// Threads is the process-wide worker count used when a caller passes 0.
func Threads() int { return int(defaultThreads.Load()) }

// SetThreads sets the process-wide worker count (values < 1 mean GOMAXPROCS).
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	defaultThreads.Store(int64(n))
}

// Resolve turns a requested thread count into an actual one (0 → Threads()).
func Resolve(threads int) int {
	if threads <= 0 {
		return Threads()
	}
	return threads
}

// For runs fn over [0, n) split into at most threads contiguous chunks, one
// per worker; worker is the chunk index in [0, workers). It returns the
// number of workers used. fn runs on the calling goroutine when one worker
// suffices.
func For(n, threads int, fn func(lo, hi, worker int)) int {
	threads = Resolve(threads)
	if n <= 0 {
		return 0
	}
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		fn(0, n, 0)
		return 1
	}
	var wg sync.WaitGroup
	chunk := (n + threads - 1) / threads
	workers := (n + chunk - 1) / chunk
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		go func() {
			defer wg.Done()
			fn(lo, hi, w)
		}()
	}
	fn(0, min(chunk, n), 0)
	wg.Wait()
	return workers
}

// Workers returns how many workers For(n, threads, ...) would use.
func Workers(n, threads int) int {
	threads = Resolve(threads)
	if n <= 0 {
		return 0
	}
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		return 1
	}
	chunk := (n + threads - 1) / threads
	return (n + chunk - 1) / chunk
}
