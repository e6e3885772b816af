package cpu

// Shared machinery of the elementwise, activation and shape ops: numpy
// broadcasting, a strided iteration plan (used for broadcasting, Transpose,
// Slice, Expand and ReduceMean), chunked parallel loops and readers for
// integer-valued constant inputs.

import (
	"fmt"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// elemParMin is the element count from which elementwise and data-movement
// loops are split across ctx.Threads workers; below it starting goroutines
// costs more than it saves.
const elemParMin = 1 << 16

// elemChunks runs fn over [0, n), split into one contiguous chunk per
// worker when n is large.
func elemChunks(threads, n int, fn func(lo, hi int)) {
	if n < elemParMin || threads <= 1 {
		fn(0, n)
		return
	}
	parallel.For(n, threads, func(lo, hi, _ int) { fn(lo, hi) })
}

// rowChunks runs fn over rows [0, rows) that together cover total
// elements, one contiguous chunk of rows per worker when total is large.
func rowChunks(threads, rows, total int, fn func(lo, hi int)) {
	if total < elemParMin || threads <= 1 || rows < 2 {
		fn(0, rows)
		return
	}
	parallel.For(rows, threads, func(lo, hi, _ int) { fn(lo, hi) })
}

// addInto adds src into dst elementwise (gradient pass-through of copy-like
// ops: Identity, Reshape, Flatten, Squeeze, ...).
func addInto(threads int, dst, src []float32) error {
	if len(dst) != len(src) {
		return fmt.Errorf("gradient has %d elements, input has %d", len(src), len(dst))
	}
	elemChunks(threads, len(dst), func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
	return nil
}

// copyData copies src into dst, which must have the same element count.
func copyData(dst, src *tensor.Tensor) error {
	if len(dst.Data) != len(src.Data) {
		return graph.ShapeErr("output %s has %d elements, input %s has %d", dst.Shape, len(dst.Data), src.Shape, len(src.Data))
	}
	copy(dst.Data, src.Data)
	return nil
}

// stridePlan iterates over a row-major index space of n elements (the
// "output", addressed by its flat index) while tracking, for each operand,
// the element offset base[k] + Σ idx[d]·st[k][d]. Dimensions of size 1 are
// dropped and dimensions that are contiguous for every operand are merged,
// so that the innermost loop is as long as possible: [N,C,H,W]·[N,C,1,1]
// becomes a loop over N·C rows of H·W elements with the second operand's
// inner stride 0.
type stridePlan struct {
	n    int
	dims []int   // merged dims, outermost first; at least one
	st   [][]int // st[k][d]: stride of operand k along dims[d]
	base []int   // base[k]: offset of operand k at index 0
}

// newStridePlan builds a plan over dims for operands with the given strides
// (one slice of len(dims) per operand) and base offsets (nil means 0).
func newStridePlan(dims []int, base []int, st ...[]int) *stridePlan {
	p := &stridePlan{n: 1, st: make([][]int, len(st)), base: make([]int, len(st))}
	copy(p.base, base)
	for _, d := range dims {
		p.n *= d
	}
	for d, size := range dims {
		if size == 1 {
			continue
		}
		if last := len(p.dims) - 1; last >= 0 {
			merge := true
			for k := range st {
				if p.st[k][last] != st[k][d]*size {
					merge = false
					break
				}
			}
			if merge {
				p.dims[last] *= size
				for k := range st {
					p.st[k][last] = st[k][d]
				}
				continue
			}
		}
		p.dims = append(p.dims, size)
		for k := range st {
			p.st[k] = append(p.st[k], st[k][d])
		}
	}
	if len(p.dims) == 0 {
		p.dims = []int{1}
		for k := range st {
			p.st[k] = []int{0}
		}
	}
	return p
}

// contiguousStrides returns row-major element strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for d := len(shape) - 1; d >= 0; d-- {
		st[d] = acc
		acc *= shape[d]
	}
	return st
}

// broadcastStrides returns the strides of an operand of shape s broadcast to
// out (0 along broadcast dimensions). s must broadcast to out.
func broadcastStrides(out, s []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(s)
	cs := contiguousStrides(s)
	for i, d := range s {
		if d != 1 || out[off+i] == 1 {
			st[off+i] = cs[i]
		}
	}
	return st
}

