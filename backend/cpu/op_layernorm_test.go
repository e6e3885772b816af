package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
)

func TestErfGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 1))
	x := opsRand(r, -3, 3, nil, 0, 2, 3, 4)
	checkGrad(t, "Erf", nil, []gcIn{in(x)}, 1, false)
	y := opsRun(t, "Erf", nil, []gcIn{in(opsT([]int{3}, -1, 0, 0.5))}, 1, 1, false)[0]
	for i, want := range []float64{-0.8427007929, 0, 0.5204998778} {
		if math.Abs(float64(y.Data[i])-want) > 1e-6 {
			t.Errorf("Erf[%d] = %v, want %v", i, y.Data[i], want)
		}
	}
}

func TestLayerNormForward(t *testing.T) {
	// One row [1 2 3 4]: mean 2.5, variance 1.25.
	x := opsT([]int{1, 4}, 1, 2, 3, 4)
	s := opsT([]int{4}, 1, 2, 1, 1)
	b := opsT([]int{4}, 0, 0, 0, 1)
	out := opsRun(t, "LayerNormalization", graph.Attrs{"epsilon": float32(0)}, []gcIn{in(x), param(s), param(b)}, 3, 1, false)
	is := 1 / math.Sqrt(1.25)
	want := []float64{-1.5 * is, -0.5 * is * 2, 0.5 * is, 1.5*is + 1}
	for i, w := range want {
		if math.Abs(float64(out[0].Data[i])-w) > 1e-6 {
			t.Errorf("Y[%d] = %v, want %v", i, out[0].Data[i], w)
		}
	}
	if out[1].Data[0] != 2.5 || math.Abs(float64(out[2].Data[0])-is) > 1e-6 {
		t.Errorf("Mean %v InvStdDev %v, want 2.5 and %v", out[1].Data, out[2].Data, is)
	}
	if got := out[1].Shape; len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Errorf("Mean shape %v, want 1×1", got)
	}
}

func TestLayerNormGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	for _, c := range []struct {
		axis        int
		x, scale, b []int
		nOut        int
	}{
		{-1, []int{2, 3, 5}, []int{5}, []int{5}, 1},
		{1, []int{2, 3, 4}, []int{3, 4}, []int{3, 4}, 3},
		{2, []int{2, 3, 2, 4}, []int{1, 4}, []int{2, 1}, 1}, // broadcast Scale and B
		{-2, []int{3, 4, 2}, []int{4, 2}, nil, 2},           // no B
		{0, []int{2, 3}, []int{2, 3}, []int{2, 3}, 3},
	} {
		ins := []gcIn{in(testutil.UniformTensor(r, c.x...)), param(testutil.UniformTensor(r, c.scale...))}
		if c.b != nil {
			ins = append(ins, param(testutil.UniformTensor(r, c.b...)))
		}
		checkGrad(t, "LayerNormalization", graph.Attrs{"axis": c.axis}, ins, c.nOut, false)
		checkGrad(t, "LayerNormalization", graph.Attrs{"axis": c.axis}, ins, c.nOut, true)
	}
}

func TestLayerNormRefuses(t *testing.T) {
	x := opsT([]int{2, 3})
	for _, c := range []struct {
		attrs graph.Attrs
		scale []int
	}{
		{graph.Attrs{"axis": 2}, []int{3}},
		{graph.Attrs{"stash_type": 10}, []int{3}},
		{nil, []int{2}},
		{nil, []int{2, 3, 1}},
	} {
		g := singleNodeGraph("LayerNormalization", c.attrs, []gcIn{in(x), param(opsT(c.scale))}, 1)
		if _, err := Compile(g); err == nil {
			t.Errorf("attrs %v, Scale %v: compiled", c.attrs, c.scale)
		}
	}
}
