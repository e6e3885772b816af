package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// naiveConv is the textbook 2-D convolution, the reference for convOp.
func naiveConv(x, w, b *tensor.Tensor, group, sh, sw, dh, dw, pt, pl, oh, ow int) *tensor.Tensor {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	m, cg, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	mg := m / group
	y := tensor.New(n, m, oh, ow)
	for i := 0; i < n; i++ {
		for o := 0; o < m; o++ {
			gi := o / mg
			for yh := 0; yh < oh; yh++ {
				for yw := 0; yw < ow; yw++ {
					var s float64
					if b != nil {
						s = float64(b.Data[o])
					}
					for ci := 0; ci < cg; ci++ {
						cin := gi*cg + ci
						for ki := 0; ki < kh; ki++ {
							for kj := 0; kj < kw; kj++ {
								ih, iw := yh*sh-pt+ki*dh, yw*sw-pl+kj*dw
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								s += float64(x.Data[((i*c+cin)*h+ih)*wd+iw]) * float64(w.Data[((o*cg+ci)*kh+ki)*kw+kj])
							}
						}
					}
					y.Data[((i*m+o)*oh+yh)*ow+yw] = float32(s)
				}
			}
		}
	}
	return y
}

type convCase struct {
	name                    string
	n, c, h, w, m, k, group int
	stride, dil, pad        int
	bias                    bool
}

var convCases = []convCase{
	{"dense3x3", 2, 3, 7, 6, 4, 3, 1, 1, 1, 1, true},
	{"stride2", 3, 2, 9, 9, 5, 3, 1, 2, 1, 1, false},
	{"pointwise", 2, 4, 5, 5, 3, 1, 1, 1, 1, 0, true},
	{"pointwise-stride2", 2, 4, 5, 5, 3, 1, 1, 2, 1, 0, false},
	{"grouped", 2, 4, 6, 6, 6, 3, 2, 1, 1, 1, true},
	{"depthwise", 3, 4, 6, 5, 4, 3, 4, 1, 1, 1, true},
	{"depthwise-stride2", 1, 3, 7, 7, 3, 3, 3, 2, 1, 1, false},
	{"dilated", 2, 2, 9, 8, 3, 3, 1, 1, 2, 2, true},
	{"nopad5x5", 2, 1, 12, 12, 2, 5, 1, 1, 1, 0, true},
	// Whole multiples of 8 channels: the weight gradient reads the padded
	// image in place (shift-major rows, gemm.SgemmRowsA). Width 8 keeps
	// them on the padded-rows path (narrower maps go to im2col).
	{"8channels", 3, 8, 6, 8, 4, 3, 1, 1, 1, 1, true},
	{"grouped16", 2, 32, 5, 8, 6, 3, 2, 1, 1, 1, false},
}

func convNodeAttrs(cc convCase) graph.Attrs {
	return graph.Attrs{"strides": []int{cc.stride, cc.stride}, "dilations": []int{cc.dil, cc.dil},
		"pads": []int{cc.pad, cc.pad, cc.pad, cc.pad}, "group": cc.group, "kernel_shape": []int{cc.k, cc.k}}
}

func TestConvMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	defer func(v int, rows bool) { convChunkCols, useRows = v, rows }(convChunkCols, useRows)
	for _, cc := range convCases {
		for _, threads := range []int{1, 2, 3, 4} {
			// 4 threads: the im2col path for stride-1 convs too.
			useRows = threads != 4
			convChunkCols = []int{1, 512, 4096, 512}[threads-1]
			x := testutil.UniformTensor(r, cc.n, cc.c, cc.h, cc.w)
			w := testutil.UniformTensor(r, cc.m, cc.c/cc.group, cc.k, cc.k)
			var b *tensor.Tensor
			ins := []gcIn{in(x), param(w)}
			if cc.bias {
				b = testutil.UniformTensor(r, cc.m)
				ins = append(ins, param(b))
			}
			g := singleNodeGraph("Conv", convNodeAttrs(cc), ins, 1)
			p, err := Compile(g)
			if err != nil {
				t.Fatalf("%s: %v", cc.name, err)
			}
			p.Threads = threads
			outs, err := p.Forward(false, x)
			if err != nil {
				t.Fatalf("%s: %v", cc.name, err)
			}
			oh, ow := outs[0].Shape[2], outs[0].Shape[3]
			want := naiveConv(x, w, b, cc.group, cc.stride, cc.stride, cc.dil, cc.dil, cc.pad, cc.pad, oh, ow)
			testutil.CheckTensorsClose(t, fmt.Sprintf("%s threads=%d", cc.name, threads), outs[0], want, 1e-4, 0)
		}
	}
}

func TestConvGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	defer func(v int, rows bool) { convChunkCols, useRows = v, rows }(convChunkCols, useRows)
	for i, cc := range convCases {
		// Alternate between one image per GEMM and batched images, and
		// between the padded-rows and im2col paths.
		convChunkCols = []int{1, 4096}[i%2]
		useRows = i%4 < 2 || cc.c%8 == 0
		x := testutil.UniformTensor(r, cc.n, cc.c, cc.h, cc.w)
		w := testutil.UniformTensor(r, cc.m, cc.c/cc.group, cc.k, cc.k)
		ins := []gcIn{in(x), param(w)}
		if cc.bias {
			ins = append(ins, param(testutil.UniformTensor(r, cc.m)))
		}
		t.Run(cc.name, func(t *testing.T) { checkGrad(t, "Conv", convNodeAttrs(cc), ins, 1, true) })
	}
}

func TestConv1DAndAutoPad(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := testutil.UniformTensor(r, 2, 3, 10)
	w := testutil.UniformTensor(r, 4, 3, 3)
	checkGrad(t, "Conv", graph.Attrs{"pads": []int{1, 1}}, []gcIn{in(x), param(w)}, 1, true)
	x2 := testutil.UniformTensor(r, 1, 2, 7, 7)
	w2 := testutil.UniformTensor(r, 2, 2, 3, 3)
	g := singleNodeGraph("Conv", graph.Attrs{"auto_pad": "SAME_UPPER", "strides": []int{2, 2}}, []gcIn{in(x2), param(w2)}, 1)
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	shapes, err := p.InferShapes(1)
	if err != nil || !tensor.SameShape(shapes["y0"], []int{1, 2, 4, 4}) {
		t.Fatalf("SAME_UPPER stride 2 on 7×7: %v %v", shapes["y0"], err)
	}
}

func TestConvShapeErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name string
		x, w *tensor.Tensor
		a    graph.Attrs
	}{
		{"channel mismatch", testutil.UniformTensor(r, 1, 3, 5, 5), testutil.UniformTensor(r, 2, 4, 3, 3), nil},
		{"group mismatch", testutil.UniformTensor(r, 1, 3, 5, 5), testutil.UniformTensor(r, 2, 1, 3, 3), graph.Attrs{"group": 2}},
		{"kernel too big", testutil.UniformTensor(r, 1, 1, 2, 2), testutil.UniformTensor(r, 1, 1, 3, 3), nil},
	}
	for _, c := range cases {
		g := singleNodeGraph("Conv", c.a, []gcIn{in(c.x), param(c.w)}, 1)
		if _, err := Compile(g); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

func TestGemmGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, ta := range []int{0, 1} {
		for _, tb := range []int{0, 1} {
			a := testutil.UniformTensor(r, 5, 7)
			if ta == 1 {
				a = testutil.UniformTensor(r, 7, 5)
			}
			b := testutil.UniformTensor(r, 7, 3)
			if tb == 1 {
				b = testutil.UniformTensor(r, 3, 7)
			}
			for _, c := range []*tensor.Tensor{testutil.UniformTensor(r, 3), testutil.UniformTensor(r, 5, 1), testutil.UniformTensor(r, 5, 3)} {
				checkGrad(t, "Gemm", graph.Attrs{"transA": ta, "transB": tb, "alpha": float32(0.7), "beta": float32(1.3)},
					[]gcIn{in(a), param(b), param(c)}, 1, true)
			}
		}
	}
	if _, err := Compile(singleNodeGraph("Gemm", nil, []gcIn{in(testutil.UniformTensor(r, 2, 3)), param(testutil.UniformTensor(r, 4, 5))}, 1)); err == nil {
		t.Error("Gemm with mismatched inner dims compiled")
	}
}

func TestMatMulGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	checkGrad(t, "MatMul", nil, []gcIn{in(testutil.UniformTensor(r, 4, 6)), param(testutil.UniformTensor(r, 6, 3))}, 1, true)
	checkGrad(t, "MatMul", nil, []gcIn{in(testutil.UniformTensor(r, 2, 4, 6)), param(testutil.UniformTensor(r, 6, 3))}, 1, true)
	checkGrad(t, "MatMul", nil, []gcIn{in(testutil.UniformTensor(r, 2, 1, 4, 6)), in(testutil.UniformTensor(r, 3, 6, 2))}, 1, true)
	checkGrad(t, "MatMul", nil, []gcIn{in(testutil.UniformTensor(r, 6)), in(testutil.UniformTensor(r, 6, 2))}, 1, true)
}

func TestBatchNormGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := testutil.UniformTensor(r, 4, 3, 3, 2)
	scale, bias := testutil.UniformTensor(r, 3), testutil.UniformTensor(r, 3)
	mean, vr := testutil.UniformTensor(r, 3), tensor.New(3)
	vr.Fill(0.8)
	for _, train := range []bool{true, false} {
		checkGrad(t, "BatchNormalization", nil, []gcIn{in(x), param(scale), param(bias), konst(mean), konst(vr)}, 1, train)
	}
}

