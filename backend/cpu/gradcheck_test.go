package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// gradChecked records the op types checkGrad has run on, for the check in
// TestMain that every registered op has a gradient check.
var gradChecked sync.Map

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
func konst(t *tensor.Tensor) gcIn { return gcIn{t, gcConst} }

// randT returns a tensor with values uniform in [-1, 1).
func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = r.Float32()*2 - 1
	}
	return t
}

// ivec makes a 1-D constant tensor from ints (shape vectors, axes, pads).
func ivec(v ...int) *tensor.Tensor {
	t := tensor.New(len(v))
	for i, x := range v {
		t.Data[i] = float32(x)
	}
	return t
}

// singleNodeGraph wraps one node in a graph whose inputs are the gcIns.
func singleNodeGraph(op string, attrs graph.Attrs, ins []gcIn, nOut int) *graph.Graph {
	g := &graph.Graph{Name: "gc"}
	n := &graph.Node{Name: "n", Op: op, Attrs: attrs}
	for i, x := range ins {
		name := fmt.Sprintf("x%d", i)
		if x.t == nil {
			n.Inputs = append(n.Inputs, "")
			continue
		}
		n.Inputs = append(n.Inputs, name)
		switch x.kind {
		case gcInput:
			g.Inputs = append(g.Inputs, graph.ValueInfo{Name: name, Shape: x.t.Shape})
		default:
			g.AddParam(name, x.t.Clone(), x.kind == gcParam)
		}
	}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprintf("y%d", i))
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: fmt.Sprintf("y%d", i)})
	}
	g.Nodes = []*graph.Node{n}
	return g
}

// checkGrad compares the analytic gradients of loss = Σ_k Σ y_k·R_k (R
// random) with central finite differences, for every gcInput and gcParam.
// Forward runs in training mode when train is set.
func checkGrad(t *testing.T, op string, attrs graph.Attrs, ins []gcIn, nOut int, train bool) {
	t.Helper()
	gradChecked.Store(op, true)
	g := singleNodeGraph(op, attrs, ins, nOut)
	p, err := Compile(g)
	if err != nil {
		t.Fatalf("%s: compile: %v", op, err)
	}
	p.Threads = 2
	p.SetInputGrad(true)
	var xs []*tensor.Tensor
	for _, x := range ins {
		if x.t != nil && x.kind == gcInput {
			xs = append(xs, x.t)
		}
	}
	r := rand.New(rand.NewPCG(7, 7))
	loss := func() (float64, []*tensor.Tensor) {
		p.Seed = 1 // stochastic ops see the same randomness every call
		p.step = 0
		outs, err := p.Forward(train, xs...)
		if err != nil {
			t.Fatalf("%s: forward: %v", op, err)
		}
		return 0, outs
	}
	_, outs := loss()
	checkOverwrites(t, op, p, train, xs, outs)
	weights := make([]*tensor.Tensor, len(outs))
	for k, o := range outs {
		weights[k] = randT(r, o.Shape...)
	}
	eval := func() float64 {
		_, outs := loss()
		s := 0.0
		for k, o := range outs {
			for i, v := range o.Data {
				s += float64(v) * float64(weights[k].Data[i])
			}
		}
		return s
	}
	eval()
	if err := p.Backward(weights...); err != nil {
		t.Fatalf("%s: backward: %v", op, err)
	}
	// Snapshot analytic gradients before finite differences overwrite them.
	type target struct {
		name string
		val  *tensor.Tensor
		grad *tensor.Tensor
	}
	var targets []target
	xi := 0
	for i, x := range ins {
		if x.t == nil {
			continue
		}
		name := fmt.Sprintf("x%d", i)
		switch x.kind {
		case gcInput:
			targets = append(targets, target{name, xs[xi], p.ValueGrad(name).Clone()})
			xi++
		case gcParam:
			targets = append(targets, target{name, g.Param(name).Value, p.Grad(name).Clone()})
		}
	}
	const eps = 1e-2
	for _, tg := range targets {
		// Check a bounded sample of elements to keep big tests fast.
		idx := make([]int, 0, 64)
		if tg.val.Len() <= 64 {
			for i := range tg.val.Data {
				idx = append(idx, i)
			}
		} else {
			for len(idx) < 64 {
				idx = append(idx, r.IntN(tg.val.Len()))
			}
		}
		for _, i := range idx {
			old := tg.val.Data[i]
			tg.val.Data[i] = old + eps
			fp := eval()
			tg.val.Data[i] = old - eps
			fm := eval()
			tg.val.Data[i] = old
			num := (fp - fm) / (2 * eps)
			ana := float64(tg.grad.Data[i])
			if math.Abs(num-ana) > 2e-2*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: d loss/d %s[%d]: analytic %.5f, numeric %.5f", op, tg.name, i, ana, num)
			}
		}
	}
}
