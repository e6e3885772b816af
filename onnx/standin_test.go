package onnx

import (
	"errors"
	"fmt"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// The op set is being implemented alongside this package. So that these
// tests do not depend on which ops exist yet, ops they need and the graph
// package does not (yet) register get shape-only stand-ins here, in the
// test binary only. A real implementation always wins: graph's init runs
// before this one.
func init() {
	standIn("Flatten", func(n *graph.Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
		axis, err := n.Attrs.Int("axis", 1)
		if err != nil {
			return nil, err
		}
		x := in[0]
		if axis < 0 {
			axis += len(x)
		}
		if axis < 0 || axis > len(x) {
			return nil, fmt.Errorf("bad axis")
		}
		a, b := 1, 1
		for i, d := range x {
			if i < axis {
				a *= d
			} else {
				b *= d
			}
		}
		return [][]int{{a, b}}, nil
	})
	standIn("Reshape", func(n *graph.Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
		if len(in) != 2 || consts[1] == nil {
			return nil, errors.New("stand-in Reshape needs a constant shape")
		}
		total, err := tensor.NumElems(in[0])
		if err != nil {
			return nil, err
		}
		out := make([]int, len(consts[1].Data))
		known, infer := 1, -1
		for i, v := range consts[1].Data {
			d := int(v)
			switch {
			case d == 0 && i < len(in[0]):
				d = in[0][i]
			case d == -1:
				infer = i
				continue
			case d < 0:
				return nil, errors.New("bad shape")
			}
			out[i] = d
			known *= d
		}
		if infer >= 0 {
			if known == 0 || total%known != 0 {
				return nil, errors.New("bad shape")
			}
			out[infer] = total / known
		} else if known != total {
			return nil, errors.New("bad shape")
		}
		return [][]int{out}, nil
	})
	// Ops only the import tests need: identity shapes are enough (Decode
	// does not run shape inference unless a pre-13 Softmax is present).
	for _, op := range []string{"Squeeze", "Unsqueeze", "Split", "Slice", "Pad", "TopK", "ReduceSum"} {
		standIn(op, func(n *graph.Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
			if len(in) == 0 || in[0] == nil {
				return nil, errors.New("no input")
			}
			out := make([][]int, len(n.Outputs))
			for i := range out {
				out[i] = in[0]
			}
			return out, nil
		})
	}
}

type standInOp struct {
	n     *graph.Node
	infer func(*graph.Node, [][]int, []*tensor.Tensor) ([][]int, error)
}

func (s *standInOp) Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error) {
	return s.infer(s.n, in, consts)
}

func (s *standInOp) Forward(*cpu.Ctx, []*tensor.Tensor, []*tensor.Tensor) error {
	return errors.New("test stand-in op: no Forward")
}

func (s *standInOp) Backward(*cpu.Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return errors.New("test stand-in op: no Backward")
}

// standIns lists the ops registered by standIn.
var standIns = map[string]bool{}

func standIn(op string, infer func(*graph.Node, [][]int, []*tensor.Tensor) ([][]int, error)) {
	if cpu.Supported(op) {
		return
	}
	standIns[op] = true
	cpu.Register(op, func(n *graph.Node) (cpu.Op, error) { return &standInOp{n: n, infer: infer}, nil })
}
