package prune

import (
	"errors"
	"fmt"
	"go/build"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/zoo"
)

// lowestFirst is a test Selector: it scores as Magnitude{P: 1} does but
// keeps the k lowest-scoring units, the opposite of what allocation would
// keep from the scores alone, so a test sees whose choice won.
type lowestFirst struct {
	Magnitude
	calls *int
	wrong bool // keep one unit too many
}

func (s lowestFirst) Select(c *Context, l *Layer, k int) ([]bool, error) {
	*s.calls++
	order := make([]int, l.Units)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmpFloat(l.Scores[x], l.Scores[y]) })
	keep := make([]bool, l.Units)
	if s.wrong {
		k++
	}
	for _, u := range order[:min(k, l.Units)] {
		keep[u] = true
	}
	return keep, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestSelectorChoosesKeptUnits(t *testing.T) {
	g := zoo.LeNet5(1)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Allocation{{Ratio: 0.5}, {Ratio: 0.5, Global: true}, {Ratio: 0.3, RoundTo: 4}} {
		layers, _, err := Layers(g, d, Channels{Filters: true})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		sel := lowestFirst{Magnitude: Magnitude{P: 1}, calls: &calls}
		if err := Score(&Context{Graph: g, Dep: d, Filters: true}, sel, layers, "mean"); err != nil {
			t.Fatal(err)
		}
		plan, err := a.Allocate(layers)
		if err != nil {
			t.Fatal(err)
		}
		// The same counts as the scores alone give, but the lowest units.
		byScore, _, _ := Layers(g, d, Channels{Filters: true})
		if err := Score(&Context{Graph: g, Dep: d, Filters: true}, Magnitude{P: 1}, byScore, "mean"); err != nil {
			t.Fatal(err)
		}
		ref, err := a.Allocate(byScore)
		if err != nil {
			t.Fatal(err)
		}
		if calls == 0 {
			t.Fatalf("%+v: Select never called", a)
		}
		for i, l := range layers {
			k := numTrue(plan.Keep[i])
			if k != numTrue(ref.Keep[i]) {
				t.Errorf("%+v %s: keeps %d, scores alone %d", a, l.Name, k, numTrue(ref.Keep[i]))
			}
			if k == l.Units {
				continue
			}
			maxKept, minDropped := math.Inf(-1), math.Inf(1)
			for u, keep := range plan.Keep[i] {
				if keep {
					maxKept = math.Max(maxKept, l.Scores[u])
				} else {
					minDropped = math.Min(minDropped, l.Scores[u])
				}
			}
			if maxKept > minDropped {
				t.Errorf("%+v %s: kept a unit scoring %g over a removed one scoring %g: not the selector's choice", a, l.Name, maxKept, minDropped)
			}
		}
	}
	// A selector that keeps the wrong number of units is an error.
	layers, _, _ := Layers(g, d, Channels{})
	calls := 0
	if err := Score(&Context{Graph: g, Dep: d}, lowestFirst{Magnitude: Magnitude{P: 1}, calls: &calls, wrong: true}, layers, "none"); err != nil {
		t.Fatal(err)
	}
	if _, err := (Allocation{Ratio: 0.5}).Allocate(layers); err == nil || !strings.Contains(err.Error(), "selected") {
		t.Errorf("wrong selection count: %v", err)
	}
	// Scored again by a plain criterion, the layers forget the selector.
	if err := Score(&Context{Graph: g, Dep: d}, Magnitude{P: 1}, layers, "none"); err != nil {
		t.Fatal(err)
	}
	if _, err := (Allocation{Ratio: 0.5}).Allocate(layers); err != nil {
		t.Errorf("plain criterion after a selector: %v", err)
	}
}

