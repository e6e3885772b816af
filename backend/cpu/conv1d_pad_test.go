package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
)

// TestConv1dPadBiggerThanInput: windows that see only padding.
func TestConv1dPadBiggerThanInput(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	// pytorch-converted/test_Conv1d_pad2size1: width 1, kernel 5, pad 2.
	for _, w := range []int{1, 2} {
		for _, k := range []int{3, 5} {
			x := testutil.UniformTensor(r, 2, 3, w)
			wt := testutil.UniformTensor(r, 4, 3, k)
			checkGrad(t, "Conv", graph.Attrs{"pads": []int{2, 2}}, []gcIn{in(x), param(wt)}, 1, true)
			checkGrad(t, "Conv", graph.Attrs{"pads": []int{2, 2}, "group": 3}, []gcIn{in(x), param(testutil.UniformTensor(r, 3, 1, k))}, 1, true)
		}
	}
}
