package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// trainGraph has one node per case of the trainability rules: x is a graph
// input, h an activation.
func trainGraph() *graph.Graph {
	r := rand.New(rand.NewPCG(1, 2))
	g := &graph.Graph{Name: "train", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 4, 3, 3}}}}
	add := func(name string, shape ...int) { g.AddParam(name, randT(r, shape...), false) }
	add("conv.w", 4, 4, 1, 1)
	add("slope", 4, 1, 1)
	add("gamma", 4, 1, 1)
	add("gamma.4d", 1, 4, 1, 1)
	add("half", 1)
	add("norm", 1, 4, 1, 1)
	add("plane", 1, 4, 3, 1)
	add("bn.s", 4)
	add("bn.b", 4)
	add("bn.m", 4)
	add("bn.v", 4)
	add("fc.w", 6, 36)
	add("fc.c", 1, 6)
	node := func(name, op string, attrs graph.Attrs, out string, in ...string) {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
	}
	node("scaled", "Mul", nil, "x1", "x", "norm") // input normalisation: constant
	node("conv", "Conv", graph.Attrs{"kernel_shape": []int{1, 1}}, "h", "x1", "conv.w")
	node("prelu", "PRelu", nil, "h1", "h", "slope")
	node("ls", "Mul", nil, "h2", "gamma", "h1") // layer scale, either operand order
	node("ls2", "Mul", nil, "h3", "h2", "gamma.4d")
	node("gelu", "Mul", nil, "h4", "h3", "half") // a scalar: constant
	node("map", "Mul", nil, "h5", "h4", "plane") // several axes: constant
	node("bn", "BatchNormalization", nil, "h6", "h5", "bn.s", "bn.b", "bn.m", "bn.v")
	node("flat", "Flatten", nil, "f", "h6")
	node("fc", "Gemm", graph.Attrs{"transB": 1}, "y", "f", "fc.w", "fc.c")
	g.Outputs = []graph.ValueInfo{{Name: "y", Shape: []int{-1, 6}}}
	graph.LabelAxes(g)
	return g
}

func TestTrainability(t *testing.T) {
	g := trainGraph()
	want := map[string]bool{
		"conv.w": true, "slope": true, "gamma": true, "gamma.4d": true,
		"half": false, "norm": false, "plane": false,
		"bn.s": true, "bn.b": true, "bn.m": false, "bn.v": false,
		"fc.w": true, "fc.c": true,
	}
	for name, tr := range want {
		if p := g.Param(name); p.Trainable != tr {
			t.Errorf("%s: trainable %v, want %v", name, p.Trainable, tr)
		}
	}
	if _, err := Compile(g); err != nil {
		t.Fatalf("the test graph does not compile: %v", err)
	}
}

// A custom op registered with RegisterOp is compiled, labelled and counted
// like a built-in one.
func TestRegisterCustomOp(t *testing.T) {
	const op = "TestChannelScale"
	graph.RegisterOp(graph.OpSpec{
		Type:  op,
		Infer: func(_ *graph.Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return [][]int{in[0]}, nil },
		Params: func(*graph.Node, []graph.Operand) []graph.ParamUse {
			return []graph.ParamUse{{Input: 1, Kind: graph.ParamScale, Axes: []graph.AxisRole{graph.AxisOut}, Trainable: true}}
		},
		MACs: func(_ *graph.Node, _, out [][]int) int { return graph.NumElems(out[0]) },
	})
	RegisterKernel(op, func(*graph.Node) (Op, error) { return scaleOp{}, nil })
	defer Unregister(op)
	g := &graph.Graph{Name: "custom", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 3}}}, Outputs: []graph.ValueInfo{{Name: "y"}}}
	g.AddParam("s", tensor.New(3), false)
	g.Nodes = []*graph.Node{{Name: "n", Op: op, Inputs: []string{"x", "s"}, Outputs: []string{"y"}}}
	graph.LabelAxes(g)
	if p := g.Param("s"); !p.Trainable || p.Axes[0] != graph.AxisOut {
		t.Errorf("custom op's param: trainable %v axes %v", p.Trainable, p.Axes)
	}
	if _, total, err := graph.Stats(g); err != nil || total.MACs != 3 {
		t.Errorf("Stats: %d MACs, %v; want 3", total.MACs, err)
	}
	if !Supported(op) {
		t.Error("a registered op is not supported")
	}
}

// scaleOp is y = x·s for an N×C x and a C s (forward only).
type scaleOp struct{}

func (scaleOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) { return [][]int{in[0]}, nil }

func (scaleOp) Forward(_ *Ctx, in, out []*tensor.Tensor) error {
	c := in[1].Len()
	for i, v := range in[0].Data {
		out[0].Data[i] = v * in[1].Data[i%c]
	}
	return nil
}

func (scaleOp) Backward(*Ctx, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor, []*tensor.Tensor) error {
	return nil
}