func TestGranularitiesAnswer(t *testing.T) {
	g5 := zoo.LeNet5(1)
	w := g5.Param("fc1.weight") // 500×800
	for _, tc := range []struct {
		gran       string
		structured bool
		fixed      float64 // NaN: not fixed
		setsOf     int     // units per set, 0: no sets
		keep       int
	}{
		{"filter", true, math.NaN(), 0, 0},
		{"channel", true, math.NaN(), 0, 0},
		{"weight", false, math.NaN(), 0, 0},
		{"block1x4", false, math.NaN(), 0, 0},
		{"2:4", false, 0.5, 4, 2},
		{"1:8", false, 7.0 / 8, 8, 1},
	} {
		g, err := ParseGranularity(tc.gran)
		if err != nil {
			t.Fatal(err)
		}
		if g.Structured() != tc.structured || Structured(g) != tc.structured {
			t.Errorf("%s: structured %v", tc.gran, g.Structured())
		}
		r, fixed := g.FixedRatio()
		if fixed != !math.IsNaN(tc.fixed) || (fixed && math.Abs(r-tc.fixed) > 1e-12) {
			t.Errorf("%s: fixed ratio %g, %v", tc.gran, r, fixed)
		}
		sets, keep, err := g.Sets(w)
		if err != nil {
			t.Fatalf("%s: %v", tc.gran, err)
		}
		if tc.setsOf == 0 {
			if sets != nil {
				t.Errorf("%s: %d sets", tc.gran, len(sets))
			}
			continue
		}
		count := map[int32]int{}
		for _, s := range sets {
			count[s]++
		}
		if len(sets) != w.Value.Len() || len(count) != w.Value.Len()/tc.setsOf {
			t.Fatalf("%s: %d units in %d sets", tc.gran, len(sets), len(count))
		}
		for s, n := range count {
			if n != tc.setsOf {
				t.Fatalf("%s: set %d has %d units", tc.gran, s, n)
			}
		}
		if keep != tc.keep {
			t.Errorf("%s: keeps %d per set, want %d", tc.gran, keep, tc.keep)
		}
	}
	// conv2 reads 20 channels: no 1:8 pattern fits.
	if _, _, err := (NM{1, 8}).Sets(g5.Param("conv2.weight")); err == nil || !strings.Contains(err.Error(), "20 inputs, not a multiple of 8") {
		t.Errorf("1:8 on 20 inputs: %v", err)
	}
}

// TestCriteriaFitsAgreesWithScore checks that what a criterion declares
// it can score is what it scores: Fits accepts a granularity exactly when
// Score does not refuse its layers.
func TestCriteriaFitsAgreesWithScore(t *testing.T) {
	g := zoo.LeNet5(1)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	for name, crit := range Criteria {
		if crit.Needs() != NeedsNothing {
			continue // scored without data below by the refusal only
		}
		for _, gs := range []string{"filter", "channel", "weight", "shape", "2:4", "block1x4"} {
			gran, _ := ParseGranularity(gs)
			layers, _, err := Layers(g, d, gran)
			if err != nil {
				t.Fatal(err)
			}
			fitErr := crit.Fits(gran)
			scoreErr := Score(&Context{Graph: g, Dep: d, Seed: 1}, crit, layers, "none")
			if (fitErr == nil) != (scoreErr == nil) {
				t.Errorf("%s on %s: Fits %v, Score %v", name, gs, fitErr, scoreErr)
			}
			for _, err := range []error{fitErr, scoreErr} {
				if err != nil && strings.Contains(err.Error(), "--") {
					t.Errorf("%s on %s: error names a flag: %v", name, gs, err)
				}
			}
		}
	}
	for _, name := range []string{"apoz", "mean-act"} {
		if err := Criteria[name].Fits(Blocks{1, 1}); err == nil || !strings.Contains(err.Error(), "scores channels") {
			t.Errorf("%s on weights: %v", name, err)
		}
	}
	for _, name := range []string{"taylor", "snip"} {
		if err := Criteria[name].Fits(NM{2, 4}); err != nil {
			t.Errorf("%s on 2:4: %v", name, err)
		}
	}
}

func TestCosts(t *testing.T) {
	dense := zoo.LeNet5(1)
	layers := score(t, dense.Clone(), "l1", Blocks{1, 1}, nil)
	plan, err := Allocation{Ratio: 0.75}.Allocate(layers)
	if err != nil {
		t.Fatal(err)
	}
	pruned := dense.Clone()
	if _, err := plan.Apply(pruned); err != nil {
		t.Fatal(err)
	}
	m, err := Measure(dense, pruned, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cost Cost
		want float64
	}{
		{MACsCost{}, float64(m.EffectiveMACs) / float64(m.MACs)},
		{ParamsCost{}, float64(m.Nonzero) / float64(m.Params)},
	} {
		got, err := tc.cost.Of(dense, pruned)
		if err != nil || got != tc.want {
			t.Errorf("%s: %g, %v; want %g", tc.cost.Name(), got, err, tc.want)
		}
		if viaPlan, err := PlanCost(tc.cost, dense, plan); err != nil || viaPlan != tc.want {
			t.Errorf("%s of the plan: %g, %v; want %g", tc.cost.Name(), viaPlan, err, tc.want)
		}
		if !(tc.want > 0.2 && tc.want < 0.5) {
			t.Errorf("%s: %g after pruning 75%% of every weight", tc.cost.Name(), tc.want)
		}
	}
	// A latency cost calls the caller's clock: here the non-zero params
	// stand for time; the dense model is timed once.
	timed := 0
	lat := &LatencyCost{Measure: func(g *graph.Graph) (time.Duration, error) {
		timed++
		_, s, err := graph.Stats(g)
		return time.Duration(s.Nonzero) * time.Microsecond, err
	}}
	for range 2 {
		got, err := lat.Of(dense, pruned)
		if err != nil || math.Abs(got-float64(m.Nonzero)/float64(m.Params)) > 1e-12 {
			t.Errorf("latency cost %g, %v", got, err)
		}
	}
	if timed != 3 {
		t.Errorf("timed %d models, want 3 (the dense one once)", timed)
	}
	if _, err := (&LatencyCost{}).Of(dense, pruned); err == nil {
		t.Error("latency cost without a clock: no error")
	}
	if _, err := ParseCost("flops"); err == nil || !strings.Contains(err.Error(), "macs, params") {
		t.Errorf("unknown cost: %v", err)
	}
}

