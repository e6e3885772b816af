package cpu

import (
	"strings"
	"testing"
)

func TestRange(t *testing.T) {
	s := func(v float32) gcIn { return konst(opsT([]int{}, v)) }
	for _, c := range []struct {
		start, limit, delta float32
		want                []float32
	}{
		{0, 5, 1, []float32{0, 1, 2, 3, 4}},
		{1, 2, 0.25, []float32{1, 1.25, 1.5, 1.75}},
		{10, 4, -3, []float32{10, 7}},
		{3, 1, 1, []float32{}},
		{0.5, 2.1, 0.5, []float32{0.5, 1, 1.5, 2}},
	} {
		got := opsRun(t, "Range", nil, []gcIn{s(c.start), s(c.limit), s(c.delta)}, 1, 1, false)[0]
		opsExpect(t, "Range", got, []int{len(c.want)}, c.want, 1e-7)
	}
	for _, c := range []struct {
		ins  []gcIn
		want string
	}{
		{[]gcIn{s(0), s(5), s(0)}, "delta is 0"},
		{[]gcIn{s(0), s(1e30), s(1)}, "more than"},
		{[]gcIn{in(opsT([]int{}, 0)), s(5), s(1)}, "start (input 0) must be a constant"},
		{[]gcIn{konst(opsT([]int{2})), s(5), s(1)}, "start must be a scalar"},
	} {
		_, _, err := opsCompile("Range", nil, c.ins, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Range: error %v, want one saying %q", err, c.want)
		}
	}
	// start and delta as trainable params (the length fixed by them at
	// compile time, away from a step of ceil).
	checkGrad(t, "Range", nil, []gcIn{param(opsT([]int{}, 0.5)), konst(opsT([]int{}, 5.05)), param(opsT([]int{}, 1))}, 1, false)
}
