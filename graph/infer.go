package graph

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

// InferShapes returns the shape of every graph input, param and node output
// of g at a batch size (for the inputs' dynamic dimension), from the op
// specs' shape inference alone: no Op is built, no buffer allocated, and g
// is not modified (its nodes need not be sorted). Errors are those of
// Compile, naming the node, op and shapes: a structural error (Validate, a
// cycle), the unsupported op types (all of them), then the first node, in
// topological order, whose attributes or input shapes are wrong. (Compile
// reports the attribute errors of every node before any shape error; here
// they come in node order, with the shape errors.)
func InferShapes(g *Graph, batch int) (map[string][]int, error) {
	sg := *g
	sg.Nodes = append([]*Node(nil), g.Nodes...)
	if err := sg.Sort(); err != nil {
		return nil, err
	}
	if err := sg.Validate(); err != nil {
		return nil, err
	}
	specs := make([]OpSpec, len(sg.Nodes))
	var errs []error
	for i, n := range sg.Nodes {
		s, ok := Spec(n.Op)
		if !ok {
			errs = append(errs, fmt.Errorf("node %q: unsupported op type %s", n.Name, n.Op))
		}
		specs[i] = s
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	if len(errs) > 1 {
		return nil, fmt.Errorf("%d unsupported nodes: %w", len(errs), JoinErrs(errs))
	}
	shapes := make(map[string][]int, len(g.Inputs)+len(g.Params)+len(g.Nodes))
	for _, vi := range g.Inputs {
		shapes[vi.Name] = BatchShape(vi.Shape, batch)
	}
	params := make(map[string]*tensor.Tensor, len(g.Params))
	for _, p := range g.Params {
		shapes[p.Name] = p.Value.Shape
		params[p.Name] = p.Value
	}
	for i, n := range sg.Nodes {
		in := make([][]int, len(n.Inputs))
		consts := make([]*tensor.Tensor, len(n.Inputs))
		for k, name := range n.Inputs {
			if name == "" {
				continue
			}
			in[k], consts[k] = shapes[name], params[name]
		}
		outs, err := inferNode(specs[i], n, in, consts)
		if err != nil {
			return nil, err
		}
		for k, o := range n.Outputs {
			if o != "" {
				shapes[o] = outs[k]
			}
		}
	}
	return shapes, nil
}

// inferNode runs a node's shape inference and checks what it returns, with
// errors naming the node as Compile's do.
func inferNode(s OpSpec, n *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	outs, err := s.Infer(n, in, consts)
	if err != nil {
		return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
	}
	if err := CheckOutputs(n, outs); err != nil {
		return nil, err
	}
	return outs, nil
}

// CheckOutputs checks that an op's inferred shapes cover the node's
// outputs and are valid shapes.
func CheckOutputs(n *Node, outs [][]int) error {
	if len(outs) < len(n.Outputs) {
		return fmt.Errorf("node %q (%s): op makes %d outputs, node names %d", n.Name, n.Op, len(outs), len(n.Outputs))
	}
	for k, o := range n.Outputs {
		if o == "" {
			continue
		}
		if _, err := tensor.NumElems(outs[k]); err != nil {
			return fmt.Errorf("node %q (%s): output %q: %w", n.Name, n.Op, o, err)
		}
	}
	return nil
}

// BatchShape is a declared shape with its dynamic dimensions (−1) set to
// batch.
func BatchShape(declared []int, batch int) []int {
	shape := make([]int, len(declared))
	for d, v := range declared {
		if v < 0 {
			v = batch
		}
		shape[d] = v
	}
	return shape
}

// attrInferer is an op's parsed attributes, whose Infer method is the op's
// shape inference.
type attrInferer interface {
	Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error)
}

// inferWith makes an OpSpec.Infer from the attribute parser that the op's
// builder uses too: it parses the node's attributes and asks them. The Op
// embeds (or calls) the same parsed attributes, so the shape logic is
// written once.
func inferWith[A attrInferer](parse func(*Node) (A, error)) func(*Node, [][]int, []*tensor.Tensor) ([][]int, error) {
	return func(n *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
		a, err := parse(n)
		if err != nil {
			return nil, err
		}
		return a.Infer(in, consts)
	}
}

// multiErr is several errors joined with "; ".
type multiErr []error

func (m multiErr) Error() string {
	s := ""
	for i, e := range m {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

// JoinErrs joins errors with "; " (InferShapes' and Compile's lists of
// nodes that fail).
func JoinErrs(errs []error) error { return multiErr(errs) }