// newBroadcastPlan iterates over out with each operand broadcast to it.
func newBroadcastPlan(out []int, shapes ...[]int) *stridePlan {
	st := make([][]int, len(shapes))
	for k, s := range shapes {
		st[k] = broadcastStrides(out, s)
	}
	return newStridePlan(out, nil, st...)
}

// inner returns operand k's stride along the innermost loop.
func (p *stridePlan) inner(k int) int { return p.st[k][len(p.st[k])-1] }

// each calls fn for every maximal run of consecutive flat indices in
// [lo, hi) that lie in one innermost row: o is the flat index of the run's
// start, n its length and off[k] operand k's offset at o (off is reused
// between calls).
func (p *stridePlan) each(lo, hi int, fn func(o, n int, off []int)) {
	if lo >= hi {
		return
	}
	last := len(p.dims) - 1
	inner := p.dims[last]
	nk := len(p.st)
	idx := make([]int, last)
	rowOff := make([]int, nk)
	cur := make([]int, nk)
	copy(rowOff, p.base)
	row, col := lo/inner, lo%inner
	for d := last - 1; d >= 0; d-- {
		idx[d] = row % p.dims[d]
		row /= p.dims[d]
		for k := range nk {
			rowOff[k] += idx[d] * p.st[k][d]
		}
	}
	for o := lo; o < hi; {
		n := min(inner-col, hi-o)
		for k := range nk {
			cur[k] = rowOff[k] + col*p.st[k][last]
		}
		fn(o, n, cur)
		o += n
		col = 0
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			for k := range nk {
				rowOff[k] += p.st[k][d]
			}
			if idx[d] < p.dims[d] {
				break
			}
			for k := range nk {
				rowOff[k] -= idx[d] * p.st[k][d]
			}
			idx[d] = 0
		}
	}
}

// run calls each over the whole plan, split across workers when large. fn
// must only write output positions [o, o+n) or operand positions that no
// other flat index maps to.
func (p *stridePlan) run(threads int, fn func(o, n int, off []int)) {
	if p.n < elemParMin || threads <= 1 {
		p.each(0, p.n, fn)
		return
	}
	parallel.For(p.n, threads, func(lo, hi, _ int) { p.each(lo, hi, fn) })
}

// reduceRun calls fn over the whole plan, where fn adds into d at operand
// k's offsets. d is dst itself, except when operand k is broadcast (several
// flat indices map to one element) and the loop runs on several workers:
// then each worker adds into its own zeroed copy and the copies are summed
// into dst in worker order, so results repeat for a given thread count.
// scratch is reused between calls.
func (p *stridePlan) reduceRun(threads, k int, dst []float32, scratch *[]float32, fn func(d []float32, o, n int, off []int)) {
	if p.n < elemParMin || threads <= 1 {
		p.each(0, p.n, func(o, n int, off []int) { fn(dst, o, n, off) })
		return
	}
	if len(dst) == p.n { // not broadcast: a one-to-one map
		parallel.For(p.n, threads, func(lo, hi, _ int) {
			p.each(lo, hi, func(o, n int, off []int) { fn(dst, o, n, off) })
		})
		return
	}
	m := len(dst)
	w := parallel.Workers(p.n, threads)
	if cap(*scratch) < w*m {
		*scratch = make([]float32, w*m)
	}
	buf := (*scratch)[:w*m]
	clear(buf)
	parallel.For(p.n, threads, func(lo, hi, worker int) {
		b := buf[worker*m : (worker+1)*m]
		p.each(lo, hi, func(o, n int, off []int) { fn(b, o, n, off) })
	})
	for wk := range w {
		b := buf[wk*m : (wk+1)*m]
		for i, v := range b {
			dst[i] += v
		}
	}
}

// gather copies x into y (y in plan order, x read with the plan's first
// operand strides): the forward of Transpose and Slice.
func (p *stridePlan) gather(threads int, x, y []float32) {
	s := p.inner(0)
	p.run(threads, func(o, n int, off []int) {
		xo, y := off[0], y[o:o+n]
		for j := range y {
			y[j] = x[xo+j*s]
		}
	})
}

// scatterAdd is gather's adjoint: gx[strided] += g, their backward.
func (p *stridePlan) scatterAdd(threads int, g, gx []float32) {
	s := p.inner(0)
	p.run(threads, func(o, n int, off []int) {
		xo, g := off[0], g[o:o+n]
		for j, v := range g {
			gx[xo+j*s] += v
		}
	})
}
