package parallel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestForCoversRangeOnce(t *testing.T) {
	for _, n := range []int{1, 2, 7, 33, 100} {
		for _, th := range []int{1, 2, 3, 8} {
			hits := make([]int32, n)
			var workers atomic.Int32
			got := For(n, th, func(lo, hi, w int) {
				workers.Add(1)
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			if int(workers.Load()) != got || got != Workers(n, th) {
				t.Fatalf("n=%d th=%d: workers %d, reported %d, Workers %d", n, th, workers.Load(), got, Workers(n, th))
			}
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d th=%d: index %d hit %d times", n, th, i, h)
				}
			}
		}
	}
}

// TestForNestedAndConcurrent: For called from inside a For's chunks (the
// pool's workers are then busy) and from several goroutines at once, with
// pauses long enough for idle workers to go to sleep and be woken again,
// still covers every index exactly once.
func TestForNestedAndConcurrent(t *testing.T) {
	const n = 50
	check := func(hits []int32) {
		for i, h := range hits {
			if h != 1 {
				t.Errorf("index %d hit %d times", i, h)
				return
			}
		}
	}
	for round := range 4 {
		if round == 2 {
			time.Sleep(2 * spinTime) // the workers sleep
		}
		outer := make([]int32, 4*n)
		For(4, 2, func(lo, hi, _ int) {
			for i := lo; i < hi; i++ {
				For(n, 3, func(l, h, _ int) {
					for j := l; j < h; j++ {
						atomic.AddInt32(&outer[i*n+j], 1)
					}
				})
			}
		})
		check(outer)
		var wg sync.WaitGroup
		all := make([][]int32, 4)
		for g := range all {
			all[g] = make([]int32, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				For(n, 2, func(l, h, _ int) {
					for j := l; j < h; j++ {
						atomic.AddInt32(&all[g][j], 1)
					}
				})
			}()
		}
		wg.Wait()
		for _, h := range all {
			check(h)
		}
	}
}
