package prune

import (
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// tinyMLP is x (N×1×1×2) → flatten → fc1 (2→3) → ReLU → fc2 (3→2) with
// hand-picked weights, so that every criterion can be computed by hand:
//
//	fc1.weight = [[1, −2], [0.5, 0.5], [−3, 0]], fc1.bias = 0
//	fc2.weight = [[1, 1, 1], [0, 2, −1]],       fc2.bias = 0
func tinyMLP() *graph.Graph {
	b := newGB("tiny", 1, 1, 2)
	set := func(v []float32, shape ...int) *tensor.Tensor {
		t, err := tensor.FromData(v, shape...)
		if err != nil {
			panic(err)
		}
		return t
	}
	x := b.op("flatten", "Flatten", graph.Attrs{"axis": 1}, "x")
	w1 := b.param("fc1.weight", set([]float32{1, -2, 0.5, 0.5, -3, 0}, 3, 2))
	b1 := b.param("fc1.bias", tensor.New(3))
	h := b.op("fc1", "Gemm", graph.Attrs{"transB": 1}, x, w1, b1)
	h = b.op("relu", "Relu", nil, h)
	w2 := b.param("fc2.weight", set([]float32{1, 1, 1, 0, 2, -1}, 2, 3))
	b2 := b.param("fc2.bias", tensor.New(2))
	return b.done(b.op("fc2", "Gemm", graph.Attrs{"transB": 1}, h, w2, b2))
}

// tinyCalib is two samples: (1, 2) with label 0 and (2, 0) with label 1.
func tinyCalib(t *testing.T) *data.Dataset {
	ds, err := data.FromBytes("tiny", data.Train, []byte{1, 2, 2, 0}, []uint8{0, 1}, 2, 1, 1, 2, 2, 0, 1.0/255)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func score(t *testing.T, g *graph.Graph, crit string, gran Granularity, c *Context) []*Layer {
	t.Helper()
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	layers, _, err := Layers(g, d, gran)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := ParseCriterion(crit)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		c = &Context{}
	}
	c.Graph, c.Dep = g, d
	if _, ok := gran.(Channels); ok {
		c.Filters = gran.(Channels).Filters
	}
	if err := Score(c, cr, layers, "none"); err != nil {
		t.Fatal(err)
	}
	return layers
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d scores, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s: got %.6g, want %.6g", what, got, want)
			return
		}
	}
}

func layerNamed(t *testing.T, layers []*Layer, name string) *Layer {
	t.Helper()
	for _, l := range layers {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no layer %s in %v", name, layerNames(layers))
	return nil
}

func TestMagnitudeCriteria(t *testing.T) {
	g := tinyMLP()
	fc1 := func(ls []*Layer) []float64 { return layerNamed(t, ls, "fc1").Scores }
	near(t, "l1 filter", fc1(score(t, g, "l1", Channels{Filters: true}, nil)), []float64{3, 1, 3}, 1e-9)
	near(t, "l2 filter", fc1(score(t, g, "l2", Channels{Filters: true}, nil)), []float64{5, 0.5, 9}, 1e-9)
	// Channel: the filter plus fc2's input column.
	near(t, "l1 channel sum", fc1(score(t, g, "l1", Channels{}, nil)), []float64{3 + 1, 1 + 3, 3 + 2}, 1e-9)
	near(t, "l1 channel max", fc1(score(t, g, "l1", Channels{}, &Context{Reduction: "max"})), []float64{3, 3, 3}, 1e-9)
	near(t, "l1 channel mean", fc1(score(t, g, "l1", Channels{}, &Context{Reduction: "mean"})), []float64{2, 2, 2.5}, 1e-9)
	// Single weights: |w|.
	w := score(t, g, "l1", Blocks{1, 1}, nil)
	near(t, "l1 weight", layerNamed(t, w, "fc1.weight").Scores, []float64{1, 2, 0.5, 0.5, 3, 0}, 1e-9)
	// Shape-wise: one input column across all filters.
	s := score(t, g, "l1", Blocks{0, 1}, nil)
	near(t, "l1 shape", layerNamed(t, s, "fc1.weight").Scores, []float64{4.5, 2.5}, 1e-9)
}

func TestBNScale(t *testing.T) {
	b := newGB("bn", 1, 2, 2)
	h := b.bn("bn1", b.conv("conv1", "x", 1, 3, 1, 1), 3)
	copy(b.g.Param("bn1.weight").Value.Data, []float32{0.5, -2, 1})
	g := b.head(b.op("relu1", "Relu", nil, h), 3)
	near(t, "bn", layerNamed(t, score(t, g, "bn", Channels{}, nil), "conv1").Scores, []float64{0.5, 2, 1}, 1e-9)

	// A group without BatchNorm is left alone, and allocation says so.
	ls := score(t, tinyMLP(), "bn", Channels{}, nil)
	p, err := Allocation{Ratio: 0.5}.Allocate(ls)
	if err != nil {
		t.Fatal(err)
	}
	if numTrue(p.Keep[0]) != 3 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "fc1 left unpruned") {
		t.Errorf("keep %v, warnings %q", p.Keep, p.Warnings)
	}
}

