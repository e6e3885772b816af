package vec

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
)

// lengths cover the empty case, the scalar tail alone, one vector, the
// unrolled loops and their remainders.
var lengths = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 257, 1000}

// views returns a slice of length n at every offset 0..3 into a larger
// buffer, so that unaligned starts are exercised, plus the whole buffer
// for checking that nothing past the view was written.
func views(r *rand.Rand, n int) (bufs [][]float32, off []int) {
	for o := 0; o < 4; o++ {
		bufs = append(bufs, testutil.NormalFloats(r, n+o+8))
		off = append(off, o)
	}
	return
}

// closeTo is the vector loops' tolerance: 1e-5 times the size of the
// terms summed.
func closeTo(a, b float32, scale float64) bool {
	return testutil.Near(float64(a), float64(b), 1e-5*scale, 0)
}

func TestAxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range lengths {
		bufs, offs := views(r, n)
		for k, buf := range bufs {
			o := offs[k]
			x := testutil.NormalFloats(r, n+3)[3:]
			want := append([]float32(nil), buf...)
			for i := 0; i < n; i++ {
				want[o+i] += 1.5 * x[i]
			}
			Axpy(buf[o:o+n], 1.5, x)
			for i := range buf {
				if !closeTo(buf[i], want[i], 4) {
					t.Fatalf("n=%d off=%d: y[%d] = %g, want %g", n, o, i-o, buf[i], want[i])
				}
			}
		}
	}
}

func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range lengths {
		for o := 0; o < 4; o++ {
			x, y := testutil.NormalFloats(r, n+o)[o:], testutil.NormalFloats(r, n+5)
			var want float64
			for i := range x {
				want += float64(x[i]) * float64(y[i])
			}
			if got := Dot(x, y); !closeTo(got, float32(want), math.Sqrt(float64(n))+1) {
				t.Errorf("n=%d off=%d: %g, want %g", n, o, got, want)
			}
		}
	}
}

// TestClamp checks Clamp, AddPairClamp, AddBiasResidualClamp and AddClamp,
// NaN included.
func TestClamp(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	nan := float32(math.NaN())
	for _, n := range lengths {
		for _, b := range [][2]float32{{0, 6}, {0, float32(math.Inf(1))}, {-0.5, 0.5}, {1, -1}} {
			bufs, offs := views(r, n)
			for k, buf := range bufs {
				o := offs[k]
				x := testutil.NormalFloats(r, n)
				if n > 3 {
					x[n/2] = nan
				}
				want := append([]float32(nil), buf...)
				for i, v := range x {
					want[o+i] = min(max(v, b[0]), b[1])
				}
				Clamp(buf[o:o+n], x, b[0], b[1])
				for i := range buf {
					if w := want[i]; buf[i] != w && !(w != w && buf[i] != buf[i]) {
						t.Fatalf("n=%d off=%d bounds %v: y[%d] = %g, want %g", n, o, b, i-o, buf[i], w)
					}
				}
				// AddPairClamp: the same after adding a second vector.
				x2 := testutil.NormalFloats(r, n)
				for i, v := range x {
					want[o+i] = min(max(v+x2[i], b[0]), b[1])
				}
				AddPairClamp(buf[o:o+n], x, x2, b[0], b[1])
				for i := range buf {
					if w := want[i]; buf[i] != w && !(w != w && buf[i] != buf[i]) {
						t.Fatalf("AddPairClamp n=%d off=%d bounds %v: y[%d] = %g, want %g", n, o, b, i-o, buf[i], w)
					}
				}
				// AddBiasResidualClamp: a bias, then x2, then the clamp.
				for i, v := range x {
					want[o+i] = min(max(v+0.25+x2[i], b[0]), b[1])
				}
				AddBiasResidualClamp(buf[o:o+n], x, 0.25, x2, b[0], b[1])
				for i := range buf {
					if w := want[i]; buf[i] != w && !(w != w && buf[i] != buf[i]) {
						t.Fatalf("AddBiasResidualClamp n=%d off=%d bounds %v: y[%d] = %g, want %g", n, o, b, i-o, buf[i], w)
					}
				}
				// AddClamp: the same with a bias first.
				for i, v := range x {
					want[o+i] = min(max(v+0.25, b[0]), b[1])
				}
				AddClamp(buf[o:o+n], x, 0.25, b[0], b[1])
				for i := range buf {
					if w := want[i]; buf[i] != w && !(w != w && buf[i] != buf[i]) {
						t.Fatalf("AddClamp n=%d off=%d bounds %v: y[%d] = %g, want %g", n, o, b, i-o, buf[i], w)
					}
				}
			}
		}
	}
}

func TestReluGradAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range lengths {
		bufs, offs := views(r, n)
		for k, buf := range bufs {
			o := offs[k]
			x, g := testutil.NormalFloats(r, n), testutil.NormalFloats(r, n)
			if n > 3 {
				x[1], x[2], x[3] = 0, float32(math.Copysign(0, -1)), float32(math.NaN())
			}
			want := append([]float32(nil), buf...)
			for i := range x {
				if x[i] > 0 {
					want[o+i] += g[i]
				}
			}
			ReluGradAdd(buf[o:o+n], x, g)
			for i := range buf {
				if buf[i] != want[i] {
					t.Fatalf("n=%d off=%d: gx[%d] = %g, want %g", n, o, i-o, buf[i], want[i])
				}
			}
		}
	}
}

func BenchmarkAxpy(b *testing.B) {
	x, y := make([]float32, 1000), make([]float32, 1000)
	b.SetBytes(8000)
	for range b.N {
		Axpy(y, 0.5, x)
	}
}

// checkRow compares got with want element by element, relative to scale.
func checkRow(t *testing.T, what string, n int, got []float32, want []float64, scale float64) {
	t.Helper()
	if msg := testutil.Mismatch(got, want, 1e-5*scale, 0); msg != "" {
		t.Fatalf("%s n=%d: %s", what, n, msg)
	}
}

func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range lengths {
		for o := 0; o < 3; o++ {
			a, b, c := testutil.NormalFloats(r, n+o)[o:], testutil.NormalFloats(r, n+1)[1:], testutil.NormalFloats(r, n)
			y := testutil.NormalFloats(r, n+8)
			y0 := append([]float32(nil), y...)
			want := make([]float64, len(y))
			for i := range y {
				want[i] = float64(y0[i])
			}

			Add(y[:n], a, b)
			for i := 0; i < n; i++ {
				want[i] = float64(a[i]) + float64(b[i])
			}
			checkRow(t, "Add", n, y, want, 4)

			ScaleShift(y[:n], 1.5, a, -0.25)
			for i := 0; i < n; i++ {
				want[i] = 1.5*float64(a[i]) - 0.25
			}
			checkRow(t, "ScaleShift", n, y, want, 4)

			AddAffine2(y[:n], 0.5, a, -2, b, 0.125)
			for i := 0; i < n; i++ {
				want[i] += 0.5*float64(a[i]) - 2*float64(b[i]) + 0.125
			}
			checkRow(t, "AddAffine2", n, y, want, 8)

			var s, q, sd, dd float64
			for i := 0; i < n; i++ {
				s += float64(a[i])
				q += float64(a[i]) * float64(a[i])
				sd += float64(c[i])
				dd += float64(c[i]) * (float64(a[i]) - 3)
			}
			gs, gq := SumSquares(a)
			gsd, gdd := SumDotCentered(c, a, 3)
			tol := math.Sqrt(float64(n)) + 1
			if !closeTo(gs, float32(s), tol) || !closeTo(gq, float32(q), tol*4) {
				t.Errorf("SumSquares n=%d: %g %g, want %g %g", n, gs, gq, s, q)
			}
			if !closeTo(gsd, float32(sd), tol) || !closeTo(gdd, float32(dd), tol*8) {
				t.Errorf("SumDotCentered n=%d: %g %g, want %g %g", n, gsd, gdd, sd, dd)
			}
		}
	}
}

func TestClampGradAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range lengths {
		gx, x, g := testutil.NormalFloats(r, n+8), testutil.NormalFloats(r, n), testutil.NormalFloats(r, n)
		if n > 4 {
			x[0], x[1], x[2], x[3] = 0, 1, float32(math.NaN()), float32(math.Inf(1))
		}
		want := append([]float32(nil), gx...)
		for i := range x {
			if x[i] > 0 && x[i] < 1 {
				want[i] += g[i]
			}
		}
		ClampGradAdd(gx[:n], x, g, 0, 1)
		for i := range gx {
			if gx[i] != want[i] {
				t.Fatalf("n=%d: gx[%d] = %g, want %g", n, i, gx[i], want[i])
			}
		}
	}
}

func TestGather2(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range lengths {
		for o := 0; o < 3; o++ {
			src := testutil.NormalFloats(r, 2*n+o)[o:]
			if n > 0 {
				src = src[:2*n-1] // the shortest src allowed
			}
			dst := testutil.NormalFloats(r, n+4)
			want := append([]float32(nil), dst...)
			for i := 0; i < n; i++ {
				want[i] = src[2*i]
			}
			Gather2(dst[:n], src)
			for i := range dst {
				if dst[i] != want[i] {
					t.Fatalf("n=%d off=%d: dst[%d] = %g, want %g", n, o, i, dst[i], want[i])
				}
			}
		}
	}
}

func TestFill(t *testing.T) {
	for _, n := range lengths {
		s := make([]float32, n+2)
		Fill(s[:n], 2.5)
		for i, v := range s {
			if want := float32(2.5); i >= n {
				want = 0
				if v != want {
					t.Fatalf("n=%d: s[%d] = %g past the end", n, i, v)
				}
			} else if v != want {
				t.Fatalf("n=%d: s[%d] = %g, want %g", n, i, v, want)
			}
		}
	}
}

func TestMaxPairs2(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range lengths {
		for o := 0; o < 3; o++ {
			a := testutil.NormalFloats(r, 2*n+o)[o:]
			b := testutil.NormalFloats(r, 2*n+3)[3:]
			y := testutil.NormalFloats(r, n+4)
			want := append([]float32(nil), y...)
			for i := 0; i < n; i++ {
				want[i] = max(a[2*i], a[2*i+1], b[2*i], b[2*i+1])
			}
			MaxPairs2(y[:n], a, b)
			for i := range y {
				if y[i] != want[i] {
					t.Fatalf("n=%d off=%d: y[%d] = %g, want %g", n, o, i, y[i], want[i])
				}
			}
		}
	}
}

func TestMaxInto(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, n := range lengths {
		for o := 0; o < 3; o++ {
			x := testutil.NormalFloats(r, n+o)[o:]
			y := testutil.NormalFloats(r, n+4)
			want := append([]float32(nil), y...)
			for i := 0; i < n; i++ {
				want[i] = max(y[i], x[i])
			}
			MaxInto(y[:n], x)
			for i := range y {
				if y[i] != want[i] {
					t.Fatalf("n=%d off=%d: y[%d] = %g, want %g", n, o, i, y[i], want[i])
				}
			}
		}
	}
}

