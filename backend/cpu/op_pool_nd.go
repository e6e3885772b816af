package cpu

import (
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// poolNDOp is MaxPool and AveragePool over any number of spatial dims,
// and MaxPool with its Indices output (flat indices into the input, row
// major, or with storage_order=1 column major within each N×C plane). The
// common 1-D and 2-D pools without Indices run the faster poolOp.
type poolNDOp struct {
	graph.PoolNDAttrs
	// resolved for one input shape
	shape, out []int
	pb, pe     []int
	planes     int
	argmax     []int32
}

func newPoolND(n *graph.Node, isMax bool) (Op, error) {
	a, err := graph.ParsePoolND(n, isMax)
	if err != nil {
		return nil, err
	}
	return &poolNDOp{PoolNDAttrs: a}, nil
}

func (p *poolNDOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := p.Geometry(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	p.pb, p.pe = r.Pb, r.Pe
	p.shape, p.out = graph.CloneShape(x), r.Out
	p.planes = x[0] * x[1]
	return r.Outs, nil
}

// walk calls fn for every output position of one plane with the input
// positions of its window (−1 for those in the padding) and the divisor an
// average uses.
func (p *poolNDOp) walk(fn func(o int, idx []int, div int)) {
	nd := p.Nd
	ins, outs := p.shape[2:], p.out[2:]
	win := 1
	for _, k := range p.K {
		win *= k
	}
	idx := make([]int, win)
	opos := make([]int, nd)
	kpos := make([]int, nd)
	nOut := graph.ShapeProd(outs)
	for o := range nOut {
		// kernel odometer
		clear(kpos)
		incl := 1
		for i := range nd {
			start := opos[i]*p.S[i] - p.pb[i]
			end := min(start+(p.K[i]-1)*p.D[i]+1, ins[i]+p.pe[i])
			incl *= (end - start + p.D[i] - 1) / p.D[i]
		}
		cnt := 0
		for w := range win {
			flat, inside := 0, true
			for i := range nd {
				pos := opos[i]*p.S[i] - p.pb[i] + kpos[i]*p.D[i]
				if pos < 0 || pos >= ins[i] {
					inside = false
				}
				flat = flat*ins[i] + pos
			}
			if inside {
				idx[w] = flat
				cnt++
			} else {
				idx[w] = -1
			}
			for i := nd - 1; i >= 0; i-- {
				kpos[i]++
				if kpos[i] < p.K[i] {
					break
				}
				kpos[i] = 0
			}
		}
		div := max(cnt, 1)
		if p.CountIncludePad {
			div = max(incl, 1)
		}
		fn(o, idx, div)
		for i := nd - 1; i >= 0; i-- {
			opos[i]++
			if opos[i] < outs[i] {
				break
			}
			opos[i] = 0
		}
	}
}

// colMajorIndex converts a row-major flat index within a plane to column
// major.
func (p *poolNDOp) colMajorIndex(flat int) int {
	ins := p.shape[2:]
	res, mul := 0, 1
	coords := make([]int, p.Nd)
	for i := p.Nd - 1; i >= 0; i-- {
		coords[i] = flat % ins[i]
		flat /= ins[i]
	}
	for i := range p.Nd {
		res += coords[i] * mul
		mul *= ins[i]
	}
	return res
}

func (p *poolNDOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	inner, outer := graph.ShapeProd(p.shape[2:]), graph.ShapeProd(p.out[2:])
	if len(y) != p.planes*outer {
		return graph.ShapeErr("output has shape %s for input %s", out[0].Shape, in[0].Shape)
	}
	if p.Max && len(p.argmax) != len(y) {
		p.argmax = make([]int32, len(y))
	}
	var ind []float32
	if p.WithIndices && len(out) > 1 && out[1] != nil {
		ind = out[1].Data
	}
	parallel.For(p.planes, ctx.Threads, func(lo, hi, _ int) {
		for pl := lo; pl < hi; pl++ {
			xp, yp := x[pl*inner:(pl+1)*inner], y[pl*outer:(pl+1)*outer]
			p.walk(func(o int, idx []int, div int) {
				if !p.Max {
					var s float32
					for _, i := range idx {
						if i >= 0 {
							s += xp[i]
						}
					}
					yp[o] = s / float32(div)
					return
				}
				best, arg := float32(math.Inf(-1)), -1
				for _, i := range idx {
					if i >= 0 && (arg < 0 || xp[i] > best) {
						best, arg = xp[i], i
					}
				}
				yp[o] = best
				p.argmax[pl*outer+o] = int32(arg)
				if ind != nil {
					a := arg
					if p.ColMajor && a >= 0 {
						a = p.colMajorIndex(a)
					}
					ind[pl*outer+o] = float32(pl*inner + a)
				}
			})
		}
	})
	return nil
}

func (p *poolNDOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	if gout[0] == nil || gin[0] == nil {
		return nil
	}
	dy, dx := gout[0].Data, gin[0].Data
	inner, outer := graph.ShapeProd(p.shape[2:]), graph.ShapeProd(p.out[2:])
	parallel.For(p.planes, ctx.Threads, func(lo, hi, _ int) {
		for pl := lo; pl < hi; pl++ {
			dxp, dyp := dx[pl*inner:(pl+1)*inner], dy[pl*outer:(pl+1)*outer]
			if p.Max {
				for o, a := range p.argmax[pl*outer : (pl+1)*outer] {
					if a >= 0 {
						dxp[a] += dyp[o]
					}
				}
				continue
			}
			p.walk(func(o int, idx []int, div int) {
				g := dyp[o] / float32(div)
				for _, i := range idx {
					if i >= 0 {
						dxp[i] += g
					}
				}
			})
		}
	})
	return nil
}
