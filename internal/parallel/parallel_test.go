package parallel

import (
	"sync/atomic"
	"testing"
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