// TestSensitivityBudgetAllocates checks the budget allocator against
// RatiosForBudget and UniformPlan by hand, and that it plugs into a
// Pruner like any Allocator.
func TestSensitivityBudgetAllocates(t *testing.T) {
	g := zoo.LeNet5(1)
	layers := score(t, g, "l1", Channels{Filters: true}, nil)
	eval := Evaluator(func(m *graph.Graph) (float64, error) {
		p := m.ParamMap()
		a, b := p["conv2.weight"].Value, p["fc1.weight"].Value
		return (float64(nonzero(a.Data))/float64(a.Len()) + float64(nonzero(b.Data))/float64(b.Len())) / 2, nil
	})
	base, curves, err := Sensitivity(g, layers, []float64{0.25, 0.5, 0.75}, eval)
	if err != nil {
		t.Fatal(err)
	}
	b := &SensitivityBudget{Dense: g, Base: base, Curves: curves, Keep: 0.5, Cost: MACsCost{}}
	plan, err := b.Plan(layers, 0.9) // the ratio argument is not used
	if err != nil {
		t.Fatal(err)
	}
	want, err := RatiosForBudget(layers, base, curves, 0.5, func(r []float64) (float64, error) {
		p, err := UniformPlan(layers, r, 0)
		if err != nil {
			return 0, err
		}
		return PlanCost(MACsCost{}, g, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(b.Ratios) != fmt.Sprint(want) {
		t.Errorf("ratios %v, want %v", b.Ratios, want)
	}
	if c, _ := PlanCost(MACsCost{}, g, plan); c > 0.5 {
		t.Errorf("plan keeps %g of the MACs", c)
	}
	p := &Pruner{Graph: g.Clone(), Layers: layers, Criterion: Magnitude{P: 1}, Alloc: b, Ctx: &Context{Graph: g, Filters: true}}
	p.Ctx.Graph = p.Graph
	if err := p.Step(0); err != nil {
		t.Fatal(err)
	}
	if p.Plan.Ratio() == 0 {
		t.Error("the budget allocator pruned nothing through Pruner.Step")
	}
	b.Keep = 0.001
	if _, err := b.Plan(layers, 0); err == nil || !strings.Contains(err.Error(), "cannot be met") {
		t.Errorf("unreachable budget: %v", err)
	}
}

func TestAllocationErrorsNameTheSetting(t *testing.T) {
	layers := fakeLayers(1, 4, 4)
	lr, _ := NewLayerRatio("nomatch", 0.5)
	ok, _ := NewLayerRatio("layera", 0.5)
	var ae *AllocationError
	err := Allocation{Ratio: 0.5, LayerRatios: []LayerRatio{ok, lr}}.Check(layers)
	if !errors.As(err, &ae) || ae.Field != "LayerRatios" || ae.Index != 1 {
		t.Errorf("unmatched layer ratio: %v (%+v)", err, ae)
	}
	err = Allocation{Ratio: 0.9, Global: true, MaxLayerRatio: 0.5}.Check(layers)
	if !errors.As(err, &ae) || ae.Field != "Ratio" || !strings.Contains(err.Error(), "cannot be met") {
		t.Errorf("unreachable global ratio: %v (%+v)", err, ae)
	}
}

// TestCoreImports keeps the pruning core free of the experiment runner's
// dependencies: no YAML, no image encoding, no data sets.
func TestCoreImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, "yaml") || strings.HasPrefix(imp, "image") || imp == "github.com/shearsml/shears/data" || strings.HasPrefix(imp, "encoding/csv") {
			t.Errorf("package prune imports %s", imp)
		}
	}
}
