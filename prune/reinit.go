package prune

import (
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/graph"
)

// Reinit gives every param of g a fresh initialisation by the zoo's rules
// (docs/ZOO.md, as package nn builds them), read from the ops and the params'
// axis roles, so that any graph — a slimmed one in particular — can be
// trained from scratch: conv weights Kaiming-normal with fan-out and ReLU
// gain, conv biases and linear weights and biases uniform(±1/√fan-in)
// (PyTorch's defaults), BatchNorm γ = 1, β = 0, running mean 0 and
// variance 1. Training the slimmed architecture from scratch is the
// control of Liu et al. 2019 ("Rethinking the Value of Network Pruning");
// a random re-initialisation under the same mask is the control of
// Frankle & Carbin 2019.
func Reinit(g *graph.Graph, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	params := g.ParamMap()
	uniform := func(p *graph.Param, bound float64) {
		if p == nil {
			return
		}
		for i := range p.Value.Data {
			p.Value.Data[i] = float32((r.Float64()*2 - 1) * bound)
		}
	}
	fill := func(name string, v float32) {
		if p := params[name]; p != nil {
			p.Value.Fill(v)
		}
	}
	in := func(n *graph.Node, i int) *graph.Param {
		if i < len(n.Inputs) {
			return params[n.Inputs[i]]
		}
		return nil
	}
	for _, n := range g.Nodes {
		switch n.Op {
		case "Conv", "ConvTranspose":
			// Fans as PyTorch reads them off the weight's first two axes
			// (out × in/group for Conv, in × out/group for ConvTranspose):
			// Kaiming normal with fan-out axis0·k/group, bias bound from
			// fan-in axis1·k.
			w := in(n, 1)
			if w == nil || w.Value.Rank() < 2 {
				continue
			}
			group, _ := n.Attrs.Int("group", 1)
			k := 1
			for _, d := range w.Value.Shape[2:] {
				k *= d
			}
			std := math.Sqrt(2 / float64(max(w.Value.Shape[0]*k/max(group, 1), 1)))
			for i := range w.Value.Data {
				w.Value.Data[i] = float32(r.NormFloat64() * std)
			}
			uniform(in(n, 2), 1/math.Sqrt(float64(max(w.Value.Shape[1]*k, 1))))
		case "Gemm", "MatMul":
			w := in(n, 1)
			if w == nil || w.Value.Rank() != 2 {
				continue
			}
			_, ia := weightAxes(w)
			if ia < 0 {
				continue
			}
			bound := 1 / math.Sqrt(float64(w.Value.Shape[ia]))
			uniform(w, bound)
			if n.Op == "Gemm" {
				uniform(in(n, 2), bound)
			}
		case "BatchNormalization":
			if len(n.Inputs) == 5 {
				fill(n.Inputs[1], 1)
				fill(n.Inputs[2], 0)
				fill(n.Inputs[3], 0)
				fill(n.Inputs[4], 1)
			}
		}
	}
}
