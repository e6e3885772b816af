package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/tensor"
)

// Helpers shared by the op_*_test.go files of the elementwise, activation,
// shape and misc ops.

// opsT makes a tensor of the given shape from values (zeros when none).
func opsT(shape []int, vals ...float32) *tensor.Tensor {
	t := tensor.New(shape...)
	t.Shape = CloneShape(shape)
	if len(vals) > 0 {
		if len(vals) != len(t.Data) {
			panic("opsT: wrong number of values")
		}
		copy(t.Data, vals)
	}
	return t
}

// opsWantErr checks that err is non-nil and mentions every fragment.
func opsWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

func TestBroadcastShapes(t *testing.T) {
	cases := []struct {
		a, b, want []int
	}{
		{[]int{2, 3}, []int{2, 3}, []int{2, 3}},
		{[]int{2, 3, 4, 5}, []int{3, 1, 1}, []int{2, 3, 4, 5}},
		{[]int{3, 1}, []int{1, 4}, []int{3, 4}},
		{nil, []int{2}, []int{2}},
		{[]int{0, 3}, []int{1, 3}, []int{0, 3}},
		{[]int{1}, []int{0}, []int{0}},
	}
	for _, c := range cases {
		got, err := BroadcastShapes(c.a, c.b)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("broadcast %v %v = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
	_, err := BroadcastShapes([]int{2, 3}, []int{4, 3})
	opsWantErr(t, "2×3 vs 4×3", err, "2×3", "4×3")
}

func TestConstInts(t *testing.T) {
	got, err := constInts(opsT([]int{5}, 3, -2, 9.3e18, -9.3e18, 0), "x")
	if err != nil || !slices.Equal(got, []int{3, -2, intSat, -intSat, 0}) {
		t.Errorf("constInts = %v, %v", got, err)
	}
	_, err = constInts(opsT([]int{1}, 1.5), "starts")
	opsWantErr(t, "non-integer", err, "starts", "not an integer")
}
