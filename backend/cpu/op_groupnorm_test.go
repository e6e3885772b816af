package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// naiveGroupNorm is the textbook definition in float64, scale and bias per
// channel.
func naiveGroupNorm(x, scale, bias *tensor.Tensor, groups int, eps float64) []float32 {
	n, c := x.Shape[0], x.Shape[1]
	hw := graph.ShapeProd(x.Shape[2:])
	cpg := c / groups
	y := make([]float32, len(x.Data))
	for i := range n {
		for g := range groups {
			var vals []float64
			for ch := g * cpg; ch < (g+1)*cpg; ch++ {
				for j := range hw {
					vals = append(vals, float64(x.Data[(i*c+ch)*hw+j]))
				}
			}
			mu, q := 0.0, 0.0
			for _, v := range vals {
				mu += v
			}
			mu /= float64(len(vals))
			for _, v := range vals {
				q += (v - mu) * (v - mu)
			}
			sd := math.Sqrt(q/float64(len(vals)) + eps)
			for ch := g * cpg; ch < (g+1)*cpg; ch++ {
				for j := range hw {
					k := (i*c+ch)*hw + j
					y[k] = float32((float64(x.Data[k])-mu)/sd*float64(scale.Data[ch]) + float64(bias.Data[ch]))
				}
			}
		}
	}
	return y
}

func TestGroupNormForward(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		shape  []int
		groups int
	}{{[]int{2, 6, 3, 4}, 3}, {[]int{1, 4, 5}, 2}, {[]int{2, 4}, 1}, {[]int{1, 3, 2, 2}, 3}, {[]int{2, 8, 2, 1, 3}, 4}} {
		x := testutil.UniformTensor(r, c.shape...)
		scale, bias := testutil.UniformTensor(r, c.shape[1]), testutil.UniformTensor(r, c.shape[1])
		attrs := graph.Attrs{"num_groups": c.groups, "epsilon": float32(1e-3)}
		want := naiveGroupNorm(x, scale, bias, c.groups, 1e-3)
		for _, threads := range []int{1, 2} {
			got := opsRun(t, "GroupNormalization", attrs, []gcIn{in(x), param(scale), param(bias)}, 1, threads, false)[0]
			opsExpect(t, "GroupNormalization", got, c.shape, want, 1e-5)
		}
		// Opset-18 form: one scale and bias per group, the same as
		// repeating them over the group's channels.
		gs, gb := testutil.UniformTensor(r, c.groups), testutil.UniformTensor(r, c.groups)
		cs, cb := tensor.New(c.shape[1]), tensor.New(c.shape[1])
		for ch := range c.shape[1] {
			cs.Data[ch], cb.Data[ch] = gs.Data[ch/(c.shape[1]/c.groups)], gb.Data[ch/(c.shape[1]/c.groups)]
		}
		got := opsRun(t, "GroupNormalization", attrs, []gcIn{in(x), param(gs), param(gb)}, 1, 2, false)[0]
		opsExpect(t, "GroupNormalization per group", got, c.shape, naiveGroupNorm(x, cs, cb, c.groups, 1e-3), 1e-5)
	}
}

func TestGroupNormBadInput(t *testing.T) {
	x := opsT([]int{1, 6, 2})
	for _, c := range []struct {
		attrs       graph.Attrs
		scale, bias *tensor.Tensor
		what        string
	}{
		{graph.Attrs{"num_groups": 4}, opsT([]int{6}), opsT([]int{6}), "channels not a multiple of num_groups"},
		{graph.Attrs{}, opsT([]int{6}), opsT([]int{6}), "no num_groups"},
		{graph.Attrs{"num_groups": 0}, opsT([]int{6}), opsT([]int{6}), "num_groups 0"},
		{graph.Attrs{"num_groups": 2}, opsT([]int{5}), opsT([]int{6}), "scale of 5"},
		{graph.Attrs{"num_groups": 2, "stash_type": 10}, opsT([]int{6}), opsT([]int{6}), "stash_type float16"},
	} {
		if _, _, err := opsCompile("GroupNormalization", c.attrs, []gcIn{in(x), param(c.scale), param(c.bias)}, 1); err == nil {
			t.Errorf("%s: no error", c.what)
		}
	}
}

func TestGroupNormGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	checkGrad(t, "GroupNormalization", graph.Attrs{"num_groups": 2}, []gcIn{in(testutil.UniformTensor(r, 2, 4, 3, 2)),
		param(testutil.UniformTensor(r, 4)), param(testutil.UniformTensor(r, 4))}, 1, false)
	checkGrad(t, "GroupNormalization", graph.Attrs{"num_groups": 3}, []gcIn{in(testutil.UniformTensor(r, 2, 6, 5)),
		param(testutil.UniformTensor(r, 3)), param(testutil.UniformTensor(r, 3))}, 1, false)
}
