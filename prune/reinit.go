package prune

import (
	"math/rand/v2"

	"github.com/shearsml/shears/graph"
)

// Reinit gives every param of g a fresh initialisation by the zoo's rules
// (docs/ZOO.md, as package nn builds them), as each op's spec declares it
// (graph.OpSpec.Init), so that any graph — a slimmed one in particular —
// can be trained from scratch: conv weights Kaiming-normal with fan-out
// and ReLU gain, conv biases and linear weights and biases
// uniform(±1/√fan-in) (PyTorch's defaults), BatchNorm γ = 1, β = 0,
// running mean 0 and variance 1. Nodes are visited in order with one
// random stream, so a seed gives one initialisation. Training the slimmed
// architecture from scratch is the control of Liu et al. 2019
// ("Rethinking the Value of Network Pruning"); a random re-initialisation
// under the same mask is the control of Frankle & Carbin 2019.
func Reinit(g *graph.Graph, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	params := g.ParamMap()
	for _, n := range g.Nodes {
		if spec, ok := graph.Spec(n.Op); ok && spec.Init != nil {
			spec.Init(n, graph.Operands(g, n, params), r)
		}
	}
}
