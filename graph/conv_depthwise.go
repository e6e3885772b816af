package graph

import (
	"github.com/shearsml/shears/internal/kernels"
	"github.com/shearsml/shears/internal/parallel"
)

// Depthwise convolutions (one input channel per group) run channel by
// channel with internal/kernels' direct kernels. The work is split over
// (image, channel) pairs rather than images, so that batch-1 inference
// uses every thread too.

func (c *convOp) depthwiseForward(threads int, x, w, b, y []float32) {
	g := &c.geom
	hw, ohw, k := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	items := c.n * c.m
	workers := parallel.Workers(items, threads)
	bufs := c.buffers(workers, 0, 0, 0, kernels.DepthwiseScratch(g))
	parallel.For(items, threads, func(lo, hi, worker int) {
		scratch := bufs[worker].pad
		for it := lo; it < hi; it++ {
			ch := it % c.m
			var bias float32
			if b != nil {
				bias = b[ch]
			}
			kernels.DepthwiseForward(g, x[it*hw:(it+1)*hw], w[ch*k:(ch+1)*k], bias, y[it*ohw:(it+1)*ohw], scratch)
			c.act.clampInPlace(y[it*ohw : (it+1)*ohw])
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
	items := c.n * c.m
	workers := parallel.Workers(items, threads)
	bufs := c.buffers(workers, 0, 0, len(w), kernels.DepthwiseScratch(g))
	parallel.For(items, threads, func(lo, hi, worker int) {
		buf := bufs[worker]
		dwp := buf.dw[:len(w)]
		clear(dwp)
		for it := lo; it < hi; it++ {
			ch := it % c.m
			var dxc []float32
			if dx != nil {
				dxc = dx[it*hw : (it+1)*hw]
			}
			kernels.DepthwiseBackward(g, x[it*hw:(it+1)*hw], w[ch*k:(ch+1)*k], dy[it*ohw:(it+1)*ohw], dxc, dwp[ch*k:(ch+1)*k], buf.pad)
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