func TestFPGM(t *testing.T) {
	d01, d02, d12 := math.Sqrt(6.5), math.Sqrt(20), math.Sqrt(12.5)
	near(t, "fpgm", layerNamed(t, score(t, tinyMLP(), "fpgm", Channels{Filters: true}, nil), "fc1").Scores,
		[]float64{d01 + d02, d01 + d12, d02 + d12}, 1e-9)
}

func TestActivationCriteria(t *testing.T) {
	// ReLU(fc1 x): sample (1, 2) gives (0, 1.5, 0), sample (2, 0) gives (2, 1, 0).
	c := func() *Context { return &Context{Calib: tinyCalib(t)} }
	near(t, "apoz", layerNamed(t, score(t, tinyMLP(), "apoz", Channels{}, c()), "fc1").Scores, []float64{0.5, 1, 0}, 1e-6)
	near(t, "mean-act", layerNamed(t, score(t, tinyMLP(), "mean-act", Channels{}, c()), "fc1").Scores, []float64{1, 1.25, 0}, 1e-5)
}

// softmaxGrad is p − onehot(y) for logits z.
func softmaxGrad(z []float64, y int) []float64 {
	var s float64
	for _, v := range z {
		s += math.Exp(v)
	}
	g := make([]float64, len(z))
	for i, v := range z {
		g[i] = math.Exp(v) / s
	}
	g[y]--
	return g
}

