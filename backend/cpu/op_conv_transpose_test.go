package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// naiveConvTranspose is the definition: every input element scatters its
// kernel, scaled, into the output at stride·i + dilation·k − pad.
func naiveConvTranspose(x, w, b *tensor.Tensor, group, sh, sw, dh, dw, pt, pl, oh, ow int) *tensor.Tensor {
	n, cin, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	mg, kh, kw := w.Shape[1], w.Shape[2], w.Shape[3]
	m := mg * group
	cg := cin / group
	y := tensor.New(n, m, oh, ow)
	for i := 0; i < n; i++ {
		for c := 0; c < cin; c++ {
			gi := c / cg
			for ih := 0; ih < h; ih++ {
				for iw := 0; iw < wd; iw++ {
					v := float64(x.Data[((i*cin+c)*h+ih)*wd+iw])
					for o := 0; o < mg; o++ {
						for ki := 0; ki < kh; ki++ {
							for kj := 0; kj < kw; kj++ {
								yh, yw := ih*sh+ki*dh-pt, iw*sw+kj*dw-pl
								if yh < 0 || yh >= oh || yw < 0 || yw >= ow {
									continue
								}
								y.Data[((i*m+gi*mg+o)*oh+yh)*ow+yw] += float32(v * float64(w.Data[((c*mg+o)*kh+ki)*kw+kj]))
							}
						}
					}
				}
			}
		}
	}
	if b != nil {
		for i := 0; i < n; i++ {
			for o := 0; o < m; o++ {
				for p := 0; p < oh*ow; p++ {
					y.Data[(i*m+o)*oh*ow+p] += b.Data[o]
				}
			}
		}
	}
	return y
}

func TestConvTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	cases := []struct {
		name                     string
		n, cin, h, w, mg, group  int
		kh, kw, sh, sw, dh, dw   int
		pt, pl, pb, pr, oph, opw int
		oh, ow                   int // expected output size
	}{
		{"plain 3×3", 2, 3, 4, 5, 2, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 6, 7},
		{"stride 2 pads 1", 2, 4, 5, 4, 3, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 9, 7},
		{"stride 2 output_padding", 1, 2, 3, 3, 2, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6},
		{"2×2 stride 2 (U-Net up)", 2, 6, 4, 4, 3, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 8, 8},
		{"dilation 2", 1, 2, 4, 4, 2, 1, 3, 3, 1, 1, 2, 2, 1, 2, 1, 0, 0, 0, 6, 6},
		{"groups 2", 2, 4, 3, 4, 3, 2, 3, 2, 2, 1, 1, 1, 0, 1, 0, 0, 0, 0, 7, 4},
		{"depthwise", 2, 3, 4, 4, 1, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8},
	}
	for _, c := range cases {
		x := testutil.UniformTensor(r, c.n, c.cin, c.h, c.w)
		w := testutil.UniformTensor(r, c.cin, c.mg, c.kh, c.kw)
		b := testutil.UniformTensor(r, c.mg*c.group)
		attrs := graph.Attrs{"strides": []int{c.sh, c.sw}, "dilations": []int{c.dh, c.dw}, "pads": []int{c.pt, c.pl, c.pb, c.pr},
			"output_padding": []int{c.oph, c.opw}, "group": c.group}
		want := naiveConvTranspose(x, w, b, c.group, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.oh, c.ow)
		for _, threads := range []int{1, 2} {
			got := opsRun(t, "ConvTranspose", attrs, []gcIn{in(x), konst(w), konst(b)}, 1, threads, false)[0]
			opsExpect(t, "ConvTranspose "+c.name, got, want.Shape, want.Data, 1e-5)
		}
		checkGrad(t, "ConvTranspose", attrs, []gcIn{in(x), param(w), param(b)}, 1, false)
	}

	// 1-D, and output_shape with auto_pad.
	x := testutil.UniformTensor(r, 2, 3, 7)
	w := testutil.UniformTensor(r, 3, 2, 3)
	checkGrad(t, "ConvTranspose", graph.Attrs{"strides": []int{2}}, []gcIn{in(x), param(w)}, 1, false)
	got := opsRun(t, "ConvTranspose", graph.Attrs{"strides": []int{2}, "auto_pad": "SAME_UPPER"}, []gcIn{in(x), konst(w)}, 1, 1, false)[0]
	if !tensor.SameShape(got.Shape, []int{2, 2, 14}) {
		t.Errorf("SAME_UPPER 1-D: shape %v, want 2×2×14", got.Shape)
	}
	x2 := testutil.UniformTensor(r, 1, 2, 3, 3)
	w2 := testutil.UniformTensor(r, 2, 2, 3, 3)
	got = opsRun(t, "ConvTranspose", graph.Attrs{"strides": []int{3, 2}, "output_shape": []int{10, 8}}, []gcIn{in(x2), konst(w2)}, 1, 1, false)[0]
	want := naiveConvTranspose(x2, w2, nil, 1, 3, 2, 1, 1, 0, 0, 10, 8)
	opsExpect(t, "ConvTranspose output_shape", got, want.Shape, want.Data, 1e-5)
	if math.IsNaN(float64(got.Data[0])) {
		t.Fatal("NaN")
	}

	opsWantErr(t, "ConvTranspose channels", opsErr("ConvTranspose", nil, []gcIn{in(testutil.UniformTensor(r, 1, 3, 4, 4)), konst(testutil.UniformTensor(r, 2, 2, 3, 3))}, 1), "input channels")
	opsWantErr(t, "ConvTranspose 3-D", opsErr("ConvTranspose", nil, []gcIn{in(testutil.UniformTensor(r, 1, 2, 3, 3, 3)), konst(testutil.UniformTensor(r, 2, 2, 2, 2, 2))}, 1), "only 1-D and 2-D")
}
