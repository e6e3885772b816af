package graph

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// poolNDOp is MaxPool and AveragePool over any number of spatial dims,
// and MaxPool with its Indices output (flat indices into the input, row
// major, or with storage_order=1 column major within each N×C plane). The
// common 1-D and 2-D pools without Indices run the faster poolOp.
type poolNDOp struct {
	poolNDAttrs
	// resolved for one input shape
	shape, out []int
	pb, pe     []int
	planes     int
	argmax     []int32
}

// usesPoolND reports whether a pooling node needs poolNDOp.
func usesPoolND(n *Node, isMax bool) bool {
	ks, _ := n.Attrs.Ints("kernel_shape", nil)
	return len(ks) > 2 || (isMax && len(n.Outputs) > 1 && n.Outputs[1] != "")
}

// poolNDAttrs are the attributes of a pool that poolNDOp runs.
type poolNDAttrs struct {
	max             bool
	withIndices     bool
	colMajor        bool
	countIncludePad bool
	ceil            bool
	autoPad         string
	k, s, d, pads   []int
	nd              int
}

func newPoolND(n *Node, isMax bool) (Op, error) {
	a, err := parsePoolND(n, isMax)
	if err != nil {
		return nil, err
	}
	return &poolNDOp{poolNDAttrs: a}, nil
}

func parsePoolND(n *Node, isMax bool) (poolNDAttrs, error) {
	var no poolNDAttrs
	r := attrReader{a: n.Attrs}
	op := poolNDAttrs{max: isMax, autoPad: r.str("auto_pad", "NOTSET"), ceil: r.int("ceil_mode", 0) != 0,
		countIncludePad: r.int("count_include_pad", 0) != 0,
		k:               r.ints("kernel_shape", nil), s: r.ints("strides", nil), d: r.ints("dilations", nil), pads: r.ints("pads", nil)}
	so := r.int("storage_order", 0)
	if r.err != nil {
		return no, r.err
	}
	if so != 0 && so != 1 {
		return no, fmt.Errorf("storage_order must be 0 or 1, have %d", so)
	}
	op.colMajor = so == 1
	op.withIndices = isMax && len(n.Outputs) > 1 && n.Outputs[1] != ""
	op.nd = len(op.k)
	if op.nd == 0 {
		return no, fmt.Errorf("kernel_shape is required")
	}
	def := func(v []int, n, x int) ([]int, error) {
		if v == nil {
			v = make([]int, n)
			for i := range v {
				v[i] = x
			}
		}
		if len(v) != n {
			return nil, fmt.Errorf("have %d values, want %d for %d spatial dims", len(v), n, op.nd)
		}
		return v, nil
	}
	var err error
	if op.s, err = def(op.s, op.nd, 1); err != nil {
		return no, fmt.Errorf("strides: %w", err)
	}
	if op.d, err = def(op.d, op.nd, 1); err != nil {
		return no, fmt.Errorf("dilations: %w", err)
	}
	if op.pads, err = def(op.pads, 2*op.nd, 0); err != nil {
		return no, fmt.Errorf("pads: %w", err)
	}
	for i := range op.nd {
		if op.k[i] < 1 || op.s[i] < 1 || op.d[i] < 1 {
			return no, fmt.Errorf("kernel, strides and dilations must be ≥ 1")
		}
	}
	for _, p := range op.pads {
		if p < 0 {
			return no, fmt.Errorf("pads must be ≥ 0")
		}
	}
	switch op.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "":
	default:
		return no, fmt.Errorf("unknown auto_pad %q", op.autoPad)
	}
	return op, nil
}

