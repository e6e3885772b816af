package graph

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

// UsesPoolND reports whether a pooling node needs poolNDOp.
func UsesPoolND(n *Node, isMax bool) bool {
	ks, _ := n.Attrs.Ints("kernel_shape", nil)
	return len(ks) > 2 || (isMax && len(n.Outputs) > 1 && n.Outputs[1] != "")
}

// PoolNDAttrs are the attributes of a pool that poolNDOp runs.
type PoolNDAttrs struct {
	Max             bool
	WithIndices     bool
	ColMajor        bool
	CountIncludePad bool
	ceil            bool
	autoPad         string
	K, S, D, pads   []int
	Nd              int
}

// ParsePoolND decodes a MaxPool or AveragePool (3-D and up, or with Indices) node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParsePoolND(n *Node, isMax bool) (PoolNDAttrs, error) {
	var no PoolNDAttrs
	r := AttrReader{A: n.Attrs}
	op := PoolNDAttrs{Max: isMax, autoPad: r.str("auto_pad", "NOTSET"), ceil: r.Int("ceil_mode", 0) != 0,
		CountIncludePad: r.Int("count_include_pad", 0) != 0,
		K:               r.ints("kernel_shape", nil), S: r.ints("strides", nil), D: r.ints("dilations", nil), pads: r.ints("pads", nil)}
	so := r.Int("storage_order", 0)
	if r.Err != nil {
		return no, r.Err
	}
	if so != 0 && so != 1 {
		return no, fmt.Errorf("storage_order must be 0 or 1, have %d", so)
	}
	op.ColMajor = so == 1
	op.WithIndices = isMax && len(n.Outputs) > 1 && n.Outputs[1] != ""
	op.Nd = len(op.K)
	if op.Nd == 0 {
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
			return nil, fmt.Errorf("have %d values, want %d for %d spatial dims", len(v), n, op.Nd)
		}
		return v, nil
	}
	var err error
	if op.S, err = def(op.S, op.Nd, 1); err != nil {
		return no, fmt.Errorf("strides: %w", err)
	}
	if op.D, err = def(op.D, op.Nd, 1); err != nil {
		return no, fmt.Errorf("dilations: %w", err)
	}
	if op.pads, err = def(op.pads, 2*op.Nd, 0); err != nil {
		return no, fmt.Errorf("pads: %w", err)
	}
	for i := range op.Nd {
		if op.K[i] < 1 || op.S[i] < 1 || op.D[i] < 1 {
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

// Infer is the shape inference of the pools poolNDOp runs.
func (p PoolNDAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := p.Geometry(in)
	if err != nil {
		return nil, err
	}
	return r.Outs, nil
}

// poolNDShape is a pool's geometry for one input shape.
type poolNDShape struct {
	Pb, Pe []int   // begin and end pads, resolved for auto_pad
	Out    []int   // the output's shape
	Outs   [][]int // the outputs' shapes (Indices too)
}

// Geometry checks the input against the attributes and resolves the pads.
func (p PoolNDAttrs) Geometry(in [][]int) (poolNDShape, error) {
	var r poolNDShape
	if err := WantInputs(in, 1, 1); err != nil {
		return r, err
	}
	x := in[0]
	if len(x) != 2+p.Nd {
		return r, ShapeErr("input must have %d dims (N×C×spatial), have %v", 2+p.Nd, x)
	}
	r.Pb, r.Pe = make([]int, p.Nd), make([]int, p.Nd)
	out := []int{x[0], x[1]}
	for i := range p.Nd {
		in, k, s, d := x[2+i], p.K[i], p.S[i], p.D[i]
		b, e := p.pads[i], p.pads[p.Nd+i]
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
			return r, ShapeErr("window %v (dilations %v, pads %v) does not fit input %v", p.K, p.D, p.pads, x)
		}
		r.Pb[i], r.Pe[i] = b, e
		out = append(out, o)
	}
	r.Out, r.Outs = out, [][]int{out}
	if p.WithIndices {
		r.Outs = append(r.Outs, CloneShape(out))
	}
	return r, nil
}