func TestTaylorAndSNIP(t *testing.T) {
	// Sample A: h = (0, 1.5, 0), logits (1.5, 3), label 0.
	// Sample B: h = (2, 1, 0), logits (3, 2), label 1.
	hA, hB := []float64{0, 1.5, 0}, []float64{2, 1, 0}
	gA, gB := softmaxGrad([]float64{1.5, 3}, 0), softmaxGrad([]float64{3, 2}, 1)
	w2 := [][]float64{{1, 1, 1}, {0, 2, -1}}
	dh := func(dz []float64) []float64 { // W2ᵀ dz
		out := make([]float64, 3)
		for j := range out {
			out[j] = w2[0][j]*dz[0] + w2[1][j]*dz[1]
		}
		return out
	}
	dA, dB := dh(gA), dh(gB)
	want := make([]float64, 3)
	for j := range want {
		want[j] = (math.Abs(hA[j]*dA[j]) + math.Abs(hB[j]*dB[j])) / 2
	}
	c := &Context{Calib: tinyCalib(t)}
	near(t, "taylor channels", layerNamed(t, score(t, tinyMLP(), "taylor", Channels{}, c), "fc1").Scores, want, 1e-5)

	// Weights: |w · mean gradient|, for fc2.weight gradient = mean(dz ⊗ h).
	var wantW []float64
	for i := range 2 {
		for j := range 3 {
			g := (gA[i]*hA[j] + gB[i]*hB[j]) / 2
			wantW = append(wantW, math.Abs(w2[i][j]*g))
		}
	}
	lw := score(t, tinyMLP(), "taylor", Blocks{1, 1}, &Context{Calib: tinyCalib(t)})
	near(t, "taylor weights", layerNamed(t, lw, "fc2.weight").Scores, wantW, 1e-5)

	// SNIP: the same sensitivities, normalised to sum 1 over all weights.
	ls := score(t, tinyMLP(), "snip", Blocks{1, 1}, &Context{Calib: tinyCalib(t)})
	var total float64
	for _, l := range ls {
		for _, v := range l.Scores {
			total += v
		}
	}
	if math.Abs(total-1) > 1e-6 {
		t.Errorf("snip scores sum to %g", total)
	}
	s2 := layerNamed(t, ls, "fc2.weight").Scores
	taylorTotal := sum(lw[0].Scores) + sum(lw[1].Scores)
	for k := range wantW {
		if math.Abs(s2[k]*taylorTotal-wantW[k]) > 1e-5 {
			t.Fatalf("snip %v is not taylor %v normalised", s2, wantW)
		}
	}
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

func TestLAMP(t *testing.T) {
	// fc1.weight² = 1, 4, 0.25, 0.25, 9, 0; ascending 0, .25, .25, 1, 4, 9.
	want := []float64{1 / 14.0, 4 / 13.0, 0.25 / 14.5, 0.25 / 14.25, 1, 0}
	near(t, "lamp", layerNamed(t, score(t, tinyMLP(), "lamp", Blocks{1, 1}, nil), "fc1.weight").Scores, want, 1e-12)
}

func TestRandom(t *testing.T) {
	a := layerNamed(t, score(t, tinyMLP(), "random", Blocks{1, 1}, &Context{Seed: 1}), "fc1.weight").Scores
	b := layerNamed(t, score(t, tinyMLP(), "random", Blocks{1, 1}, &Context{Seed: 1}), "fc1.weight").Scores
	c := layerNamed(t, score(t, tinyMLP(), "random", Blocks{1, 1}, &Context{Seed: 2}), "fc1.weight").Scores
	near(t, "same seed", a, b, 0)
	if a[0] == c[0] && a[1] == c[1] {
		t.Errorf("seeds 1 and 2 give the same scores")
	}
}

func TestCriterionFit(t *testing.T) {
	g := tinyMLP()
	d, _ := Analyze(g)
	for _, tc := range []struct {
		crit string
		gran Granularity
		want string
	}{
		{"fpgm", Blocks{1, 1}, "scores channels"},
		{"lamp", Channels{}, "scores weights"},
		{"taylor", Channels{}, "needs labelled data"},
		{"apoz", Channels{}, "needs calibration data"},
	} {
		layers, _, _ := Layers(g, d, tc.gran)
		cr, _ := ParseCriterion(tc.crit)
		err := Score(&Context{Graph: g, Dep: d}, cr, layers, "none")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on %s: error %v, want %q", tc.crit, tc.gran.Name(), err, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		how  string
		want []float64
	}{
		{"none", []float64{1, 2, 3}},
		{"mean", []float64{0.5, 1, 1.5}},
		{"max", []float64{1.0 / 3, 2.0 / 3, 1}},
		{"sum", []float64{1.0 / 6, 2.0 / 6, 3.0 / 6}},
		{"gaussian", []float64{-math.Sqrt(1.5), 0, math.Sqrt(1.5)}},
	} {
		s := []float64{1, 2, 3}
		if err := Normalize(s, tc.how); err != nil {
			t.Fatal(err)
		}
		near(t, tc.how, s, tc.want, 1e-12)
	}
	if Normalize([]float64{1}, "zscore") == nil {
		t.Error("unknown normalisation accepted")
	}
}
