package prune

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/zoo"
)

func tinyConfig() train.Config {
	return train.Config{Epochs: 2, Batch: 8, LR: 0.05, Optimizer: "sgd", Momentum: 0.9, WeightDecay: 1e-3, Schedule: "constant", Threads: 1}
}

type countingCrit struct {
	Criterion
	n *int
}

func (c countingCrit) Score(ctx *Context, ls []*Layer) error {
	*c.n++
	return c.Criterion.Score(ctx, ls)
}

func TestAGPTraining(t *testing.T) {
	g := tinyMLP()
	layers, _, err := Layers(g, nil, Blocks{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	p := &Pruner{Graph: g, Layers: layers, Criterion: countingCrit{Magnitude{1}, &calls}, Ctx: &Context{Graph: g}}
	a := AGP{Initial: 0, Final: 0.75, Start: 0, N: 4, Every: 2}
	if err := p.Step(a.At(0)); err != nil {
		t.Fatal(err)
	}
	tr := &train.Trainer{Graph: g, Config: tinyConfig(), Train: testutil.BrighterPixelSet(t, 32)} // 4 steps an epoch, 8 in all
	if err := p.Masks.Attach(tr); err != nil {
		t.Fatal(err)
	}
	errf := a.Attach(tr, p)
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := errf(); err != nil {
		t.Fatal(err)
	}
	if calls != 5 {
		t.Errorf("criterion ran %d times, want 5 (start, steps 2, 4, 6, 8)", calls)
	}
	for _, name := range []string{"fc1.weight", "fc2.weight"} {
		mk, w := p.Masks[name], g.Param(name).Value
		if mk == nil || nonzero(mk.Data) != 2 { // floor(0.75·6) = 4 of 6 go
			t.Fatalf("%s mask %v", name, mk)
		}
		for i, v := range mk.Data {
			if v == 0 && w.Data[i] != 0 {
				t.Errorf("%s[%d] = %g under a zero mask", name, i, w.Data[i])
			}
		}
	}
}

func TestIterativeKeepsPruned(t *testing.T) {
	g := zoo.LeNet300(1)
	layers, _, _ := Layers(g, nil, Blocks{1, 1})
	p := &Pruner{Graph: g, Layers: layers, Criterion: Random{}, Alloc: Allocation{Global: true}, Ctx: &Context{Graph: g, Seed: 3}}
	var prev Masks
	for k, s := range IterativeTargets(0.9, 3) {
		p.Ctx.Seed = uint64(k) // random scores change every round: pruned weights must stay pruned
		if err := p.Step(s); err != nil {
			t.Fatal(err)
		}
		for name, mk := range prev {
			for i, v := range mk.Data {
				if v == 0 && p.Masks[name].Data[i] != 0 {
					t.Fatalf("round %d revived %s[%d]", k, name, i)
				}
			}
		}
		prev = Masks{}
		for n, mk := range p.Masks {
			prev[n] = mk.Clone()
		}
		if math.Abs(p.Plan.Ratio()-s) > 1e-3 {
			t.Errorf("round %d: ratio %g, want %g", k, p.Plan.Ratio(), s)
		}
	}
}

func gradsAfter(t *testing.T, g *graph.Graph, r Regularizer) (before, after map[string][]float32) {
	t.Helper()
	prog, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.FromData([]float32{1, 2, 2, 0}, 2, 1, 1, 2)
	outs, err := prog.Forward(true, x)
	if err != nil {
		t.Fatal(err)
	}
	gr := outs[0].Clone()
	if _, _, err := train.SoftmaxCrossEntropy(outs[0], []int{0, 1}, gr); err != nil {
		t.Fatal(err)
	}
	if err := prog.Backward(gr); err != nil {
		t.Fatal(err)
	}
	before, after = map[string][]float32{}, map[string][]float32{}
	for _, p := range g.Params {
		if gp := prog.Grad(p.Name); gp != nil {
			before[p.Name] = append([]float32(nil), gp.Data...)
		}
	}
	r.AddGrad(g, prog)
	for n := range before {
		after[n] = prog.Grad(n).Data
	}
	return before, after
}

func TestRegularizers(t *testing.T) {
	g := tinyMLP()
	b, a := gradsAfter(t, g, L1{0.1})
	w := g.Param("fc1.weight").Value.Data // 1, −2, .5, .5, −3, 0
	for i, s := range []float32{1, -1, 1, 1, -1, 0} {
		if d := a["fc1.weight"][i] - b["fc1.weight"][i]; math.Abs(float64(d-0.1*s)) > 1e-6 {
			t.Errorf("l1: fc1.weight[%d] (w %g) gradient moved by %g", i, w[i], d)
		}
	}
	if a["fc1.bias"][0] != b["fc1.bias"][0] {
		t.Error("l1 touched a bias")
	}
	// Group lasso over filters: λ·w/‖row‖; rows (1, −2), (.5, .5), (−3, 0).
	b, a = gradsAfter(t, g, GroupLasso{0.1, "filter"})
	norms := []float64{math.Sqrt(5), math.Sqrt(0.5), 3}
	for i := range w {
		want := 0.1 * float64(w[i]) / norms[i/2]
		if d := a["fc1.weight"][i] - b["fc1.weight"][i]; math.Abs(float64(d)-want) > 1e-6 {
			t.Errorf("group lasso: fc1.weight[%d] moved by %g, want %g", i, d, want)
		}
	}
	// Group lasso over input channels: columns (1, .5, −3) and (−2, .5, 0).
	b, a = gradsAfter(t, g, GroupLasso{0.1, "channel"})
	cols := []float64{math.Sqrt(10.25), math.Sqrt(4.25)}
	for i := range w {
		want := 0.1 * float64(w[i]) / cols[i%2]
		if d := a["fc1.weight"][i] - b["fc1.weight"][i]; math.Abs(float64(d)-want) > 1e-6 {
			t.Errorf("group lasso channel: fc1.weight[%d] moved by %g, want %g", i, d, want)
		}
	}
	// BN L1 moves γ only.
	bg := newGB("bn", 1, 2, 2)
	h := bg.bn("bn1", bg.conv("conv1", "x", 1, 3, 1, 1), 3)
	gb := bg.head(bg.op("relu1", "Relu", nil, h), 3)
	copy(gb.Param("bn1.weight").Value.Data, []float32{0.5, -2, 1})
	prog, _ := cpu.Compile(gb)
	x := tensor.New(2, 1, 2, 2)
	x.Fill(1)
	outs, _ := prog.Forward(true, x)
	gr := outs[0].Clone()
	train.SoftmaxCrossEntropy(outs[0], []int{0, 1}, gr)
	prog.Backward(gr)
	g0 := append([]float32(nil), prog.Grad("bn1.weight").Data...)
	c0 := append([]float32(nil), prog.Grad("conv1.weight").Data...)
	BNL1{0.01}.AddGrad(gb, prog)
	for i, s := range []float32{1, -1, 1} {
		if d := prog.Grad("bn1.weight").Data[i] - g0[i]; math.Abs(float64(d-0.01*s)) > 1e-7 {
			t.Errorf("bn-l1: γ[%d] moved by %g", i, d)
		}
	}
	if prog.Grad("conv1.weight").Data[0] != c0[0] {
		t.Error("bn-l1 touched a conv weight")
	}
	if _, err := ParseRegularizer("group-lasso-kernel", 1); err == nil {
		t.Error("unknown regulariser accepted")
	}
}

func TestReinit(t *testing.T) {
	g := zoo.VGGS(1)
	randomizeBN(g, rand.New(rand.NewPCG(1, 1)))
	Reinit(g, 9)
	p := g.ParamMap()
	for _, name := range []string{"bn3.weight", "bn3.running_var"} {
		for _, v := range p[name].Value.Data {
			if v != 1 {
				t.Fatalf("%s = %g after Reinit", name, v)
			}
		}
	}
	w := p["conv3.weight"].Value // 64×32×3×3: Kaiming normal, fan-out 64·9
	var ss float64
	for _, v := range w.Data {
		ss += float64(v) * float64(v)
	}
	std, want := math.Sqrt(ss/float64(w.Len())), math.Sqrt(2.0/(64*9))
	if math.Abs(std/want-1) > 0.05 {
		t.Errorf("conv3 std %g, want %g", std, want)
	}
	bound := 1 / math.Sqrt(1152)
	for _, v := range p["fc1.weight"].Value.Data {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("fc1 weight %g outside ±%g", v, bound)
		}
	}
}

func TestSensitivityAndBudget(t *testing.T) {
	g := zoo.LeNet5(1)
	layers := score(t, g, "l1", Channels{Filters: true}, nil)
	// A stand-in for accuracy: the fraction of non-zero conv2 and fc1 weights.
	eval := func(m *graph.Graph) (float64, error) {
		p := m.ParamMap()
		a, b := p["conv2.weight"].Value, p["fc1.weight"].Value
		return (float64(nonzero(a.Data))/float64(a.Len()) + float64(nonzero(b.Data))/float64(b.Len())) / 2, nil
	}
	base, curves, err := Sensitivity(g, layers, []float64{0.25, 0.5, 0.75}, eval)
	if err != nil {
		t.Fatal(err)
	}
	if base != 1 || len(curves) != 3 || curves[0].Layer != "conv1" || len(curves[2].Accuracy) != 3 {
		t.Fatalf("base %g, curves %+v", base, curves)
	}
	if curves[1].Accuracy[0] >= 1 || !(curves[1].Accuracy[2] < curves[1].Accuracy[0]) {
		t.Errorf("conv2 curve %v", curves[1].Accuracy)
	}
	_, td, _ := graph.Stats(g)
	cost := func(r []float64) (float64, error) {
		plan, err := UniformPlan(layers, r, 0)
		if err != nil {
			return 0, err
		}
		s, err := plan.Slim(g)
		if err != nil {
			return 0, err
		}
		_, ts, err := graph.Stats(s)
		return float64(ts.MACs) / float64(td.MACs), err
	}
	ratios, err := RatiosForBudget(layers, base, curves, 0.5, cost)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := cost(ratios); c > 0.5 {
		t.Errorf("ratios %v leave %g of the MACs", ratios, c)
	}
	if _, err := RatiosForBudget(layers, base, curves, 0.001, cost); err == nil || !strings.Contains(err.Error(), "cannot be met") {
		t.Errorf("unreachable budget: %v", err)
	}
}
