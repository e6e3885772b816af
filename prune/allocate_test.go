package prune

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// fakeLayers makes channel-like layers with the given unit counts and
// random scores.
func fakeLayers(seed uint64, units ...int) []*Layer {
	r := rand.New(rand.NewPCG(seed, 1))
	var ls []*Layer
	for i, n := range units {
		l := &Layer{Name: "layer" + string(rune('a'+i)), Units: n, Scores: make([]float64, n)}
		for u := range l.Scores {
			l.Scores[u] = r.Float64()
		}
		ls = append(ls, l)
	}
	return ls
}

func TestAllocationNeverEmpties(t *testing.T) {
	for _, global := range []bool{false, true} {
		for _, ratio := range []float64{0, 0.3, 0.9, 0.99} {
			ls := fakeLayers(3, 1, 2, 3, 7, 64)
			p, err := Allocation{Ratio: ratio, Global: global}.Allocate(ls)
			if err != nil {
				if global && ratio == 0.99 && strings.Contains(err.Error(), "cannot be met") {
					continue
				}
				t.Fatalf("global %v ratio %g: %v", global, ratio, err)
			}
			for i, k := range p.Keep {
				if numTrue(k) < 1 {
					t.Errorf("global %v ratio %g: %s emptied", global, ratio, ls[i].Name)
				}
			}
		}
	}
}

func TestGlobalCaps(t *testing.T) {
	ls := fakeLayers(5, 10, 10)
	for u := range ls[0].Scores {
		ls[0].Scores[u] -= 10 // layer a has all the lowest scores
	}
	p, err := Allocation{Ratio: 0.5, Global: true, MaxLayerRatio: 0.6}.Allocate(ls)
	if err != nil {
		t.Fatal(err)
	}
	if kept := numTrue(p.Keep[0]); kept != 4 {
		t.Errorf("layer a keeps %d of 10 at max layer ratio 0.6, want 4", kept)
	}
	if kept := numTrue(p.Keep[1]); kept != 6 {
		t.Errorf("layer b keeps %d of 10, want 6 (10 units go in all)", kept)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "layera capped at 0.6") {
		t.Errorf("warnings %q", p.Warnings)
	}
	// Without a cap the last unit stays, with a warning too.
	p, err = Allocation{Ratio: 0.5, Global: true}.Allocate(fakeLayers(5, 1, 9))
	if err != nil || numTrue(p.Keep[0]) != 1 {
		t.Fatalf("keep %v, err %v", p.Keep, err)
	}
	// A ratio that only emptying layers could meet is an error.
	_, err = Allocation{Ratio: 0.7, Global: true, MaxLayerRatio: 0.5}.Allocate(fakeLayers(5, 10, 10))
	if err == nil || !strings.Contains(err.Error(), "cannot be met") {
		t.Errorf("error %v", err)
	}
}

