package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
)

// naiveTile indexes every output element back to the input, modulo.
func naiveTile(x []float32, shape, reps []int) ([]float32, []int) {
	out := make([]int, len(shape))
	for i := range shape {
		out[i] = shape[i] * reps[i]
	}
	y := make([]float32, graph.ShapeProd(out))
	idx := make([]int, len(out))
	for k := range y {
		rem, src, stride := k, 0, 1
		for d := len(out) - 1; d >= 0; d-- {
			idx[d] = rem % out[d]
			rem /= out[d]
		}
		for d := len(out) - 1; d >= 0; d-- {
			src += (idx[d] % shape[d]) * stride
			stride *= shape[d]
		}
		y[k] = x[src]
	}
	return y, out
}

func TestTile(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	for _, c := range []struct{ shape, reps []int }{
		{[]int{2, 3}, []int{2, 2}},
		{[]int{2, 3, 4}, []int{1, 3, 1}},
		{[]int{1, 2, 1, 3}, []int{2, 1, 3, 2}},
		{[]int{5}, []int{1}},
		{[]int{2, 2}, []int{0, 3}},
	} {
		x := testutil.UniformTensor(r, c.shape...)
		want, shape := naiveTile(x.Data, c.shape, c.reps)
		got := opsRun(t, "Tile", nil, []gcIn{in(x), konst(ivec(c.reps...))}, 1, 1, false)[0]
		opsExpect(t, "Tile", got, shape, want, 0)
	}
	for _, reps := range [][]int{{2}, {1, -1}} {
		if _, _, err := opsCompile("Tile", nil, []gcIn{in(opsT([]int{2, 2})), konst(ivec(reps...))}, 1); err == nil {
			t.Errorf("Tile repeats %v of a 2-D input: no error", reps)
		}
	}
	checkGrad(t, "Tile", nil, []gcIn{in(testutil.UniformTensor(r, 2, 3, 2)), konst(ivec(2, 1, 3))}, 1, false)
}
