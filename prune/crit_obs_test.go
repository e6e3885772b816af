package prune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// correlatedMLP is x (N×16) → fc1 (16→8) → ReLU → fc2 (8→4), with inputs
// whose features are strongly correlated (where OBS's update helps most).
func correlatedMLP() (*graph.Graph, tensorCalib) {
	b := newGB("corr", 16)
	h := b.op("relu", "Relu", nil, b.linear("fc1", "x", 16, 8))
	g := b.done(b.linear("fc2", h, 8, 4))
	r := rand.New(rand.NewPCG(3, 3))
	var calib tensorCalib
	for range 4 {
		x := tensor.New(32, 16)
		for n := range 32 {
			base := r.NormFloat64()
			for j := range 16 {
				x.Data[n*16+j] = float32(base + 0.3*r.NormFloat64())
			}
		}
		calib = append(calib, x)
	}
	return g, calib
}

// pruneWith prunes g's weights at ratio (or at N:M) with a criterion and
// returns the plan.
func pruneWith(t *testing.T, g *graph.Graph, crit string, gran Granularity, ratio float64, calib Calibration) *Plan {
	t.Helper()
	layers, _, err := Layers(g, nil, gran)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := ParseCriterion(crit)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pruner{Graph: g, Layers: layers, Criterion: cr, Ctx: &Context{Graph: g, Calib: calib, Seed: 1}}
	if err := p.Step(ratio); err != nil {
		t.Fatal(err)
	}
	return p.Plan
}

func TestOBSReconstructsBetterThanMagnitude(t *testing.T) {
	g, calib := correlatedMLP()
	errs := map[string]float64{}
	for _, crit := range []string{"l1", "wanda", "obs"} {
		m := g.Clone()
		plan := pruneWith(t, m, crit, Blocks{1, 1}, 0.6, calib)
		for i, l := range plan.Layers {
			if k := numTrue(plan.Keep[i]); k != l.Units-int(0.6*float64(l.Units)+1e-9) {
				t.Fatalf("%s: %s keeps %d of %d", crit, l.Name, k, l.Units)
			}
		}
		errs[crit] = outputError(t, g, m, calib)
		// Pruned weights are zero.
		for i, l := range plan.Layers {
			w := m.Param(l.Param.Name).Value.Data
			for e, u := range l.unit {
				if !plan.Keep[i][u] && w[e] != 0 {
					t.Fatalf("%s: %s[%d] pruned but %g", crit, l.Name, e, w[e])
				}
			}
		}
	}
	t.Logf("relative output error at 60%%: %v", errs)
	if !(errs["obs"] < 0.5*errs["l1"]) {
		t.Fatalf("OBS error %.3g not well below magnitude's %.3g", errs["obs"], errs["l1"])
	}
}

func TestOBSNM(t *testing.T) {
	g, calib := correlatedMLP()
	dense := g.Clone()
	plan := pruneWith(t, g, "obs", NM{2, 4}, 0.5, calib)
	for i, l := range plan.Layers {
		w := g.Param(l.Param.Name).Value.Data
		for s := 0; s < len(w); s += 4 { // out×in weights: sets of 4 inputs in a row
			nz := 0
			for _, v := range w[s : s+4] {
				if v != 0 {
					nz++
				}
			}
			if nz > 2 {
				t.Fatalf("%s: set at %d has %d non-zero weights", l.Name, s, nz)
			}
		}
		if numTrue(plan.Keep[i]) != l.Units/2 {
			t.Fatalf("%s keeps %d of %d", l.Name, numTrue(plan.Keep[i]), l.Units)
		}
	}
	mag := dense.Clone()
	pruneWith(t, mag, "l1", NM{2, 4}, 0.5, calib)
	if eo, em := outputError(t, dense, g, calib), outputError(t, dense, mag, calib); !(eo < em) {
		t.Fatalf("2:4 OBS error %.3g, magnitude %.3g", eo, em)
	}
}

// Wanda's score is |w|·‖x‖ with ‖x‖ the RMS of the input over the
// calibration set: on tinyMLP's fc1, inputs (1, 2) and (2, 0).
func TestWandaScores(t *testing.T) {
	layers := score(t, tinyMLP(), "wanda", Blocks{1, 1}, &Context{Calib: tinyCalib(t)})
	x0 := math.Sqrt((1.0 + 4.0) / 2)
	x1 := math.Sqrt((4.0 + 0.0) / 2)
	want := []float64{1 * x0, 2 * x1, 0.5 * x0, 0.5 * x1, 3 * x0, 0}
	near(t, "wanda fc1", layerNamed(t, layers, "fc1.weight").Scores, want, 1e-9)
}

func TestOBSFitsWeightsOnly(t *testing.T) {
	for _, name := range []string{"obs", "wanda"} {
		cr, _ := ParseCriterion(name)
		if err := cr.Fits(Channels{}); err == nil {
			t.Errorf("%s fits channels", name)
		}
	}
}

// OBD's saliency is ½·F·w² with F the mean squared gradient: on tinyMLP
// with one calibration image per batch, F is the per-image one exactly.
func TestOBDScores(t *testing.T) {
	g := tinyMLP()
	c := &Context{Calib: tinyCalib(t), Batch: 1}
	layers := score(t, g, "obd", Blocks{1, 1}, c)
	// fc2 = [[1,1,1],[0,2,−1]], h = relu(fc1·x): x=(1,2) → fc1 = (−3, 1.5, −3) → h = (0, 1.5, 0);
	// x=(2,0) → (2, 1, −6) → h = (2, 1, 0).
	softmax := func(z0, z1 float64) (float64, float64) {
		a, b := math.Exp(z0), math.Exp(z1)
		return a / (a + b), b / (a + b)
	}
	want := make([]float64, 6)
	for _, s := range []struct {
		h     [3]float64
		label int
	}{{[3]float64{0, 1.5, 0}, 0}, {[3]float64{2, 1, 0}, 1}} {
		z0 := s.h[0] + s.h[1] + s.h[2]
		z1 := 2*s.h[1] - s.h[2]
		p0, p1 := softmax(z0, z1)
		dz := [2]float64{p0, p1}
		dz[s.label]--
		for o := range 2 {
			for j := range 3 {
				g := dz[o] * s.h[j]
				want[o*3+j] += g * g / 2
			}
		}
	}
	w := []float64{1, 1, 1, 0, 2, -1}
	for i := range want {
		want[i] *= 0.5 * w[i] * w[i]
	}
	near(t, "obd fc2", layerNamed(t, layers, "fc2.weight").Scores, want, 1e-5)
}

func TestLabelCriteriaRejectUnlabelledImages(t *testing.T) {
	g, calib := correlatedMLP() // tensorCalib: no labels
	for _, name := range []string{"obd", "taylor"} {
		layers, _, _ := Layers(g, nil, Blocks{1, 1})
		cr, _ := ParseCriterion(name)
		err := Score(&Context{Graph: g, Calib: calib}, cr, layers, "none")
		if err == nil || !strings.Contains(err.Error(), "no labels") {
			t.Errorf("%s on unlabelled images: %v", name, err)
		}
	}
}
