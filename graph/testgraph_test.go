package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

// gcKind says how a gradient-check input enters the test graph.
type gcKind int

const (
	gcInput gcKind = iota // a graph input whose gradient is checked
	gcParam               // a trainable param whose gradient is checked
	gcConst               // a constant param (shape vectors, indices): no gradient
)

type gcIn struct {
	t    *tensor.Tensor
	kind gcKind
}

func in(t *tensor.Tensor) gcIn    { return gcIn{t, gcInput} }
func param(t *tensor.Tensor) gcIn { return gcIn{t, gcParam} }

// randT returns a tensor with values uniform in [-1, 1).
func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = r.Float32()*2 - 1
	}
	return t
}

// singleNodeGraph wraps one node in a graph whose inputs are the gcIns.
func singleNodeGraph(op string, attrs Attrs, ins []gcIn, nOut int) *Graph {
	g := &Graph{Name: "gc"}
	n := &Node{Name: "n", Op: op, Attrs: attrs}
	for i, x := range ins {
		name := fmt.Sprintf("x%d", i)
		if x.t == nil {
			n.Inputs = append(n.Inputs, "")
			continue
		}
		n.Inputs = append(n.Inputs, name)
		switch x.kind {
		case gcInput:
			g.Inputs = append(g.Inputs, ValueInfo{Name: name, Shape: x.t.Shape})
		default:
			g.AddParam(name, x.t.Clone(), x.kind == gcParam)
		}
	}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprintf("y%d", i))
		g.Outputs = append(g.Outputs, ValueInfo{Name: fmt.Sprintf("y%d", i)})
	}
	g.Nodes = []*Node{n}
	return g
}
