package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/tensor"
)

func TestVariadic(t *testing.T) {
	a := opsT([]int{2, 3}, 1, 5, 3, -1, 0, 7)
	b := opsT([]int{3}, 2, 2, 2)
	c := opsT([]int{2, 1}, 4, -3)
	for _, tc := range []struct {
		op   string
		want []float32
	}{
		{"Sum", opsF(7, 11, 9, -2, -1, 6)},
		{"Mean", opsF(7.0/3, 11.0/3, 3, -2.0/3, -1.0/3, 2)},
		{"Max", opsF(4, 5, 4, 2, 2, 7)},
		{"Min", opsF(1, 2, 2, -3, -3, -3)},
	} {
		got := opsRun(t, tc.op, nil, []gcIn{in(a), in(b), in(c)}, 1, 2, false)[0]
		opsExpect(t, tc.op, got, []int{2, 3}, tc.want, 1e-6)
	}
	// One input is the identity.
	got := opsRun(t, "Max", nil, []gcIn{in(a)}, 1, 1, false)[0]
	opsExpect(t, "Max of one", got, []int{2, 3}, a.Data, 0)

	r := rand.New(rand.NewPCG(91, 92))
	for _, op := range []string{"Sum", "Mean", "Max", "Min"} {
		// Distinct values so that ±eps does not change the winners.
		x := opsRand(r, -2, 2, nil, 0, 2, 3, 4)
		y := opsRand(r, -2, 2, nil, 0, 3, 1)
		z := opsRand(r, -2, 2, nil, 0, 4)
		checkGrad(t, op, nil, []gcIn{in(x), in(y), param(z)}, 1, false)
	}
	// Ties: the first input that holds the maximum takes the gradient.
	g := opsGrads(t, "Max", nil, []gcIn{in(opsT([]int{2}, 1, 3)), in(opsT([]int{2}, 1, 2))}, []*tensor.Tensor{opsT([]int{2}, 5, 7)}, 1)
	opsExpect(t, "Max tie, input 0", g[0], []int{2}, opsF(5, 7), 0)
	opsExpect(t, "Max tie, input 1", g[1], []int{2}, opsF(0, 0), 0)
	opsWantErr(t, "Sum shapes", opsErr("Sum", nil, []gcIn{in(a), in(opsT([]int{2}, 1, 2))}, 1), "broadcast")
}
