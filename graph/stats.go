package graph

// NodeStats is the per-layer summary that `shears info` prints and pruning
// reports compare before and after.
type NodeStats struct {
	Name    string
	Op      string
	Output  []int // output shape for one image
	Params  int   // trainable parameter elements this node owns
	Nonzero int   // of those, how many are non-zero
	MACs    int   // multiply-accumulates for one image, as the op's spec counts them
}

// Stats computes NodeStats for every node (batch 1) and the totals, in
// topological order (it sorts g's nodes, as Compile does).
func Stats(g *Graph) ([]NodeStats, NodeStats, error) {
	if err := g.Sort(); err != nil {
		return nil, NodeStats{}, err
	}
	shapes, err := InferShapes(g, 1)
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

// nodeMACs asks n's op spec (OpSpec.MACs), given the inferred shapes.
func nodeMACs(n *Node, shapes map[string][]int) int {
	spec, ok := Spec(n.Op)
	if !ok || spec.MACs == nil {
		return 0
	}
	in := make([][]int, len(n.Inputs))
	for i, name := range n.Inputs {
		in[i] = shapes[name]
	}
	out := make([][]int, len(n.Outputs))
	for i, name := range n.Outputs {
		out[i] = shapes[name]
	}
	return spec.MACs(n, in, out)
}
