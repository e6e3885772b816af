package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
)

// naiveReduce reduces a 2×3×4 tensor over the axes in reduce (nil: all)
// with f applied to each output's list of values, keeping dims.
func naiveReduce(x []float32, reduce []bool, f func(v []float64) float64) []float32 {
	dims := []int{2, 3, 4}
	out := map[[3]int][]float64{}
	var keys [][3]int
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				idx := [3]int{i, j, k}
				key := idx
				for d := range 3 {
					if reduce == nil || reduce[d] {
						key[d] = 0
					}
				}
				if _, ok := out[key]; !ok {
					keys = append(keys, key)
				}
				out[key] = append(out[key], float64(x[(i*dims[1]+j)*dims[2]+k]))
			}
		}
	}
	var y []float32
	for _, key := range keys { // first-seen order is row-major order of the output
		y = append(y, float32(f(out[key])))
	}
	return y
}

func TestSumReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	x := testutil.UniformTensor(r, 2, 3, 4)
	sum := func(v []float64, g func(float64) float64) float64 {
		s := 0.0
		for _, e := range v {
			s += g(e)
		}
		return s
	}
	refs := map[string]func(v []float64) float64{
		"ReduceL1":        func(v []float64) float64 { return sum(v, math.Abs) },
		"ReduceL2":        func(v []float64) float64 { return math.Sqrt(sum(v, func(e float64) float64 { return e * e })) },
		"ReduceSumSquare": func(v []float64) float64 { return sum(v, func(e float64) float64 { return e * e }) },
		"ReduceLogSum":    func(v []float64) float64 { return math.Log(sum(v, func(e float64) float64 { return e + 2 })) },
		"ReduceLogSumExp": func(v []float64) float64 { return math.Log(sum(v, math.Exp)) },
	}
	pos := x.Clone() // ReduceLogSum needs a positive sum: x + 2
	for i := range pos.Data {
		pos.Data[i] += 2
	}
	for op, ref := range refs {
		xin := x
		if op == "ReduceLogSum" {
			xin = pos
		}
		for _, c := range []struct {
			axes   []int
			reduce []bool
			shape  []int
			keep   int
		}{
			{[]int{1}, []bool{false, true, false}, []int{2, 1, 4}, 1},
			{[]int{-1, 0}, []bool{true, false, true}, []int{3}, 0},
			{nil, nil, []int{1, 1, 1}, 1},
		} {
			want := naiveReduce(x.Data, c.reduce, ref)
			attrs := graph.Attrs{"keepdims": c.keep}
			if c.axes != nil {
				attrs["axes"] = c.axes
			}
			got := opsRun(t, op, attrs, []gcIn{in(xin)}, 1, 2, false)[0]
			opsExpect(t, op, got, c.shape, want, 2e-6)
			// Opset 18: the axes as input 1.
			if c.axes != nil {
				got = opsRun(t, op, graph.Attrs{"keepdims": c.keep}, []gcIn{in(xin), konst(ivec(c.axes...))}, 1, 1, false)[0]
				opsExpect(t, op+" (axes input)", got, c.shape, want, 2e-6)
			}
		}
		// noop_with_empty_axes: each element is reduced alone.
		want := make([]float32, len(x.Data))
		for i, v := range x.Data { // ref adds ReduceLogSum's 2 itself
			want[i] = float32(ref([]float64{float64(v)}))
		}
		got := opsRun(t, op, graph.Attrs{"noop_with_empty_axes": 1}, []gcIn{in(xin)}, 1, 1, false)[0]
		opsExpect(t, op+" noop", got, x.Shape, want, 2e-6)
	}
	// LogSumExp does not overflow where exp does.
	big := opsT([]int{2}, 1000, 1000)
	got := opsRun(t, "ReduceLogSumExp", graph.Attrs{"keepdims": 0}, []gcIn{in(big)}, 1, 1, false)[0]
	opsExpect(t, "ReduceLogSumExp of 1000s", got, []int{}, []float32{1000 + float32(math.Ln2)}, 1e-6)
}

func TestSumReductionsGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, op := range []string{"ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"} {
		x := opsRand(r, -2, 2, []float32{0}, 0.05, 2, 3, 4)
		if op == "ReduceLogSum" {
			x = opsRand(r, 0.5, 2, nil, 0, 2, 3, 4)
		}
		checkGrad(t, op, graph.Attrs{"axes": []int{1}}, []gcIn{in(x)}, 1, false)
		checkGrad(t, op, graph.Attrs{"keepdims": 0}, []gcIn{in(x), konst(ivec(0, 2))}, 1, false)
		checkGrad(t, op, graph.Attrs{"noop_with_empty_axes": 1}, []gcIn{in(x)}, 1, false)
	}
}
