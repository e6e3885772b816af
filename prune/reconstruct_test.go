package prune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// tensorCalib is unlabelled calibration images held as tensors.
type tensorCalib []*tensor.Tensor

func (c tensorCalib) Batches(size int, f func(x *tensor.Tensor, labels []int) error) error {
	for _, x := range c {
		if err := f(x, nil); err != nil {
			return err
		}
	}
	return nil
}

func randomCalib(g *graph.Graph, batches, size int, seed uint64) tensorCalib {
	r := rand.New(rand.NewPCG(seed, 1))
	var c tensorCalib
	for range batches {
		c = append(c, graph.RandomInputs(g, size, r)[0])
	}
	return c
}

// outputError is the relative error of g's output against dense's over
// the calibration set.
func outputError(t *testing.T, dense, g *graph.Graph, c tensorCalib) float64 {
	t.Helper()
	var num, den float64
	for _, x := range c {
		a, b := run(t, dense, []*tensor.Tensor{x})[0], run(t, g, []*tensor.Tensor{x})[0]
		for i := range a.Data {
			d := float64(a.Data[i] - b.Data[i])
			num += d * d
			den += float64(a.Data[i]) * float64(a.Data[i])
		}
	}
	return math.Sqrt(num / den)
}

// pruneL1 masks a structured L1 plan at ratio on g.
func pruneL1(t *testing.T, g *graph.Graph, ratio float64) Masks {
	t.Helper()
	layers := score(t, g, "l1", Channels{}, nil)
	plan, err := Allocation{}.Plan(layers, ratio)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plan.Apply(g)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A removed channel that is a multiple of a kept one is rebuilt exactly:
// the next layer folds its weights into the kept channel's.
func TestReconstructFoldsALinearlyDependentChannel(t *testing.T) {
	b := newGB("dup", 1, 8, 8)
	h := b.conv("conv1", "x", 1, 4, 3, 1)
	w1 := b.g.Param("conv1.weight").Value.Data
	b1 := b.g.Param("conv1.bias").Value.Data
	for j := range 9 { // filter 3 = 2 × filter 0
		w1[27+j] = 2 * w1[j]
	}
	b1[3] = 2 * b1[0]
	g := b.done(b.conv("conv2", h, 4, 3, 3, 1))
	dense := g.Clone()
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := MaskGroups(g, map[*Group][]int{groupOf(t, d, "conv1"): {0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	calib := randomCalib(g, 2, 8, 3)
	before := outputError(t, dense, g, calib)
	res, err := Reconstruct(dense, g, m, calib, ReconstructOptions{Samples: 20, Ridge: -1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	after := outputError(t, dense, g, calib)
	if before < 0.05 || after > 1e-4 {
		t.Fatalf("output error %.3g before, %.3g after reconstruction (want > 0.05, then ≈ 0)", before, after)
	}
	if len(res.Refit) != 1 || res.Refit[0] != "conv2" {
		t.Fatalf("refit %v, want conv2", res.Refit)
	}
	// The pruned input stays zero.
	w2 := g.Param("conv2.weight").Value.Data
	for o := range 3 {
		for j := range 9 {
			if w2[(o*4+3)*9+j] != 0 {
				t.Fatalf("pruned input of conv2 refit to %g", w2[(o*4+3)*9+j])
			}
		}
	}
}

// On a random-weight ResNet-20, pruned at 50% by L1, reconstruction
// (sequential, with BatchNorm statistics) brings the output far closer to
// the dense one, and every pruned consumer is refit.
func TestReconstructResNet20(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNet-20 reconstruction in -short")
	}
	g := zoo.ResNet20(1)
	randomizeBN(g, rand.New(rand.NewPCG(5, 5)))
	dense := g.Clone()
	m := pruneL1(t, g, 0.5)
	calib := randomCalib(g, 4, 16, 7)
	before := outputError(t, dense, g, calib)
	res, err := Reconstruct(dense, g, m, calib, ReconstructOptions{Samples: 16, BN: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	after := outputError(t, dense, g, calib)
	t.Logf("relative output error %.3g → %.3g; refit %d layers, %d BatchNorms; warnings %v", before, after, len(res.Refit), len(res.BN), res.Warnings)
	if !(after < 0.6*before) {
		t.Fatalf("output error %.3g before, %.3g after reconstruction", before, after)
	}
	if n := len(Weights(g)) - 1; len(res.Refit) != n { // all but the stem conv
		t.Fatalf("refit %d layers (%v), want %d", len(res.Refit), res.Refit, n)
	}
	if len(res.BN) == 0 {
		t.Fatal("no BatchNorm re-estimated")
	}
	for name, mk := range m {
		w := g.Param(name).Value.Data
		for i, v := range mk.Data {
			if v == 0 && w[i] != 0 {
				t.Fatalf("%s[%d] pruned but refit to %g", name, i, w[i])
			}
			if math.IsNaN(float64(w[i])) {
				t.Fatalf("%s[%d] is NaN", name, i)
			}
		}
	}
}

// Two images for hundreds of unknowns: every system is singular, each
// layer is regularised with a warning naming it, and no weight is NaN.
func TestReconstructIllConditionedWarnsNamingTheLayer(t *testing.T) {
	g := zoo.LeNet5(1)
	dense := g.Clone()
	m := pruneL1(t, g, 0.5)
	calib := randomCalib(g, 1, 2, 9)
	res, err := Reconstruct(dense, g, m, calib, ReconstructOptions{Samples: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range res.Warnings {
		if strings.Contains(w, "ill-conditioned") && strings.Contains(w, res.Refit[0]) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no ill-conditioned warning naming %s: %v", res.Refit[0], res.Warnings)
	}
	for _, p := range g.Params {
		for _, v := range p.Value.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s holds %g", p.Name, v)
			}
		}
	}
}

func TestReconstructNeedsCalibration(t *testing.T) {
	g := zoo.LeNet5(1)
	if _, err := Reconstruct(g.Clone(), g, Masks{}, nil, ReconstructOptions{}); err == nil || !strings.Contains(err.Error(), "calibration data") {
		t.Fatalf("want an error saying calibration data is needed, have %v", err)
	}
}