func TestMaxPairs2Arg(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, n := range lengths {
		for o := 0; o < 3; o++ {
			// Small integers make ties common: the first position must win.
			a := make([]float32, 2*n+o)
			b := make([]float32, 2*n)
			for i := range a {
				a[i] = float32(r.IntN(3))
			}
			for i := range b {
				b[i] = float32(r.IntN(3))
			}
			a = a[o:]
			y := testutil.NormalFloats(r, n+4)
			code := make([]int32, n+4)
			want := append([]float32(nil), y...)
			wantCode := make([]int32, n+4)
			for i := 0; i < n; i++ {
				w := []float32{a[2*i], a[2*i+1], b[2*i], b[2*i+1]}
				m, c := w[0], int32(0)
				for k, v := range w[1:] {
					if v > m {
						m, c = v, int32(k+1)
					}
				}
				want[i], wantCode[i] = m, c
			}
			MaxPairs2Arg(y[:n], code, a, b)
			for i := range y {
				if y[i] != want[i] || code[i] != wantCode[i] {
					t.Fatalf("n=%d off=%d: [%d] = %g code %d, want %g code %d", n, o, i, y[i], code[i], want[i], wantCode[i])
				}
			}
		}
	}
}

func TestCopyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, width := range []int{1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 33, 64} {
		for _, rows := range []int{0, 1, 2, 5} {
			for o := 0; o < 3; o++ {
				ss, ds := width+r.IntN(5), width+r.IntN(5)
				src := testutil.NormalFloats(r, o+rows*ss+1)[o:]
				dst := testutil.NormalFloats(r, rows*ds+3)
				want := append([]float32(nil), dst...)
				for k := 0; k < rows; k++ {
					copy(want[k*ds:k*ds+width], src[k*ss:])
				}
				CopyRows(dst, ds, src, ss, width, rows)
				for i := range dst {
					if dst[i] != want[i] {
						t.Fatalf("width %d rows %d: dst[%d] = %g, want %g", width, rows, i, dst[i], want[i])
					}
				}
			}
		}
	}
}

func TestCopyRowsAt(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, width := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 32, 33, 64} {
		for _, rows := range []int{0, 1, 2, 5, 9} {
			src := testutil.NormalFloats(r, 4*width+20)
			off := make([]int, rows)
			for k := range off {
				off[k] = r.IntN(len(src) - width + 1)
			}
			ds := width + r.IntN(5)
			dst := testutil.NormalFloats(r, rows*ds+3)
			want := append([]float32(nil), dst...)
			for k, o := range off {
				copy(want[k*ds:k*ds+width], src[o:])
			}
			CopyRowsAt(dst, ds, src, off, width)
			for i := range dst {
				if dst[i] != want[i] {
					t.Fatalf("width %d rows %d: dst[%d] = %g, want %g", width, rows, i, dst[i], want[i])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("CopyRowsAt read past the end of its source without panicking")
		}
	}()
	CopyRowsAt(make([]float32, 16), 8, make([]float32, 10), []int{0, 3}, 8)
}

func TestAddRows(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, width := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 33, 64} {
		for _, rows := range []int{0, 1, 2, 5} {
			for o := 0; o < 3; o++ {
				ss, ds := width+r.IntN(5), width+r.IntN(5)
				src := testutil.NormalFloats(r, o+rows*ss+1)[o:]
				dst := testutil.NormalFloats(r, rows*ds+3)
				want := append([]float32(nil), dst...)
				for k := 0; k < rows; k++ {
					for i := 0; i < width; i++ {
						want[k*ds+i] += src[k*ss+i]
					}
				}
				AddRows(dst, ds, src, ss, width, rows)
				for i := range dst {
					if dst[i] != want[i] {
						t.Fatalf("width %d rows %d: dst[%d] = %g, want %g", width, rows, i, dst[i], want[i])
					}
				}
			}
		}
	}
}

// TestSetVariants: ReluGrad and Affine2 overwrite what ReluGradAdd and
// AddAffine2 add to, so on a buffer of garbage they must give what the
// adding versions give on zeros.
func TestSetVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, n := range lengths {
		x, g, u := testutil.NormalFloats(r, n), testutil.NormalFloats(r, n), testutil.NormalFloats(r, n)
		if n > 2 {
			x[1] = 0 // the boundary: not > 0
		}
		want, got := make([]float32, n), testutil.NormalFloats(r, n)
		ReluGradAdd(want, x, g)
		ReluGrad(got, x, g)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ReluGrad n=%d: [%d] = %g, want %g", n, i, got[i], want[i])
			}
		}
		want, got = make([]float32, n), testutil.NormalFloats(r, n)
		AddAffine2(want, 0.5, u, -1.5, x, 0.25)
		Affine2(got, 0.5, u, -1.5, x, 0.25)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("Affine2 n=%d: [%d] = %g, want %g", n, i, got[i], want[i])
			}
		}
	}
}

