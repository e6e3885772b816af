package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func TestResize(t *testing.T) {
	// Nearest ×2 repeats each element; asymmetric linear ×2 interpolates
	// halfway and repeats the edge.
	x := opsT([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	sc := opsT([]int{4}, 1, 1, 2, 2)
	empty := &tensor.Tensor{Shape: []int{0}}
	got := opsRun(t, "Resize", nil, []gcIn{in(x), konst(empty), konst(sc)}, 1, 1, false)[0]
	opsExpect(t, "nearest ×2", got, []int{1, 1, 4, 4}, opsF(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), 0)
	got = opsRun(t, "Resize", graph.Attrs{"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, []gcIn{in(x), konst(empty), konst(sc)}, 1, 1, false)[0]
	opsExpect(t, "linear ×2 asymmetric", got, []int{1, 1, 4, 4}, opsF(1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4), 1e-6)
	// sizes instead of scales; only the last axis changes.
	got = opsRun(t, "Resize", graph.Attrs{"mode": "linear", "coordinate_transformation_mode": "align_corners"},
		[]gcIn{in(x), konst(empty), konst(empty), konst(ivec(1, 1, 2, 3))}, 1, 1, false)[0]
	opsExpect(t, "linear sizes align_corners", got, []int{1, 1, 2, 3}, opsF(1, 1.5, 2, 3, 3.5, 4), 1e-6)

	r := rand.New(rand.NewPCG(61, 62))
	for _, attrs := range []graph.Attrs{
		nil,
		{"mode": "linear"},
		{"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
		{"mode": "cubic"},
		{"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": float32(-0.5)},
	} {
		for _, s := range [][]float32{{1, 1, 2, 2}, {1, 1, 0.5, 1.5}, {1, 2, 1, 1}} {
			checkGrad(t, "Resize", attrs, []gcIn{in(testutil.UniformTensor(r, 2, 2, 4, 3)), konst(empty), konst(opsT([]int{4}, s...))}, 1, false)
		}
	}
	opsWantErr(t, "Resize no scales", opsErr("Resize", nil, []gcIn{in(x)}, 1), "scales or sizes")
	opsWantErr(t, "Resize huge", opsErr("Resize", nil, []gcIn{in(x), konst(empty), konst(opsT([]int{4}, 1, 1, 1e9, 1))}, 1), "gives size")
	opsWantErr(t, "Resize crop", opsErr("Resize", graph.Attrs{"coordinate_transformation_mode": "tf_crop_and_resize"}, []gcIn{in(x), konst(empty), konst(sc)}, 1), "not supported")
}
