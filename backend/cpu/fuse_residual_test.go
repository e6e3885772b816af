package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
)

// TestFuseResidualCases: CompileInference takes a residual Add into the
// convolution before it only when that is safe, and the outputs stay
// bit-identical at several batch sizes. Refused: an Add whose other
// operand is a constant that equals the conv's shape at batch 1 only
// (it broadcasts at other batches), one whose other operand is computed
// after the convolution, and one into a depthwise convolution; fused: a
// conv without a bias, with a Relu after the Add.
func TestFuseResidualCases(t *testing.T) {
	defer SetBlocked(SetBlocked(false)) // the fusions are checked on the NCHW program
	r := rand.New(rand.NewPCG(91, 92))
	g, param, node := newTestGraph("residuals", []int{-1, 4, 6, 6}, r)
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	// conv without bias, Add of the input, Relu: fused (both)
	a := node("relu_a", "Relu", nil, node("add_a", "Add", nil, node("conv_a", "Conv", pad1, "x", param("wa", 4, 4, 3, 3)), "x"))
	// Add of a constant of the batch-1 shape: not fused
	b := node("add_b", "Add", nil, node("conv_b", "Conv", pad1, a, param("wb", 4, 4, 3, 3), param("bb", 4)), param("k", 1, 4, 6, 6))
	// conv_c's other operand (conv_d's output) is computed after it: the
	// Add goes into conv_d instead, whose other operand comes first

	c := node("conv_c", "Conv", pad1, b, param("wc", 4, 4, 3, 3))
	d := node("conv_d", "Conv", nil, b, param("wd", 4, 4, 1, 1))
	cd := node("add_cd", "Add", nil, c, d)
	// depthwise conv: not fused
	e := node("add_e", "Add", nil, node("dw_e", "Conv", graph.Attrs{"pads": []int{1, 1, 1, 1}, "group": 4}, cd, param("we", 4, 1, 3, 3)), cd)
	g.Outputs = []graph.ValueInfo{{Name: e}}

	ref, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	fused, err := CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 3, 2} {
		x := testutil.UniformTensor(r, batch, 4, 6, 6)
		want, err := ref.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		wantData := append([]float32(nil), want[0].Data...)
		got, err := fused.Forward(false, x)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		for i, v := range got[0].Data {
			if v != wantData[i] {
				t.Fatalf("batch %d: output[%d] = %g fused, %g unfused", batch, i, v, wantData[i])
			}
		}
	}
	// after a Forward with a buffer per value, so that the values exist
	fused.KeepValues(true)
	if _, err := fused.Forward(false, testutil.UniformTensor(r, 1, 4, 6, 6)); err != nil {
		t.Fatal(err)
	}
	fusedInto := func(add, conv string) bool {
		v := fused.Value(add)
		return v != nil && v == fused.Value(conv)
	}
	for _, c := range []struct {
		add, conv string
		want      bool
	}{{"add_a", "conv_a", true}, {"relu_a", "conv_a", true}, {"add_b", "conv_b", false}, {"add_cd", "conv_c", false}, {"add_cd", "conv_d", true}, {"add_e", "dw_e", false}} {
		if got := fusedInto(c.add, c.conv); got != c.want {
			t.Errorf("%s fused into %s: %v, want %v", c.add, c.conv, got, c.want)
		}
	}
}
