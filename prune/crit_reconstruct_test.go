package prune

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
)

// cancelPair is x → conv1 (1→4) → ReLU → conv2 (4→3) where conv1's
// channels 1 and 2 are the same and conv2 reads them with opposite
// weights: each contributes a lot, together nothing. Channels 0 and 3
// contribute.
func cancelPair(t *testing.T) *graph.Graph {
	t.Helper()
	b := newGB("cancel", 1, 8, 8)
	h := b.op("relu1", "Relu", nil, b.conv("conv1", "x", 1, 4, 3, 1))
	g := b.done(b.conv("conv2", h, 4, 3, 3, 1))
	w1, b1 := g.Param("conv1.weight").Value.Data, g.Param("conv1.bias").Value.Data
	copy(w1[18:27], w1[9:18])
	b1[2] = b1[1]
	w2 := g.Param("conv2.weight").Value.Data
	for o := range 3 {
		for k := range 9 {
			w2[(o*4+1)*9+k] *= 4 // large
			w2[(o*4+2)*9+k] = -w2[(o*4+1)*9+k]
		}
	}
	return g
}

func selectWith(t *testing.T, g *graph.Graph, crit string, k int) ([]bool, error) {
	t.Helper()
	c := &Context{Calib: randomCalib(g, 2, 16, 5), Seed: 1}
	layers := score(t, g, crit, Channels{}, c)
	l := layerNamed(t, layers, "conv1")
	return l.choose(k)
}

// ThiNet's greedy removal counts what was removed before: with channel
// 1 = −1.5 × channel 0 in conv2's outputs, once channel 0 (the weakest)
// is gone, removing channel 1 too brings the error down, so channels 2
// and 3 stay, where ranking by each channel's own contribution energy
// would keep 1 and 3.
func TestThiNetGreedyCountsRemovedChannels(t *testing.T) {
	b := newGB("greedy", 1, 8, 8)
	h := b.op("relu1", "Relu", nil, b.conv("conv1", "x", 1, 4, 3, 1))
	g := b.done(b.conv("conv2", h, 4, 3, 3, 1))
	w1, b1 := g.Param("conv1.weight").Value.Data, g.Param("conv1.bias").Value.Data
	copy(w1[9:18], w1[0:9])
	b1[1] = b1[0]
	w2 := g.Param("conv2.weight").Value.Data
	col := func(c int, f func(v float32) float32) {
		for o := range 3 {
			for k := range 9 {
				w2[(o*4+c)*9+k] = f(w2[(o*4+c)*9+k])
			}
		}
	}
	for o := range 3 {
		for k := range 9 {
			w2[(o*4+1)*9+k] = -1.5 * w2[(o*4+0)*9+k]
		}
	}
	energies := func() []float64 {
		c := &Context{Calib: randomCalib(g, 2, 16, 5), Seed: 1}
		return layerNamed(t, score(t, g, "thinet", Channels{}, c), "conv1").Scores
	}
	e := energies()
	// Channel 2 at 1.5× channel 0's energy, channel 3 at 5×.
	s2, s3 := float32(math.Sqrt(1.5*e[0]/e[2])), float32(math.Sqrt(5*e[0]/e[3]))
	col(2, func(v float32) float32 { return v * s2 })
	col(3, func(v float32) float32 { return v * s3 })
	e = energies()
	if !(e[0] < e[2] && e[2] < e[1] && e[1] < e[3]) {
		t.Fatalf("energies %v: want 0 < 2 < 1 < 3", e)
	}
	keep, err := selectWith(t, g, "thinet", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keep, []bool{false, false, true, true}) {
		t.Fatalf("thinet kept %v, want channels 2 and 3", keep)
	}
}

func TestChannelLassoSelects(t *testing.T) {
	g := cancelPair(t)
	keep, err := selectWith(t, g, "lasso", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keep, []bool{true, false, false, true}) {
		t.Fatalf("lasso kept %v, want channels 0 and 3 (1 and 2 cancel)", keep)
	}
	keep, err = selectWith(t, g, "lasso", 1)
	if err != nil || numTrue(keep) != 1 {
		t.Fatalf("lasso k=1: %v, %v", keep, err)
	}
}

func TestChannelLassoUnreachable(t *testing.T) {
	g := cancelPair(t)
	w2 := g.Param("conv2.weight").Value.Data
	for o := range 3 { // channels 1 and 2 are read by nothing
		clear(w2[(o*4+1)*9 : (o*4+3)*9])
	}
	_, err := selectWith(t, g, "lasso", 3)
	if err == nil || !strings.Contains(err.Error(), "reaches at most 2 of 4 channels (ratio 0.5 kept)") {
		t.Fatalf("want an error with the reachable ratio, have %v", err)
	}
}

func TestSelectorsNeedCalibration(t *testing.T) {
	g := cancelPair(t)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	layers, _, _ := Layers(g, d, Channels{})
	for _, name := range []string{"thinet", "lasso"} {
		cr, _ := ParseCriterion(name)
		err := Score(&Context{Graph: g, Dep: d}, cr, layers, "none")
		if err == nil || !strings.Contains(err.Error(), "criterion "+name+" needs calibration data") {
			t.Errorf("%s without calibration: %v", name, err)
		}
		if err := cr.Fits(Blocks{1, 1}); err == nil {
			t.Errorf("%s fits unstructured", name)
		}
	}
}
