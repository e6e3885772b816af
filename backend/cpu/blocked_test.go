package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// TestBlockedElementwise: a segment that runs activations, Sub and Mul
// between convolutions (SiLU as Sigmoid·x, a Tanh, an unfused Clip, a max
// pool over a Clip ≥ 0, a 20-channel map whose padding channels the
// elementwise ops also see) matches the plain program, and the nodes
// really ran in the segment; a Div and a Log stay outside it.
func TestBlockedElementwise(t *testing.T) {
	if !SetBlocked(true) {
		t.Skip("no AVX-512: blocked segments are not used on this machine")
	}
	r := rand.New(rand.NewPCG(7, 8))
	g, param, node := newTestGraph("elementwise", []int{-1, 20, 9, 9}, r)
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	c0 := node("conv0", "Conv", pad1, "x", param("w0", 20, 20, 3, 3), param("b0", 20))
	silu := node("silu", "Mul", nil, c0, node("sig", "Sigmoid", nil, c0))
	d := node("sub", "Sub", nil, silu, node("tanh", "Tanh", nil, c0))
	clip := node("clip", "Clip", graph.Attrs{"min": float32(0), "max": float32(2)}, node("hswish", "HardSwish", nil, d))
	pool := node("pool", "MaxPool", graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}}, clip)
	c1 := node("conv1", "Conv", pad1, pool, param("w1", 24, 20, 3, 3))
	out := node("div", "Div", nil, node("log", "Log", nil, node("abs", "Abs", nil, c1)), param("k", 1, 24, 1, 1))
	g.Outputs = []graph.ValueInfo{{Name: out}}
	checkBlocked(t, g, r, 10, "conv0 … abs")
}

// TestBlockedConcatBatchNorm: a channel Concat (whole blocks, then a
// 20-channel tail) and a BatchNormalization that follows no convolution
// (so it does not fold) run in the segment and match the plain program; a
// Concat whose first input is not whole blocks stays outside.
func TestBlockedConcatBatchNorm(t *testing.T) {
	if !SetBlocked(true) {
		t.Skip("no AVX-512: blocked segments are not used on this machine")
	}
	r := rand.New(rand.NewPCG(9, 10))
	g, param, node := newTestGraph("concat_bn", []int{-1, 16, 8, 8}, r)
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	a := node("conv_a", "Conv", pad1, "x", param("wa", 32, 16, 3, 3))
	b := node("conv_b", "Conv", nil, "x", param("wb", 20, 16, 1, 1), param("bb", 20))
	cat := node("cat", "Concat", graph.Attrs{"axis": 1}, a, "x", b)
	v := tensor.New(68)
	for i := range v.Data {
		v.Data[i] = 0.5 + r.Float32()
	}
	g.AddParam("bn.v", v, false)
	bn := node("bn", "BatchNormalization", nil, cat, param("bn.s", 68), param("bn.b", 68), param("bn.m", 68), "bn.v")
	c := node("conv_c", "Conv", pad1, node("relu", "Relu", nil, bn), param("wc", 16, 68, 3, 3))
	// b's 20 channels first: not whole blocks, so this Concat is NCHW.
	odd := node("odd", "Concat", graph.Attrs{"axis": -3}, b, c)
	g.Outputs = []graph.ValueInfo{{Name: node("out", "Conv", nil, odd, param("wo", 8, 36, 1, 1))}}
	checkBlocked(t, g, r, 6, "conv_a, conv_b, cat, bn, relu, conv_c")
}

