package graph

import "github.com/shearsml/shears/tensor"

// NodeStats is the per-layer summary that `shears info` prints and pruning
// reports compare before and after.
type NodeStats struct {
	Name    string
	Op      string
	Output  []int // output shape for one image
	Params  int   // trainable parameter elements this node owns
	Nonzero int   // of those, how many are non-zero
	MACs    int   // multiply-accumulates for one image (Conv, Gemm, MatMul)
}

// Stats computes NodeStats for every node (batch 1) and the totals.
func Stats(g *Graph) ([]NodeStats, NodeStats, error) {
	p, err := Compile(g)
	if err != nil {
		return nil, NodeStats{}, err
	}
	shapes, err := p.InferShapes(1)
	if err != nil {
		return nil, NodeStats{}, err
	}
	params := g.ParamMap()
	var rows []NodeStats
	var total NodeStats
	total.Name = "total"
	for _, n := range g.Nodes {
		s := NodeStats{Name: n.Name, Op: n.Op}
		if len(n.Outputs) > 0 {
			s.Output = shapes[n.Outputs[0]]
		}
		for _, in := range n.Inputs {
			if prm := params[in]; prm != nil && prm.Trainable {
				s.Params += prm.Value.Len()
				for _, v := range prm.Value.Data {
					if v != 0 {
						s.Nonzero++
					}
				}
			}
		}
		s.MACs = nodeMACs(n, shapes)
		rows = append(rows, s)
		total.Params += s.Params
		total.Nonzero += s.Nonzero
		total.MACs += s.MACs
	}
	return rows, total, nil
}

func nodeMACs(n *Node, shapes map[string][]int) int {
	elems := func(s []int) int {
		e, _ := tensor.NumElems(s)
		return e
	}
	if len(n.Outputs) == 0 || len(n.Inputs) < 2 {
		return 0
	}
	out := shapes[n.Outputs[0]]
	switch n.Op {
	case "Conv":
		w := shapes[n.Inputs[1]]
		k := 1
		for _, d := range w[1:] {
			k *= d
		}
		return elems(out) * k
	case "ConvTranspose":
		// Every input element meets one kernel per output channel of its
		// group: W is in×out/group×k….
		w := shapes[n.Inputs[1]]
		k := 1
		for _, d := range w[1:] {
			k *= d
		}
		return elems(shapes[n.Inputs[0]]) * k
	case "Gemm":
		a := shapes[n.Inputs[0]]
		k := a[1]
		if t, _ := n.Attrs.Int("transA", 0); t != 0 {
			k = a[0]
		}
		return elems(out) * k
	case "MatMul":
		a := shapes[n.Inputs[0]]
		return elems(out) * a[len(a)-1]
	}
	return 0
}
