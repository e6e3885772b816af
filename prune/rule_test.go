package prune_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/tensor"
)

// gainOp is a custom op: y[n,c,…] = x[n,c,…]·g[c], a per-channel gain.
type gainOp struct{}

func (gainOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) { return [][]int{in[0]}, nil }

func (gainOp) Forward(_ *cpu.Ctx, in, out []*tensor.Tensor) error {
	c, plane := in[0].Shape[1], 1
	for _, d := range in[0].Shape[2:] {
		plane *= d
	}
	for i, v := range in[0].Data {
		out[0].Data[i] = v * in[1].Data[(i/plane)%c]
	}
	return nil
}

func (gainOp) Backward(*cpu.Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return fmt.Errorf("gainOp: no backward")
}

// gainGraph is conv1 → TestGain → conv2.
func gainGraph() *graph.Graph {
	r := testutil.NewRand(1, 1)
	rnd := func(shape ...int) *tensor.Tensor { return testutil.UniformTensor(r, shape...) }
	g := &graph.Graph{Name: "gain", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 2, 4, 4}}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{-1, 3, 4, 4}}}}
	g.AddParam("conv1.w", rnd(5, 2, 1, 1), true)
	g.AddParam("gain", rnd(5), true)
	g.AddParam("conv2.w", rnd(3, 5, 1, 1), true)
	k := graph.Attrs{"kernel_shape": []int{1, 1}}
	g.Nodes = []*graph.Node{
		{Name: "conv1", Op: "Conv", Inputs: []string{"x", "conv1.w"}, Outputs: []string{"a"}, Attrs: k},
		{Name: "g", Op: "TestGain", Inputs: []string{"a", "gain"}, Outputs: []string{"b"}},
		{Name: "conv2", Op: "Conv", Inputs: []string{"b", "conv2.w"}, Outputs: []string{"y"}, Attrs: k},
	}
	graph.LabelAxes(g)
	return g
}

// A user's op gets a channel rule with RegisterRule: without one it is
// opaque and conv1's channels are fixed; with one they pass through it,
// its gain pruned with them.
func TestRegisterRule(t *testing.T) {
	cpu.Register("TestGain", func(*graph.Node) (cpu.Op, error) { return gainOp{}, nil })
	d, err := prune.Analyze(gainGraph())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Groups()) != 0 || len(d.Unprunable()) == 0 || !strings.Contains(fmt.Sprint(d.Unprunable()), "no channel rule for op TestGain") {
		t.Fatalf("without a rule: groups %v, unprunable %v; want conv1's channels refused for want of a rule", d.Groups(), d.Unprunable())
	}

	prune.RegisterRule("TestGain", prune.Rule{
		Apply: func(a *prune.Analysis, n *graph.Node) {
			a.Pass(n)
			if l, ok := a.Layout(n.Outputs[0]); ok {
				a.Bind(n.Inputs[1], 0, l)
			}
		},
		Features: func(a *prune.Analysis, n *graph.Node) []prune.ParamAxis {
			return []prune.ParamAxis{{Param: n.Inputs[1], Axis: 0}}
		},
	})
	g := gainGraph()
	d, err = prune.Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	groups := d.Groups()
	if len(groups) != 1 {
		t.Fatalf("with a rule: groups %v, want conv1's", groups)
	}
	const want = "conv1: 5 channels: conv1.w[out 0:5] → gain[0:5] → conv2.w[in 0:5]"
	if s := groups[0].String(); s != want {
		t.Errorf("group\n%s\nwant\n%s", s, want)
	}
	if err := prune.Prune(g, groups[0], []int{0, 2, 4}); err != nil {
		t.Fatal(err)
	}
	if s := g.Param("gain").Value.Shape; len(s) != 1 || s[0] != 3 {
		t.Errorf("gain after pruning: shape %v, want 3", s)
	}
	if _, err := cpu.Compile(g); err != nil {
		t.Errorf("the pruned graph does not compile: %v", err)
	}
}

// A rule that names a feature axis its node does not have is reported as
// a bug in the rule, not a panic.
func TestRuleWithBadFeatures(t *testing.T) {
	cpu.Register("TestGainBad", func(*graph.Node) (cpu.Op, error) { return gainOp{}, nil })
	prune.RegisterRule("TestGainBad", prune.Rule{
		Apply: (*prune.Analysis).Pass,
		Features: func(a *prune.Analysis, n *graph.Node) []prune.ParamAxis {
			return []prune.ParamAxis{{Param: n.Inputs[1], Axis: 3}, {Param: "nope", Axis: 0}}
		},
	})
	g := gainGraph()
	g.Nodes[1].Op = "TestGainBad"
	d, err := prune.Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Groups()) != 0 || !strings.Contains(fmt.Sprint(d.Unprunable()), "a bug in the rule") {
		t.Errorf("groups %v, unprunable %v; want conv1's channels refused as a rule's bug", d.Groups(), d.Unprunable())
	}
}
