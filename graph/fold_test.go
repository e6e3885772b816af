package graph_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/nn"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// perturb gives every BatchNorm non-trivial statistics and affine params.
func perturb(g *graph.Graph, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	params := g.ParamMap()
	for _, n := range g.Nodes {
		if n.Op != "BatchNormalization" {
			continue
		}
		for i, in := range n.Inputs[1:] {
			for k := range params[in].Value.Data {
				v := float32(r.NormFloat64() * 0.3)
				if i == 0 || i == 3 {
					v = 0.5 + r.Float32()
				}
				params[in].Value.Data[k] = v
			}
		}
	}
}

func forward(t *testing.T, g *graph.Graph, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Clone()
}

func count(g *graph.Graph, op string) int {
	n := 0
	for _, x := range g.Nodes {
		if x.Op == op {
			n++
		}
	}
	return n
}

func checkFold(t *testing.T, g *graph.Graph, wantFolded int, shape ...int) {
	t.Helper()
	perturb(g, 7)
	before := g.Clone()
	f, n, err := graph.FoldBatchNorm(g)
	if err != nil {
		t.Fatal(err)
	}
	if n != wantFolded {
		t.Errorf("folded %d BatchNorms, want %d", n, wantFolded)
	}
	if got := count(f, "BatchNormalization"); got != count(g, "BatchNormalization")-n {
		t.Errorf("%d BatchNorms left", got)
	}
	if d := tensor.RelDiff(forward(t, g, testutil.NormalTensor(rand.New(rand.NewPCG(1, 1)), shape...)), forward(t, before, testutil.NormalTensor(rand.New(rand.NewPCG(1, 1)), shape...))); d != 0 {
		t.Fatalf("FoldBatchNorm changed its argument (%g)", d)
	}
	x := testutil.NormalTensor(rand.New(rand.NewPCG(2, 2)), shape...)
	if d := tensor.RelDiff(forward(t, f, x), forward(t, g, x)); d > 1e-5 {
		t.Errorf("folded and unfolded outputs differ by %.2g relative", d)
	}
	for _, p := range f.Params {
		if len(p.Axes) != p.Value.Rank() {
			t.Errorf("param %s: %d axis labels for rank %d", p.Name, len(p.Axes), p.Value.Rank())
		}
	}
}

func TestFoldBatchNormZoo(t *testing.T) {
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			m, _ := zoo.Get(name)
			g := m.Build(3)
			checkFold(t, g, count(g, "BatchNormalization"), append([]int{3}, g.Inputs[0].Shape[1:]...)...)
		})
	}
}

func TestFoldBatchNormCases(t *testing.T) {
	// Conv with and without bias, Gemm with transB 0 and 1, with and
	// without C, and beta ≠ 1.
	b := nn.NewBuilder("convs", 1)
	x := b.Input("x", 3, 8, 8)
	y := b.BatchNorm(b.Conv(x, "c1", 3, 4, 3, nn.ConvOpts{Pad: 1}), "bn1", 4)
	y = b.BatchNorm(b.Conv(y, "c2", 4, 4, 3, nn.ConvOpts{Pad: 1, Bias: true, Group: 2}), "bn2", 4)
	checkFold(t, b.Graph(y), 2, 2, 3, 8, 8)

	for _, transB := range []int{0, 1} {
		for _, withC := range []bool{false, true} {
			g := &graph.Graph{Name: "gemm", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 5}}}, Outputs: []graph.ValueInfo{{Name: "y"}}}
			r := rand.New(rand.NewPCG(uint64(transB), 9))
			wShape := []int{5, 6}
			if transB == 1 {
				wShape = []int{6, 5}
			}
			g.AddParam("w", testutil.NormalTensor(r, wShape...), true)
			gemm := &graph.Node{Name: "fc", Op: "Gemm", Inputs: []string{"x", "w"}, Outputs: []string{"h"},
				Attrs: graph.Attrs{"transB": transB, "alpha": float32(0.7)}}
			if withC {
				g.AddParam("c", testutil.NormalTensor(r, 6), true)
				gemm.Inputs = append(gemm.Inputs, "c")
				gemm.Attrs["beta"] = float32(1.5)
			}
			g.Nodes = append(g.Nodes, gemm)
			for _, s := range []string{"s", "sh", "m", "v"} {
				g.AddParam(s, tensor.New(6), s == "s" || s == "sh")
			}
			g.Nodes = append(g.Nodes, &graph.Node{Name: "bn", Op: "BatchNormalization", Inputs: []string{"h", "s", "sh", "m", "v"}, Outputs: []string{"y"}})
			graph.LabelAxes(g)
			checkFold(t, g, 1, 4, 5)
		}
	}

	// Not foldable: the conv output is read twice; a BatchNorm after a
	// Relu.
	b = nn.NewBuilder("shared", 1)
	x = b.Input("x", 3, 8, 8)
	c := b.Conv(x, "c1", 3, 4, 3, nn.ConvOpts{Pad: 1})
	y = b.Add(b.BatchNorm(c, "bn1", 4), c, "add")
	y = b.BatchNorm(b.Relu(y, "relu"), "bn2", 4)
	checkFold(t, b.Graph(y), 0, 2, 3, 8, 8)
}