func (p *poolNDOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := p.geometry(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	p.pb, p.pe = r.pb, r.pe
	p.shape, p.out = cloneShape(x), r.out
	p.planes = x[0] * x[1]
	return r.outs, nil
}

// Infer is the shape inference of the pools poolNDOp runs.
func (p poolNDAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := p.geometry(in)
	if err != nil {
		return nil, err
	}
	return r.outs, nil
}

// poolNDShape is a pool's geometry for one input shape.
type poolNDShape struct {
	pb, pe []int   // begin and end pads, resolved for auto_pad
	out    []int   // the output's shape
	outs   [][]int // the outputs' shapes (Indices too)
}

// geometry checks the input against the attributes and resolves the pads.
func (p poolNDAttrs) geometry(in [][]int) (poolNDShape, error) {
	var r poolNDShape
	if err := wantInputs(in, 1, 1); err != nil {
		return r, err
	}
	x := in[0]
	if len(x) != 2+p.nd {
		return r, shapeErr("input must have %d dims (N×C×spatial), have %v", 2+p.nd, x)
	}
	r.pb, r.pe = make([]int, p.nd), make([]int, p.nd)
	out := []int{x[0], x[1]}
	for i := range p.nd {
		in, k, s, d := x[2+i], p.k[i], p.s[i], p.d[i]
		b, e := p.pads[i], p.pads[p.nd+i]
		switch p.autoPad {
		case "VALID":
			b, e = 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			o := (in + s - 1) / s
			total := max(0, (o-1)*s+(k-1)*d+1-in)
			b, e = total/2, total-total/2
			if p.autoPad == "SAME_LOWER" {
				b, e = e, b
			}
		}
		span := in + b + e - ((k-1)*d + 1)
		o := 0
		if span >= 0 {
			if p.ceil {
				o = (span+s-1)/s + 1
				if (o-1)*s >= in+b {
					o--
				}
			} else {
				o = span/s + 1
			}
		}
		if o <= 0 {
			return r, shapeErr("window %v (dilations %v, pads %v) does not fit input %v", p.k, p.d, p.pads, x)
		}
		r.pb[i], r.pe[i] = b, e
		out = append(out, o)
	}
	r.out, r.outs = out, [][]int{out}
	if p.withIndices {
		r.outs = append(r.outs, cloneShape(out))
	}
	return r, nil
}

// walk calls fn for every output position of one plane with the input
// positions of its window (−1 for those in the padding) and the divisor an
// average uses.
func (p *poolNDOp) walk(fn func(o int, idx []int, div int)) {
	nd := p.nd
	ins, outs := p.shape[2:], p.out[2:]
	win := 1
	for _, k := range p.k {
		win *= k
	}
	idx := make([]int, win)
	opos := make([]int, nd)
	kpos := make([]int, nd)
	nOut := shapeProd(outs)
	for o := range nOut {
		// kernel odometer
		clear(kpos)
		incl := 1
		for i := range nd {
			start := opos[i]*p.s[i] - p.pb[i]
			end := min(start+(p.k[i]-1)*p.d[i]+1, ins[i]+p.pe[i])
			incl *= (end - start + p.d[i] - 1) / p.d[i]
		}
		cnt := 0
		for w := range win {
			flat, inside := 0, true
			for i := range nd {
				pos := opos[i]*p.s[i] - p.pb[i] + kpos[i]*p.d[i]
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
				if kpos[i] < p.k[i] {
					break
				}
				kpos[i] = 0
			}
		}
		div := max(cnt, 1)
		if p.countIncludePad {
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
	coords := make([]int, p.nd)
	for i := p.nd - 1; i >= 0; i-- {
		coords[i] = flat % ins[i]
		flat /= ins[i]
	}
	for i := range p.nd {
		res += coords[i] * mul
		mul *= ins[i]
	}
	return res
}

func (p *poolNDOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	x, y := in[0].Data, out[0].Data
	inner, outer := shapeProd(p.shape[2:]), shapeProd(p.out[2:])
	if len(y) != p.planes*outer {
		return shapeErr("output has shape %s for input %s", out[0].Shape, in[0].Shape)
	}
	if p.max && len(p.argmax) != len(y) {
		p.argmax = make([]int32, len(y))
	}
	var ind []float32
	if p.withIndices && len(out) > 1 && out[1] != nil {
		ind = out[1].Data
	}
	parallel.For(p.planes, ctx.Threads, func(lo, hi, _ int) {
		for pl := lo; pl < hi; pl++ {
			xp, yp := x[pl*inner:(pl+1)*inner], y[pl*outer:(pl+1)*outer]
			p.walk(func(o int, idx []int, div int) {
				if !p.max {
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
					if p.colMajor && a >= 0 {
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
	inner, outer := shapeProd(p.shape[2:]), shapeProd(p.out[2:])
	parallel.For(p.planes, ctx.Threads, func(lo, hi, _ int) {
		for pl := lo; pl < hi; pl++ {
			dxp, dyp := dx[pl*inner:(pl+1)*inner], dy[pl*outer:(pl+1)*outer]
			if p.max {
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
