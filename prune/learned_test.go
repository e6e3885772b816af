package prune

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
)

// TestSurgery: DNS keeps the values of pruned weights and updates them,
// the forward pass sees W⊙T, the thresholds splice a grown weight back
// and prune a shrunk one, and Finish applies the masks.
func TestSurgery(t *testing.T) {
	g := tinyMLP()
	layers, _, err := Layers(g, nil, Blocks{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pruner{Graph: g, Layers: layers, Criterion: Magnitude{1}, Ctx: &Context{Graph: g}}
	values := map[string][]float32{}
	for _, q := range g.Params {
		values[q.Name] = slices.Clone(q.Value.Data)
	}
	// 2 of 6 weights a layer: no unit loses all its inputs (whose
	// weights would then get no gradient through the ReLU).
	if err := p.Step(0.34); err != nil {
		t.Fatal(err)
	}
	d := DefaultSurgery(1)
	d.Gamma = 0 // update the masks after every step
	tr := &train.Trainer{Graph: g, Config: tinyConfig(), Train: testutil.BrighterPixelSet(t, 32)}
	if err := d.Attach(tr, p, values); err != nil {
		t.Fatal(err)
	}
	w := g.Param("fc1.weight").Value.Data
	if !slices.Equal(w, values["fc1.weight"]) {
		t.Fatalf("Attach did not restore the pruned weights' values: %v, were %v", w, values["fc1.weight"])
	}
	tr.On(train.BeforeStep, func(*train.State) error {
		for name, mk := range p.Masks {
			for e, v := range g.Param(name).Value.Data {
				if mk.Data[e] == 0 && v != 0 {
					t.Fatalf("%s[%d] = %g in the forward pass under a zero mask", name, e, v)
				}
			}
		}
		return nil
	})
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mk := p.Masks["fc1.weight"].Data
	kept, moved := 0, 0
	for e, v := range w {
		if mk[e] == 0 && v != 0 {
			kept++
			if v != values["fc1.weight"][e] {
				moved++
			}
		}
	}
	if kept == 0 || moved == 0 {
		t.Fatalf("after training, %d pruned weights of fc1 hold a value, %d of them updated (mask %v, weights %v)", kept, moved, mk, w)
	}
	// Grow a pruned weight to the largest one's size, far above b_k, and
	// shrink a kept one to 0.
	grown, shrunk := slices.Index(mk, 0), slices.Index(mk, 1)
	largest := 0
	for e, v := range w {
		if abs32(v) > abs32(w[largest]) {
			largest = e
		}
	}
	w[grown], w[shrunk] = w[largest], 0
	d.update()
	if mk[grown] != 1 || mk[shrunk] != 0 || !p.Plan.Keep[0][grown] || p.Plan.Keep[0][shrunk] {
		t.Errorf("after update: mask %v, plan %v; want %d spliced back and %d pruned", mk, p.Plan.Keep[0], grown, shrunk)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	for e, v := range w {
		if mk[e] == 0 && v != 0 {
			t.Errorf("fc1.weight[%d] = %g after Finish under a zero mask", e, v)
		}
	}

	filters, _, err := Layers(g, mustAnalyze(t, g), mustGranularity(t, "filter"))
	if err != nil {
		t.Fatal(err)
	}
	q := &Pruner{Graph: g, Layers: filters, Criterion: Magnitude{1}, Ctx: &Context{Graph: g}}
	if err := q.Step(0.3); err != nil {
		t.Fatal(err)
	}
	err = DefaultSurgery(1).Attach(tr, q, values)
	if err == nil || !strings.Contains(err.Error(), "granularity weight") {
		t.Errorf("DNS on filters: %v", err)
	}
}

// TestSoftFilter: SFP zeroes the filters only while training goes on, so
// that they grow back; the final zeroing takes the whole groups; and it
// runs at the end of every Every-th epoch and of the last.
func TestSoftFilter(t *testing.T) {
	b := newGB("convs", 1, 1, 2)
	g := b.head(b.cbr("c2", b.cbr("c1", "x", 1, 4, 1), 4, 4, 1), 4)
	filters, _, err := Layers(g, mustAnalyze(t, g), mustGranularity(t, "filter"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	p := &Pruner{Graph: g, Layers: filters, Criterion: countingCrit{Magnitude{2}, &calls}, Ctx: &Context{Graph: g}}
	sf := SoftFilter{Ratio: 0.5}
	// A zeroed filter makes its BatchNorm output the shift β alone: with
	// β > 0 the ReLU passes its gradient (with β ≤ 0 the filter stays dead
	// under SFP too).
	for i := range g.Param("c1.bn.bias").Value.Data {
		g.Param("c1.bn.bias").Value.Data[i] = 0.5
	}
	gamma := slices.Clone(g.Param("c1.bn.weight").Value.Data)
	next := slices.Clone(g.Param("c2.weight").Value.Data)
	if err := sf.Zero(p, false); err != nil {
		t.Fatal(err)
	}
	zeroed := zeroFilters(g.Param("c1.weight").Value.Data, 4)
	if len(zeroed) != 2 {
		t.Fatalf("c1: filters %v zeroed, want 2 of 4", zeroed)
	}
	if !slices.Equal(gamma, g.Param("c1.bn.weight").Value.Data) || !slices.Equal(next, g.Param("c2.weight").Value.Data) {
		t.Error("SFP changed the BatchNorm scales or the next layer's input slices before the final step")
	}
	tr := &train.Trainer{Graph: g, Config: tinyConfig(), Train: testutil.BrighterPixelSet(t, 32)}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if back := zeroFilters(g.Param("c1.weight").Value.Data, 4); len(back) != 0 {
		t.Errorf("filters %v of c1 stayed at zero in training: SFP's filters must recover", back)
	}
	if err := sf.Zero(p, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range zeroFilters(g.Param("c1.weight").Value.Data, 4) {
		if g.Param("c1.bn.weight").Value.Data[c] != 0 {
			t.Errorf("final step: channel %d's filter is zero, its BatchNorm scale is not", c)
		}
	}
	for _, tc := range []struct{ every, epochs, want int }{{1, 3, 3}, {2, 3, 2}, {2, 4, 2}} {
		calls = 0
		cfg := tinyConfig()
		cfg.Epochs = tc.epochs
		tr := &train.Trainer{Graph: g, Config: cfg, Train: testutil.BrighterPixelSet(t, 32)}
		SoftFilter{Ratio: 0.5, Every: tc.every}.Attach(tr, p)
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if calls != tc.want {
			t.Errorf("every %d of %d epochs: %d zeroings, want %d", tc.every, tc.epochs, calls, tc.want)
		}
	}
	weights, _, err := Layers(g, nil, Blocks{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	err = sf.Zero(&Pruner{Graph: g, Layers: weights, Criterion: Magnitude{2}, Ctx: &Context{Graph: g}}, false)
	if err == nil || !strings.Contains(err.Error(), "granularity filter or channel") {
		t.Errorf("SFP on single weights: %v", err)
	}
	if err := (SoftFilter{Ratio: 0.5, Every: -1}).Validate(); err == nil {
		t.Error("SFP every −1: no error")
	}
}

// zeroFilters lists the output channels of an out×… weight that are all
// zero.
func zeroFilters(w []float32, out int) []int {
	var z []int
	n := len(w) / out
	for c := range out {
		if nonzero(w[c*n:(c+1)*n]) == 0 {
			z = append(z, c)
		}
	}
	return z
}

func mustAnalyze(t *testing.T, g *graph.Graph) *DepGraph {
	t.Helper()
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustGranularity(t *testing.T, name string) Granularity {
	t.Helper()
	gr, err := ParseGranularity(name)
	if err != nil {
		t.Fatal(err)
	}
	return gr
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// TestMorphNet: the penalty pushes the BatchNorm scales by λ·w_k with
// dearer channels pushed harder, dead channels are found by the
// threshold, and the expansion meets the cost target with the largest
// ω, keeping the largest scales.
func TestMorphNet(t *testing.T) {
	b := newGB("convs", 1, 4, 4)
	g := b.head(b.cbr("c2", b.cbr("c1", "x", 1, 8, 3), 8, 8, 3), 8)
	layers, _, err := Layers(g, mustAnalyze(t, g), mustGranularity(t, "filter"))
	if err != nil {
		t.Fatal(err)
	}
	m := &MorphNet{Lambda: 1e-3}
	if err := m.Prepare(g, layers); err != nil {
		t.Fatal(err)
	}
	if len(m.weight) != 2 || !(m.weight[0] > 0 && m.weight[1] > 0) {
		t.Fatalf("channel weights %v", m.weight)
	}
	// c1's channels feed c2's 3×3 convolution as well as their own: they
	// cost more than c2's, which feed the linear head only.
	if !(m.weight[0] > m.weight[1]) {
		t.Errorf("channel weights %v: want c1's above c2's", m.weight)
	}
	prog, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	prog.Threads = 1
	if _, err := prog.Forward(true, randInput(g, 2, testutil.NewRand(1, 1))...); err != nil {
		t.Fatal(err)
	}
	out := tensor.New(2, 3)
	if err := prog.Backward(out); err != nil {
		t.Fatal(err)
	}
	gamma := g.Param("c1.bn.weight").Value.Data
	gr := prog.Grad("c1.bn.weight")
	before := slices.Clone(gr.Data)
	m.AddGrad(g, prog)
	for c, v := range gamma {
		want := before[c] + float32(m.Lambda*m.weight[0])*float32(math.Copysign(1, float64(v)))
		if math.Abs(float64(gr.Data[c]-want)) > 1e-7 {
			t.Errorf("c1.bn.weight grad[%d] = %g, want %g", c, gr.Data[c], want)
		}
	}
	// Kill half of c1's channels and a quarter of c2's; keep 60% of the MACs.
	for c := range 4 {
		gamma[c] = 1e-3
	}
	g2 := g.Param("c2.bn.weight").Value.Data
	g2[0], g2[1] = 0, 0
	plan, alive, omega, err := m.Plan(g, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alive, []int{4, 6}) {
		t.Errorf("live channels %v, want [4 6]", alive)
	}
	c, err := PlanCost(MACsCost{}, g, plan)
	if err != nil {
		t.Fatal(err)
	}
	if c > 0.6 {
		t.Errorf("plan keeps %.3f of the MACs, target 0.6", c)
	}
	for c := range 4 {
		if plan.Keep[0][c] && !plan.Keep[0][c+4] {
			t.Errorf("c1: dead channel %d kept before a live one", c)
		}
	}
	// A slightly larger ω breaks the target (ω is the largest).
	wider := &Plan{Layers: plan.Layers, Keep: make([][]bool, 2)}
	for i, l := range layers {
		wider.Keep[i] = make([]bool, l.Units)
		keepBest(l, wider.Keep[i], min(l.Units, max(1, int(math.Round((omega+0.2)*float64(alive[i]))))))
	}
	if cw, err := PlanCost(MACsCost{}, g, wider); err != nil || cw <= 0.6 && numTrue(wider.Keep[0])+numTrue(wider.Keep[1]) < 16 {
		t.Errorf("ω = %.3f is not the largest: ω + 0.2 keeps %.3f (%v)", omega, cw, err)
	}
	if _, _, _, err := m.Plan(g, 0); err == nil {
		t.Error("keep 0: no error")
	}
	if err := (&MorphNet{Lambda: math.NaN()}).Prepare(g, layers); err == nil {
		t.Error("λ NaN: no error")
	}
}

// TestSparseVDKL checks the KL term's derivatives against central finite
// differences, and its shape: larger log α costs less.
func TestSparseVDKL(t *testing.T) {
	for _, tc := range [][2]float64{{0.5, -10}, {-0.2, -3}, {0.01, -4}, {1.5, 2}, {-0.05, 0}} {
		th, ls := tc[0], tc[1]
		_, dth, dls := klTerm(th, ls)
		const h = 1e-6
		up, _, _ := klTerm(th+h, ls)
		down, _, _ := klTerm(th-h, ls)
		if num := (up - down) / (2 * h); math.Abs(num-dth) > 1e-5*(1+math.Abs(num)) {
			t.Errorf("θ %g, log σ² %g: dKL/dθ = %g, finite differences %g", th, ls, dth, num)
		}
		up, _, _ = klTerm(th, ls+h)
		down, _, _ = klTerm(th, ls-h)
		if num := (up - down) / (2 * h); math.Abs(num-dls) > 1e-5*(1+math.Abs(num)) {
			t.Errorf("θ %g, log σ² %g: dKL/dlog σ² = %g, finite differences %g", th, ls, dls, num)
		}
	}
	a, _, _ := klTerm(0.1, -8)
	b, _, _ := klTerm(0.1, 0)
	if !(a > b && b > 0) {
		t.Errorf("KL at log α small %g, large %g: want positive and falling", a, b)
	}
}

// TestSparseVDRewrite: the training copy computes the original model
// when the noise is zero and a noisy one otherwise, its log-variances
// train, and Fold leaves the original without them, with the weights of
// large log α at zero.
func TestSparseVDRewrite(t *testing.T) {
	g := tinyMLP()
	want := run(t, g, randInput(g, 4, testutil.NewRand(3, 1)))
	v, err := NewSparseVD(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.Reset()
	if len(v.Train.Inputs) != 3 || len(v.layers) != 2 {
		t.Fatalf("training copy has inputs %v", v.Train.Inputs)
	}
	if p := v.Train.Param("fc1.weight.log_sigma2"); p == nil || !p.Trainable || p.Value.Data[0] != -10 {
		t.Fatalf("log-variance param %+v", p)
	}
	x := randInput(g, 4, testutil.NewRand(3, 1))
	feed := v.Loss(nil).(train.InputFeeder)
	for _, epoch := range []int{-1, 0} {
		extra, err := feed.ExtraInputs(train.Batch{Epoch: epoch, Inputs: x})
		if err != nil {
			t.Fatal(err)
		}
		got := run(t, v.Train, append(slices.Clone(x), extra...))
		if epoch < 0 {
			sameOutputs(t, "mean network", want, got, 1e-5)
			continue
		}
		if d := math.Abs(float64(got[0].Data[0] - want[0].Data[0])); d == 0 || d > 0.1 {
			t.Errorf("noisy output differs by %g from the mean with σ² = e^−10 (want small, not 0)", d)
		}
	}
	cfg := tinyConfig()
	cfg.Optimizer, cfg.Momentum, cfg.LR = "adam", 0, 0.05
	v.KLWeight = 1
	tr := &train.Trainer{Graph: v.Train, Config: cfg, Train: testutil.BrighterPixelSet(t, 32), Loss: v.Loss(nil)}
	v.Attach(tr)
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v.Train.Param("fc1.weight.log_sigma2").Value.Data[0] <= -10 {
		t.Error("the log-variances did not train up under the KL term")
	}
	ls := v.Train.Param("fc2.weight.log_sigma2").Value.Data
	ls[0] = 10 // log α ≫ 3: removed
	m, err := v.Fold()
	if err != nil {
		t.Fatal(err)
	}
	if g.Param("fc2.weight.log_sigma2") != nil || len(g.Inputs) != 1 || len(g.Nodes) != 4 {
		t.Errorf("the folded model keeps training parts: %d inputs, %d nodes", len(g.Inputs), len(g.Nodes))
	}
	if m["fc2.weight"].Data[0] != 0 || g.Param("fc2.weight").Value.Data[0] != 0 {
		t.Error("a weight with log α > 3 survived Fold")
	}
	if !slices.Equal(g.Param("fc1.bias").Value.Data, v.Train.Param("fc1.bias").Value.Data) {
		t.Error("Fold did not copy the trained biases")
	}
}
