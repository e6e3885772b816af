// Package parallel splits loops over a fixed number of worker goroutines.
//
// The workers are persistent and spin for a while after each job before
// they sleep (as ONNX Runtime's thread pool does). Waking a sleeping
// goroutine's thread takes tens of microseconds on a VM, and batch-1
// inference runs a parallel loop every few dozen microseconds: with fresh
// goroutines per loop, half its time went to waiting for wake-ups.
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
	"time"
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
// suffices; otherwise the caller runs chunk 0 and the pool's workers (or,
// when they are all busy, new goroutines) the others.
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
	chunk := (n + threads - 1) / threads
	workers := (n + chunk - 1) / chunk
	t := &task{fn: fn, n: n, chunk: chunk, done: make(chan struct{})}
	t.pending.Store(int32(workers - 1))
	for w := 1; w < workers; w++ {
		if !thePool.submit(t, w) {
			go t.run(w)
		}
	}
	t.do(0)
	t.wait()
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

// spinTime is how long an idle pool worker, or a caller waiting for the
// workers, spins before it blocks.
const spinTime = 200 * time.Microsecond

// task is one For call's work.
type task struct {
	fn       func(lo, hi, worker int)
	n, chunk int
	pending  atomic.Int32  // chunks other than 0 still running
	done     chan struct{} // closed when pending reaches 0
}

// do runs chunk w.
func (t *task) do(w int) { t.fn(w*t.chunk, min((w+1)*t.chunk, t.n), w) }

// run runs chunk w and signals its end.
func (t *task) run(w int) {
	t.do(w)
	t.finish()
}

func (t *task) finish() {
	if t.pending.Add(-1) == 0 {
		close(t.done)
	}
}

// wait returns when every chunk but the caller's has run: spinning first,
// since the chunks are the same size and end at about the same time.
func (t *task) wait() {
	start := time.Now()
	for spins := 1; t.pending.Load() != 0; spins++ {
		if spins%64 == 0 {
			if time.Since(start) > spinTime {
				<-t.done
				return
			}
			runtime.Gosched()
		}
	}
}

// pool is the process's persistent workers, GOMAXPROCS−1 of them, started
// on first use.
type pool struct {
	once    sync.Once
	workers []*poolWorker
}

var thePool pool

type poolWorker struct {
	busy     atomic.Bool // claimed by a For call, until its chunk has run
	task     atomic.Pointer[task]
	chunk    int // the claimed chunk; published by the task store
	sleeping atomic.Bool
	wake     chan struct{}
}

// submit hands chunk w of t to an idle worker, reporting false when none
// is idle (all busy, maybe with the caller's own enclosing For).
func (p *pool) submit(t *task, w int) bool {
	p.once.Do(func() {
		for range runtime.GOMAXPROCS(0) - 1 {
			pw := &poolWorker{wake: make(chan struct{}, 1)}
			p.workers = append(p.workers, pw)
			go pw.loop()
		}
	})
	for _, pw := range p.workers {
		if pw.busy.CompareAndSwap(false, true) {
			pw.chunk = w
			pw.task.Store(t)
			if pw.sleeping.Load() {
				select {
				case pw.wake <- struct{}{}:
				default:
				}
			}
			return true
		}
	}
	return false
}

func (pw *poolWorker) loop() {
	for {
		t := pw.await()
		t.do(pw.chunk)
		// Free before finishing: the caller may submit its next loop as
		// soon as it sees the count reach zero.
		pw.busy.Store(false)
		t.finish()
	}
}

// await returns the next task: spinning for spinTime, then sleeping until
// a submit wakes it. The sleeping flag is set before the last look at the
// task slot and read by submit after its store, so a task is never missed.
func (pw *poolWorker) await() *task {
	start := time.Now()
	for spins := 1; ; spins++ {
		if pw.task.Load() != nil {
			return pw.task.Swap(nil)
		}
		if spins%64 != 0 {
			continue
		}
		if time.Since(start) < spinTime {
			runtime.Gosched()
			continue
		}
		pw.sleeping.Store(true)
		if t := pw.task.Swap(nil); t != nil {
			pw.sleeping.Store(false)
			return t
		}
		<-pw.wake
		pw.sleeping.Store(false)
		start = time.Now()
	}
}
