package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
)

// depthwiseGeoms are one-channel windows: stride 1 (the padded path) with
// every padding from none to more than the kernel's reach, dilation, 1×1
// and 5×5 kernels, a cropped output (right/bottom padding smaller than the
// left/top), and strided ones (the row path).
var depthwiseGeoms = []Geom{
	{C: 1, H: 7, W: 7, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 1, H: 9, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 0, PL: 0},
	{C: 1, H: 5, W: 8, KH: 3, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, PT: 2, PL: 3},
	{C: 1, H: 12, W: 11, KH: 3, KW: 3, SH: 1, SW: 1, DH: 2, DW: 2, PT: 2, PL: 2},
	{C: 1, H: 4, W: 33, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, PT: 0, PL: 0},
	{C: 1, H: 3, W: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 1, H: 1, W: 1, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 1, H: 28, W: 28, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 1, H: 9, W: 8, KH: 3, KW: 3, SH: 1, SW: 2, DH: 2, DW: 2, PT: 2, PL: 2},
	{C: 1, H: 11, W: 10, KH: 5, KW: 3, SH: 3, SW: 2, DH: 2, DW: 1, PT: 3, PL: 0},
	{C: 1, H: 6, W: 6, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, PT: 3, PL: 3},
	{C: 1, H: 7, W: 7, KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, PT: 0, PL: 0},
}

func depthwiseCases() []Geom {
	var out []Geom
	for _, g := range depthwiseGeoms {
		fill(&g)
		out = append(out, g)
		if g.OH > 1 && g.OW > 1 {
			c := g // bottom and right padding smaller than top and left
			c.OH--
			c.OW--
			out = append(out, c)
		}
	}
	return out
}

// near is the kernels' tolerance against a float64 definition.
func near(got, want float64) bool { return testutil.Near(got, want, 1e-4, 1e-4) }

// TestDepthwiseAgainstDefinition runs chunks of 1 to 3 images, strided
// apart in x and y as the channels of NCHW tensors are, through plans for
// up to 3 images (so a chunk may be shorter than the plan's), with garbage
// in the scratch, between the images and after them.
func TestDepthwiseAgainstDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, g := range depthwiseCases() {
		for cnt := 1; cnt <= 3; cnt++ {
			checkDepthwise(t, r, &g, cnt)
		}
	}
}

func checkDepthwise(t *testing.T, r *rand.Rand, g *Geom, cnt int) {
	t.Helper()
	d := NewDepthwise(g, 3)
	if d.Images() != 3 {
		t.Fatalf("%+v: plan takes %d images, want 3", *g, d.Images())
	}
	kk, hw, ohw := g.KH*g.KW, g.H*g.W, g.OH*g.OW
	xs, ys := hw+5, ohw+3 // image strides, with gaps
	x, k, dy := testutil.NormalFloats(r, cnt*xs), testutil.NormalFloats(r, kk), testutil.NormalFloats(r, cnt*ys)
	y := testutil.NormalFloats(r, cnt*ys)
	y0 := append([]float32(nil), y...)
	sc := d.NewScratch()
	// A scratch that has seen other images first: nothing of them may leak.
	d.Forward(testutil.NormalFloats(r, 3*xs), xs, testutil.NormalFloats(r, 3*ys), ys, 3, k, 1, nil, sc)
	d.Forward(x, xs, y, ys, cnt, k, 0.25, nil, sc)
	for im := range cnt {
		xi := x[im*xs:][:hw]
		for j := 0; j < ohw; j++ {
			want := 0.25
			for tap := 0; tap < kk; tap++ {
				want += float64(k[tap]) * float64(naiveCol(g, xi, tap, j))
			}
			if got := y[im*ys+j]; !near(float64(got), want) {
				t.Fatalf("%+v, %d images: image %d y[%d] = %v, want %v", *g, cnt, im, j, got, want)
			}
		}
		for j := ohw; j < ys; j++ {
			if y[im*ys+j] != y0[im*ys+j] {
				t.Fatalf("%+v, %d images: wrote past image %d's output", *g, cnt, im)
			}
		}
	}
	// With a fused activation: the same, clamped.
	yc := append([]float32(nil), y0...)
	d.Forward(x, xs, yc, ys, cnt, k, 0.25, []float32{-0.5, 1}, sc)
	for im := range cnt {
		for j := 0; j < ohw; j++ {
			if got, want := yc[im*ys+j], min(max(y[im*ys+j], -0.5), 1); got != want {
				t.Fatalf("%+v, %d images, clamped: image %d y[%d] = %v, want %v", *g, cnt, im, j, got, want)
			}
		}
	}
	// Backward accumulates: start from known values.
	dk, dx := testutil.NormalFloats(r, kk), testutil.NormalFloats(r, cnt*xs)
	dk0, dx0 := append([]float32(nil), dk...), append([]float32(nil), dx...)
	d.Backward(x, xs, dy, ys, cnt, k, dx, dk, sc)
	wantDx := make([]float64, len(dx))
	for i := range wantDx {
		wantDx[i] = float64(dx0[i])
	}
	for tap := 0; tap < kk; tap++ {
		want := float64(dk0[tap])
		for im := range cnt {
			xi, dyi := x[im*xs:][:hw], dy[im*ys:]
			for j := 0; j < ohw; j++ {
				want += float64(dyi[j]) * float64(naiveCol(g, xi, tap, j))
				// x's element at (ih, iw), if any, got k[tap]·dy[j].
				ki, kj := tap/g.KW, tap%g.KW
				ih, iw := j/g.OW*g.SH-g.PT+ki*g.DH, j%g.OW*g.SW-g.PL+kj*g.DW
				if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
					wantDx[im*xs+ih*g.W+iw] += float64(k[tap]) * float64(dyi[j])
				}
			}
		}
		if !near(float64(dk[tap]), want) {
			t.Fatalf("%+v, %d images: dk[%d] = %v, want %v", *g, cnt, tap, dk[tap], want)
		}
	}
	for i := range dx {
		if !near(float64(dx[i]), wantDx[i]) {
			t.Fatalf("%+v, %d images: dx[%d] = %v, want %v", *g, cnt, i, dx[i], wantDx[i])
		}
	}
	// Without dx, only dk.
	d.Backward(x, xs, dy, ys, cnt, k, nil, dk, d.NewScratch())
}