func TestGatherRows2(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, width := range []int{1, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 28, 33} {
		for _, rows := range []int{0, 1, 2, 5} {
			for o := 0; o < 3; o++ {
				ss, ds := 2*width+r.IntN(5), width+r.IntN(5)
				n := o
				if rows > 0 {
					n += (rows-1)*ss + 2*width - 1 // the shortest src allowed
				}
				src := testutil.NormalFloats(r, n)[o:]
				dst := testutil.NormalFloats(r, rows*ds+3)
				want := append([]float32(nil), dst...)
				for k := 0; k < rows; k++ {
					for i := 0; i < width; i++ {
						want[k*ds+i] = src[k*ss+2*i]
					}
				}
				GatherRows2(dst, ds, src, ss, width, rows)
				for i := range dst {
					if dst[i] != want[i] {
						t.Fatalf("width %d rows %d: dst[%d] = %g, want %g", width, rows, i, dst[i], want[i])
					}
				}
			}
		}
	}
}

// TestTapSum checks the stencil against its definition for 1 to 9 taps at
// scattered offsets (a 3×3 window over a 13-wide plane among them), every
// length, and that nothing past y is written.
func TestTapSum(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	tapSets := [][]int{{0}, {5, 2}, {0, 1, 2, 13, 14, 15, 26, 27, 28}, {40, 0, 7, 3}}
	for _, n := range lengths {
		for _, off := range tapSets {
			x := testutil.NormalFloats(r, n+41)
			k := testutil.NormalFloats(r, len(off))
			bufs, offs := views(r, n)
			for b, buf := range bufs {
				o := offs[b]
				want := append([]float32(nil), buf...)
				for i := 0; i < n; i++ {
					s := 0.5
					for j, d := range off {
						s += float64(k[j]) * float64(x[d+i])
					}
					want[o+i] = float32(s)
				}
				TapSum(buf[o:o+n], x, off, k, 0.5)
				for i := range buf {
					if !closeTo(buf[i], want[i], 10) {
						t.Fatalf("n=%d taps=%v: y[%d] = %g, want %g", n, off, i-o, buf[i], want[i])
					}
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a window past the end of x did not panic")
		}
	}()
	TapSum(make([]float32, 8), make([]float32, 10), []int{3}, []float32{1}, 0)
}

// TestCopyPlanes checks sets of rows against copy, with gaps between rows
// and between planes that must stay untouched, for every width class.
func TestCopyPlanes(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, width := range []int{1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33} {
		for _, rows := range []int{0, 1, 3} {
			for _, planes := range []int{0, 1, 2, 5} {
				ss, ds := width+r.IntN(3), width+r.IntN(3)
				sp, dp := rows*ss+r.IntN(4), rows*ds+r.IntN(4)
				src := testutil.NormalFloats(r, max(planes*sp, 1)+ss)
				dst := testutil.NormalFloats(r, max(planes*dp, 1)+ds)
				want := append([]float32(nil), dst...)
				for p := range planes {
					for k := range rows {
						copy(want[p*dp+k*ds:p*dp+k*ds+width], src[p*sp+k*ss:])
					}
				}
				CopyPlanes(dst, ds, dp, src, ss, sp, width, rows, planes)
				for i := range dst {
					if dst[i] != want[i] {
						t.Fatalf("width %d rows %d planes %d: dst[%d] = %g, want %g", width, rows, planes, i, dst[i], want[i])
					}
				}
			}
		}
	}
}