func TestBatchNormTrainStats(t *testing.T) {
	x, _ := tensor.FromData([]float32{1, 3, 10, 20, 5, 7, 30, 40}, 2, 2, 2, 1)
	scale, bias := tensor.New(2), tensor.New(2)
	scale.Fill(1)
	g := singleNodeGraph("BatchNormalization", graph.Attrs{"momentum": float32(0.9)}, []gcIn{in(x), param(scale), param(bias), konst(tensor.New(2)), konst(tensor.New(2))}, 1)
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	y, err := p.Forward(true, x)
	if err != nil {
		t.Fatal(err)
	}
	// channel 0 values 1,3,5,7: mean 4, biased var 5, unbiased 20/3.
	if m := g.Param("x3").Value.Data[0]; abs32(m-0.4) > 1e-6 {
		t.Errorf("running mean %v, want 0.4", m)
	}
	if v := g.Param("x4").Value.Data[0]; abs32(v-0.1*20/3) > 1e-5 {
		t.Errorf("running var %v, want %v", v, 0.1*20/3)
	}
	if want := float32(-3 / 2.2360692); abs32(y[0].Data[0]-want) > 1e-4 {
		t.Errorf("y[0]=%v want %v", y[0].Data[0], want)
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestPoolGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	// Distinct values 0.05 apart so that ±eps never changes a window's max.
	x := tensor.New(2, 3, 7, 6)
	for i, v := range r.Perm(x.Len()) {
		x.Data[i] = float32(v)*0.05 - 6
	}
	for _, a := range []graph.Attrs{
		{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}},
		{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "pads": []int{1, 1, 1, 1}},
		{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "ceil_mode": 1},
		{"kernel_shape": []int{3, 3}, "strides": []int{1, 1}, "pads": []int{1, 1, 1, 1}, "count_include_pad": 1},
		{"kernel_shape": []int{2, 2}, "dilations": []int{2, 2}},
	} {
		checkGrad(t, "MaxPool", a, []gcIn{in(x)}, 1, true)
		if _, ok := a["dilations"]; !ok {
			checkGrad(t, "AveragePool", a, []gcIn{in(x)}, 1, true)
		}
	}
	checkGrad(t, "GlobalAveragePool", nil, []gcIn{in(x)}, 1, true)
	checkGrad(t, "GlobalMaxPool", nil, []gcIn{in(x)}, 1, true)
	// Rows of ≥ 8 windows take the vectorised 2×2 path, which records
	// the maxima's positions in training and searches for them otherwise.
	wide := tensor.New(2, 2, 5, 21)
	for i, v := range r.Perm(wide.Len()) {
		wide.Data[i] = float32(v)*0.05 - 10
	}
	for _, train := range []bool{true, false} {
		checkGrad(t, "MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, []gcIn{in(wide)}, 1, train)
	}
}

func TestPoolValues(t *testing.T) {
	x, _ := tensor.FromData([]float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9}, 1, 1, 3, 3)
	run := func(op string, a graph.Attrs) []float32 {
		p, err := Compile(singleNodeGraph(op, a, []gcIn{in(x)}, 1))
		if err != nil {
			t.Fatal(err)
		}
		y, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		return y[0].Data
	}
	check := func(name string, got, want []float32) {
		if len(got) != len(want) {
			t.Errorf("%s: got %v want %v", name, got, want)
			return
		}
		for i := range got {
			if abs32(got[i]-want[i]) > 1e-6 {
				t.Errorf("%s: got %v want %v", name, got, want)
				return
			}
		}
	}
	check("max2x2 ceil", run("MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "ceil_mode": 1}), []float32{5, 6, 8, 9})
	check("max2x2 floor", run("MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}), []float32{5})
	check("avg pad excl", run("AveragePool", graph.Attrs{"kernel_shape": []int{2, 2}, "pads": []int{1, 1, 0, 0}, "strides": []int{2, 2}}), []float32{1, 2.5, 5.5, 7})
	check("avg pad incl", run("AveragePool", graph.Attrs{"kernel_shape": []int{2, 2}, "pads": []int{1, 1, 0, 0}, "strides": []int{2, 2}, "count_include_pad": 1}), []float32{0.25, 1.25, 2.75, 7})
	check("gap", run("GlobalAveragePool", nil), []float32{5})
}

// TestConvAsymmetricPads covers stride-1 convolutions with pads on one
// side only (the padded-rows path must clear exactly the border).
func TestConvAsymmetricPads(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, pads := range [][]int{{0, 2, 0, 0}, {2, 0, 0, 2}, {0, 0, 2, 2}, {1, 2, 0, 1}} {
		x := testutil.UniformTensor(r, 2, 3, 6, 12)
		w := testutil.UniformTensor(r, 4, 3, 3, 3)
		a := graph.Attrs{"pads": pads}
		p, err := Compile(singleNodeGraph("Conv", a, []gcIn{in(x), param(w)}, 1))
		if err != nil {
			t.Fatal(err)
		}
		y, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		// naiveConv takes symmetric pads: pad x by hand instead.
		h, wd := 6+pads[0]+pads[2], 12+pads[1]+pads[3]
		xp := tensor.New(2, 3, h, wd)
		for i := 0; i < 2*3; i++ {
			for ih := 0; ih < 6; ih++ {
				copy(xp.Data[(i*h+ih+pads[0])*wd+pads[1]:][:12], x.Data[(i*6+ih)*12:][:12])
			}
		}
		want := naiveConv(xp, w, nil, 1, 1, 1, 1, 1, 0, 0, h-2, wd-2)
		testutil.CheckTensorsClose(t, fmt.Sprintf("pads %v", pads), y[0], want, 1e-4, 0)
		checkGrad(t, "Conv", a, []gcIn{in(x), param(w)}, 1, true)
	}
}