// TestBlockedSqueezeExcitation: a squeeze-excitation block (global pool,
// two 1×1 convolutions on the pooled map, Sigmoid, then the map times the
// N×C×1×1 scale, with the scale on either side of the Mul) runs whole in
// one segment and matches the plain program; the pooled map is also a
// graph output, so it is converted back.
func TestBlockedSqueezeExcitation(t *testing.T) {
	if !SetBlocked(true) {
		t.Skip("no AVX-512: blocked segments are not used on this machine")
	}
	r := rand.New(rand.NewPCG(11, 12))
	g, param, node := newTestGraph("se", []int{-1, 32, 7, 7}, r)
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	x := node("conv0", "Conv", pad1, "x", param("w0", 48, 32, 3, 3))
	pooled := node("gap", "GlobalAveragePool", nil, x)
	sq := node("relu", "Relu", nil, node("squeeze", "Conv", nil, pooled, param("ws", 8, 48, 1, 1), param("bs", 8)))
	sc := node("sig", "Sigmoid", nil, node("excite", "Conv", nil, sq, param("we", 48, 8, 1, 1), param("be", 48)))
	y := node("scale", "Mul", nil, x, sc)
	z := node("scale2", "Mul", nil, sc, node("conv1", "Conv", pad1, y, param("w1", 48, 48, 3, 3)))
	g.Outputs = []graph.ValueInfo{{Name: node("out", "Conv", nil, z, param("wo", 16, 48, 1, 1))}, {Name: pooled}}
	checkBlocked(t, g, r, 9, "all; the Relu is fused into squeeze")
}

// checkBlocked compiles g for inference, checks that wantNodes nodes run in
// blocked segments, and compares every output with the plain program's at
// batch 1 and 3 (at the input's N when it is fixed).
func checkBlocked(t *testing.T, g *graph.Graph, r *rand.Rand, wantNodes int, which string) {
	t.Helper()
	ref, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	if n := BlockedNodes(fast); n != wantNodes {
		t.Errorf("%d nodes in blocked segments, want %d (%s)", n, wantNodes, which)
	}
	batches := []int{1, 3}
	if n := g.Inputs[0].Shape[0]; n > 0 {
		batches = []int{n}
	}
	for _, batch := range batches {
		shape := append([]int{batch}, g.Inputs[0].Shape[1:]...)
		x := testutil.UniformTensor(r, shape...)
		want, err := ref.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		var wants []*tensor.Tensor
		for _, w := range want {
			wants = append(wants, w.Clone())
		}
		got, err := fast.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		for k := range got {
			if d := tensor.RelDiff(got[k], wants[k]); d > 1e-5 {
				t.Errorf("batch %d, output %d: relative difference %.2g", batch, k, d)
			}
		}
	}
}

// TestBlockedStaticBatch: a graph whose input has a fixed N of 4 (an
// export without a dynamic batch) runs all four images through its
// segment, in chunks.
func TestBlockedStaticBatch(t *testing.T) {
	if !SetBlocked(true) {
		t.Skip("no AVX-512: blocked segments are not used on this machine")
	}
	defer func(old int) { segmentChunkBytes = old }(segmentChunkBytes)
	segmentChunkBytes = 1 // one image per pass
	r := rand.New(rand.NewPCG(13, 14))
	g, param, node := newTestGraph("static", []int{4, 16, 8, 8}, r)
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	c := node("conv1", "Conv", pad1, node("conv0", "Conv", pad1, "x", param("w0", 32, 16, 3, 3)), param("w1", 16, 32, 3, 3))
	g.Outputs = []graph.ValueInfo{{Name: c}}
	checkBlocked(t, g, r, 2, "conv0, conv1")
}

// TestBlockedPoolAfterPool: a max pool that reads no border may take a
// negative input, and its output is then not known to be ≥ 0: a padded
// max pool after it must not treat its zero border as −∞.
func TestBlockedPoolAfterPool(t *testing.T) {
	if !SetBlocked(true) {
		t.Skip("no AVX-512: blocked segments are not used on this machine")
	}
	r := rand.New(rand.NewPCG(15, 16))
	g, param, node := newTestGraph("pools", []int{-1, 16, 12, 12}, r)
	c := node("conv0", "Conv", graph.Attrs{"pads": []int{1, 1, 1, 1}}, "x", param("w0", 32, 16, 3, 3), param("b0", 32))
	g.Param("b0").Value.Fill(-100) // every conv0 output < 0
	p1 := node("pool1", "MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, c)
	p2 := node("pool2", "MaxPool", graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}, p1)
	g.Outputs = []graph.ValueInfo{{Name: node("conv1", "Conv", nil, p2, param("w1", 16, 32, 1, 1))}}
	checkBlocked(t, g, r, 2, "conv0, pool1; pool2 reads a border of a value that may be negative")
}
