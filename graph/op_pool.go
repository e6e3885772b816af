package graph

import (
	"github.com/shearsml/shears/tensor"
)

func init() {
	for _, name := range []string{"MaxPool", "AveragePool"} {
		isMax := name == "MaxPool"
		RegisterOp(OpSpec{Type: name, Infer: func(n *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
			var a attrInferer
			var err error
			if UsesPoolND(n, isMax) {
				a, err = ParsePoolND(n, isMax)
			} else {
				a, err = ParsePool(n, isMax)
			}
			if err != nil {
				return nil, err
			}
			return a.Infer(in, consts)
		}})
	}
	RegisterOp(OpSpec{Type: "GlobalAveragePool", Infer: InferGlobalPool})
	RegisterOp(OpSpec{Type: "GlobalMaxPool", Infer: InferGlobalPool})
}

// PoolAttrs are the attributes of a 1-D or 2-D MaxPool or AveragePool
// (poolOp).
type PoolAttrs struct {
	Max             bool
	Win             Window
	CountIncludePad bool
}

// ParsePool decodes a MaxPool or AveragePool (1-D or 2-D) node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParsePool(n *Node, isMax bool) (PoolAttrs, error) {
	w, err := parseWindow(n, true)
	if err != nil {
		return PoolAttrs{}, err
	}
	r := AttrReader{A: n.Attrs}
	// storage_order only matters for the Indices output.
	return PoolAttrs{Max: isMax, Win: w, CountIncludePad: r.Int("count_include_pad", 0) != 0}, r.Err
}

// Infer is the shape inference of the pools poolOp runs.
func (p PoolAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	win, oh, ow, err := p.Shape(in)
	if err != nil {
		return nil, err
	}
	n, c, _, _, _ := win.Spatial(in[0])
	return [][]int{win.OutShape(n, c, oh, ow)}, nil
}

// Shape checks the input and resolves the window against it (pads for
// auto_pad), giving the output size.
func (p PoolAttrs) Shape(in [][]int) (win Window, oh, ow int, err error) {
	win = p.Win
	if err := WantInputs(in, 1, 1); err != nil {
		return win, 0, 0, err
	}
	_, _, h, w, err := win.Spatial(in[0])
	if err != nil {
		return win, 0, 0, err
	}
	oh, ow, err = win.resolve(h, w)
	return win, oh, ow, err
}

// InferGlobalPool: x is N×C×spatial… with spatial elements, y N×C×1×….
func InferGlobalPool(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	if err := WantInputs(in, 1, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) < 3 {
		return nil, ShapeErr("input must be N×C×spatial…, have %v", x)
	}
	out := []int{x[0], x[1]}
	for range x[2:] {
		out = append(out, 1)
	}
	if ShapeProd(x[2:]) == 0 {
		return nil, ShapeErr("input %v has no spatial elements", x)
	}
	return [][]int{out}, nil
}
