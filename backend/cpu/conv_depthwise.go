package cpu

import (
	"github.com/shearsml/shears/internal/parallel"
)

// Depthwise convolutions (one input channel per group) run with
// internal/kernels' direct kernels, one channel and a chunk of images per
// call. The work is split over (chunk, channel) pairs rather than images,
// so that batch-1 inference uses every thread too.

// depthwiseItems returns how many (chunk, channel) work items there are
// and the images per chunk.
func (c *convOp) depthwiseItems() (items, chunk int) {
	chunk = c.dw.Images()
	return (c.n + chunk - 1) / chunk * c.m, chunk
}

// depthwiseBuffers returns the workers' buffers, each with a scratch for
// the current plan, and with dwLen floats for weight gradients.
func (c *convOp) depthwiseBuffers(workers, dwLen int) []convBuf {
	bufs := c.buffers(workers, 0, 0, dwLen, 0)
	for w := range bufs[:workers] {
		if !bufs[w].dws.For(c.dw) {
			bufs[w].dws = c.dw.NewScratch()
		}
	}
	return bufs
}

func (c *convOp) depthwiseForward(threads int, x, w, b, y []float32) {
	g := &c.geom
	hw, ohw, k := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	items, chunk := c.depthwiseItems()
	workers := parallel.Workers(items, threads)
	bufs := c.depthwiseBuffers(workers, 0)
	var clamp []float32
	if c.act != nil {
		clamp = []float32{c.act.lo, c.act.hi}
	}
	parallel.For(items, threads, func(lo, hi, worker int) {
		scratch := bufs[worker].dws
		for it := lo; it < hi; it++ {
			ch, i0 := it%c.m, it/c.m*chunk
			cnt := min(chunk, c.n-i0)
			var bias float32
			if b != nil {
				bias = b[ch]
			}
			xc, yc := x[(i0*c.m+ch)*hw:], y[(i0*c.m+ch)*ohw:]
			c.dw.Forward(xc, c.m*hw, yc, c.m*ohw, cnt, w[ch*k:(ch+1)*k], bias, clamp, scratch)
		}
	})
}

// depthwiseBackward adds the weight gradient into dw (when not nil) and
// the input gradient into dx (when not nil). Each worker accumulates its
// own weight gradient; they are summed in worker order so that results do
// not depend on scheduling.
func (c *convOp) depthwiseBackward(threads int, x, w, dy, dx, dw []float32) {
	g := &c.geom
	hw, ohw, k := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	items, chunk := c.depthwiseItems()
	workers := parallel.Workers(items, threads)
	bufs := c.depthwiseBuffers(workers, len(w))
	parallel.For(items, threads, func(lo, hi, worker int) {
		buf := bufs[worker]
		dwp := buf.dw[:len(w)]
		clear(dwp)
		for it := lo; it < hi; it++ {
			ch, i0 := it%c.m, it/c.m*chunk
			cnt := min(chunk, c.n-i0)
			var dxc []float32
			if dx != nil {
				dxc = dx[(i0*c.m+ch)*hw:]
			}
			c.dw.Backward(x[(i0*c.m+ch)*hw:], c.m*hw, dy[(i0*c.m+ch)*ohw:], c.m*ohw, cnt, w[ch*k:(ch+1)*k], dxc, dwp[ch*k:(ch+1)*k], buf.dws)
		}
	})
	if dw != nil {
		for wk := 0; wk < workers; wk++ {
			for j, v := range bufs[wk].dw[:len(w)] {
				dw[j] += v
			}
		}
	}
}
