package cpu

import (
	"math"
	"testing"

	"github.com/shearsml/shears/graph"
)

func TestArgExtremes(t *testing.T) {
	x := opsT([]int{2, 3}, 1, 5, 5, 7, -1, 7)
	for _, c := range []struct {
		op    string
		attrs graph.Attrs
		shape []int
		want  []float32
	}{
		{"ArgMax", graph.Attrs{"axis": 1}, []int{2, 1}, []float32{1, 0}},
		{"ArgMax", graph.Attrs{"axis": 1, "select_last_index": 1, "keepdims": 0}, []int{2}, []float32{2, 2}},
		{"ArgMax", graph.Attrs{"axis": 0}, []int{1, 3}, []float32{1, 0, 1}},
		{"ArgMin", graph.Attrs{"axis": -1, "keepdims": 0}, []int{2}, []float32{0, 1}},
	} {
		got := opsRun(t, c.op, c.attrs, []gcIn{in(x)}, 1, 1, false)[0]
		opsExpect(t, c.op, got, c.shape, c.want, 0)
	}
	if _, _, err := opsCompile("ArgMax", graph.Attrs{"axis": 2}, []gcIn{in(x)}, 1); err == nil {
		t.Error("ArgMax axis 2 of a 2-D input: no error")
	}
	got := opsRun(t, "Size", nil, []gcIn{in(x)}, 1, 1, false)[0]
	opsExpect(t, "Size", got, []int{}, []float32{6}, 0)
}

func TestRoundingOps(t *testing.T) {
	x := opsT([]int{6}, -1.5, -0.5, 0.5, 1.5, 2.7, 0)
	for op, want := range map[string][]float32{
		"Floor": {-2, -1, 0, 1, 2, 0},
		"Ceil":  {-1, 0, 1, 2, 3, 0},
		"Round": {-2, 0, 0, 2, 3, 0}, // half to even
		"Sign":  {-1, -1, 1, 1, 1, 0},
	} {
		got := opsRun(t, op, nil, []gcIn{in(x)}, 1, 1, false)[0]
		opsExpect(t, op, got, []int{6}, want, 0)
	}
	got := opsRun(t, "Sign", nil, []gcIn{in(opsT([]int{1}, float32(math.NaN())))}, 1, 1, false)[0]
	if !math.IsNaN(float64(got.Data[0])) {
		t.Errorf("Sign(NaN) = %v", got.Data[0])
	}
}