func TestRoundToAndLayerRatios(t *testing.T) {
	for _, global := range []bool{false, true} {
		ls := fakeLayers(7, 13, 30, 64, 5)
		p, err := Allocation{Ratio: 0.45, Global: global, RoundTo: 8}.Allocate(ls)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range p.Keep {
			if n := numTrue(k); n%8 != 0 && n != ls[i].Units {
				t.Errorf("global %v: %s keeps %d", global, ls[i].Name, n)
			}
		}
	}
	lr1, _ := ParseLayerRatio("layer[ab]=0")
	lr2, _ := ParseLayerRatio("c$=0.5")
	ls := fakeLayers(7, 10, 10, 10, 10)
	p, err := Allocation{Ratio: 0.2, LayerRatios: []LayerRatio{lr1, lr2}}.Allocate(ls)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{10, 10, 5, 8} {
		if n := numTrue(p.Keep[i]); n != want {
			t.Errorf("%s keeps %d, want %d", ls[i].Name, n, want)
		}
	}
	lr3, _ := ParseLayerRatio("conv9=0.5")
	if _, err := (Allocation{LayerRatios: []LayerRatio{lr3}}).Allocate(ls); err == nil || !strings.Contains(err.Error(), `"conv9" matches no layer`) {
		t.Errorf("error %v", err)
	}
	for _, bad := range []string{"conv1", "conv1=x", "conv1=1", "(=0.5"} {
		if _, err := ParseLayerRatio(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := (Allocation{Ratio: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "empty a layer") {
		t.Errorf("ratio 1: %v", err)
	}
}

func TestNMMasks(t *testing.T) {
	b := newGB("nm", 8, 2, 2)
	x := b.conv("conv", "x", 8, 6, 3, 1)
	x = b.op("flatten", "Flatten", graph.Attrs{"axis": 1}, x)
	g := b.done(b.linear("fc", x, 24, 5))
	for _, gr := range []NM{{2, 4}, {1, 8}} {
		c := g.Clone()
		layers := score(t, c, "l1", gr, nil)
		p, err := Allocation{}.Allocate(layers)
		if err != nil {
			t.Fatal(err)
		}
		m, err := p.Apply(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"conv.weight", "fc.weight"} {
			mk := m[name]
			prm := c.Param(name)
			outer, n, inner := axisBlocks(mk.Shape, 1) // the in axis
			for o := range outer {
				for k := range inner {
					for s := 0; s < n; s += gr.M {
						nz := 0
						for i := s; i < s+gr.M; i++ {
							if mk.Data[(o*n+i)*inner+k] != 0 {
								nz++
							}
						}
						if nz != gr.N {
							t.Fatalf("%s %s: %d non-zeros in a set of %d", gr.Name(), name, nz, gr.M)
						}
					}
				}
			}
			if got := nonzero(prm.Value.Data); got*gr.M != prm.Value.Len()*gr.N {
				t.Errorf("%s %s: %d of %d weights non-zero", gr.Name(), name, got, prm.Value.Len())
			}
		}
	}
	// A weight the pattern does not fit stays dense, with a warning.
	_, warns, err := Layers(zoo.LeNet5(1), nil, NM{2, 4})
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "conv1.weight left dense") {
		t.Errorf("warnings %q, err %v", warns, err)
	}
}

func TestGranularityUnits(t *testing.T) {
	p := &graph.Param{Name: "w", Value: tensor.New(4, 8, 3, 3), Axes: []graph.AxisRole{graph.AxisOut, graph.AxisIn, graph.AxisSpatial, graph.AxisSpatial}}
	for _, tc := range []struct {
		g     string
		units int
	}{{"weight", 288}, {"shape", 72}, {"block1x4", 72}, {"block2x8", 18}, {"2:4", 288}} {
		gr, err := ParseGranularity(tc.g)
		if err != nil {
			t.Fatal(err)
		}
		_, n, err := gr.Units(p)
		if err != nil || n != tc.units {
			t.Errorf("%s: %d units (%v), want %d", tc.g, n, err, tc.units)
		}
	}
	// Shape-wise: element (o, i, y, x) belongs to unit (i, y, x).
	u, _, _ := Blocks{0, 1}.Units(p)
	if u[3*72+5*9+2*3+1] != 5*9+2*3+1 {
		t.Errorf("shape unit of (3, 5, 2, 1) is %d", u[3*72+5*9+2*3+1])
	}
	for _, bad := range []string{"4:2", "2:x", "block0x4", "filters"} {
		if _, err := ParseGranularity(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAGPAndIterativeTargets(t *testing.T) {
	a := AGP{Initial: 0, Final: 0.8, Start: 10, N: 4, Every: 5}
	for _, tc := range []struct{ t, want float64 }{{0, 0}, {10, 0}, {20, 0.8 - 0.8*0.125}, {25, 0.8 - 0.8/64}, {30, 0.8}, {99, 0.8}} {
		if got := a.At(int(tc.t)); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%g) = %g, want %g", tc.t, got, tc.want)
		}
	}
	s := IterativeTargets(0.92, 3)
	if len(s) != 3 || s[2] != 0.92 || math.Abs(s[0]-(1-math.Pow(0.08, 1.0/3))) > 1e-12 || !(s[0] < s[1] && s[1] < s[2]) {
		t.Errorf("targets %v", s)
	}
	if (AGP{Initial: 0.5, Final: 0.2, N: 1, Every: 1}).Validate() == nil {
		t.Error("decreasing AGP accepted")
	}
}

func TestPlanMasksAndSlims(t *testing.T) {
	g := zoo.ResNet20(1)
	randomizeBN(g, rand.New(rand.NewPCG(1, 2)))
	layers := score(t, g, "l1", Channels{}, nil)
	p, err := Allocation{Ratio: 0.4, Global: true, MaxLayerRatio: 0.7, RoundTo: 4}.Allocate(layers)
	if err != nil {
		t.Fatal(err)
	}
	xs := randInput(g, 2, rand.New(rand.NewPCG(3, 4)))
	masked := g.Clone()
	if _, err := p.Apply(masked); err != nil {
		t.Fatal(err)
	}
	slim, err := p.Slim(g)
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "slim vs masked", run(t, masked, xs), run(t, slim, xs), 1e-4)
	m, err := Measure(g, masked, slim)
	if err != nil {
		t.Fatal(err)
	}
	if m.EffectiveMACs != m.SlimMACs || m.SlimParams >= m.Params || m.Speedup <= 1 {
		t.Errorf("metrics %+v", m)
	}
	if p.Ratio() < 0.3 {
		t.Errorf("ratio %g", p.Ratio())
	}
}

func TestMeasureLeNet5(t *testing.T) {
	g := zoo.LeNet5(1)
	layers := score(t, g, "l1", Channels{Filters: true}, nil)
	p, err := Allocation{Ratio: 0.5}.Allocate(layers)
	if err != nil {
		t.Fatal(err)
	}
	masked := g.Clone()
	if _, err := p.Apply(masked); err != nil {
		t.Fatal(err)
	}
	slim, err := p.Slim(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Measure(g, masked, slim)
	if err != nil {
		t.Fatal(err)
	}
	// conv1 20→10, conv2 50→25, fc1 500→250 (docs/ZOO.md counts).
	want := 10*25 + 10 + 25*10*25 + 25 + 250*400 + 250 + 10*250 + 10
	if m.Params != 431080 || m.SlimParams != want || m.Nonzero != want || m.EffectiveMACs != m.SlimMACs || len(m.Layers) != 4 {
		t.Errorf("params %d, slim %d, nonzero %d (want %d), eff MACs %d, slim MACs %d", m.Params, m.SlimParams, m.Nonzero, want, m.EffectiveMACs, m.SlimMACs)
	}
	if math.Abs(m.Compression-float64(431080)/float64(want)) > 1e-9 || math.Abs(m.Speedup-float64(m.MACs)/float64(m.EffectiveMACs)) > 1e-9 {
		t.Errorf("compression %g, speedup %g", m.Compression, m.Speedup)
	}
	if ds, err := Latencies(context.Background(), []*graph.Graph{g, slim}, 2, 3); err != nil || len(ds) != 2 || ds[0] <= 0 || ds[1] <= 0 {
		t.Errorf("latencies %v, %v", ds, err)
	}
}
