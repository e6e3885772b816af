package sparse

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/testutil"
)

// The conformance suite: every format × kernel against a float64 dense
// reference, on random sparsity patterns (0, 50, 90, 98 and 100% zeros,
// whole zero rows and columns), edge shapes (1×1, odd sizes, sizes the
// blocks do not divide), batches 1, 3, 5, 64 and 70, with and without
// bias, residual and clamp, with the assembly kernels and without.
//
// Tolerance: each output may differ from the float64 sum by
// 1e-5·Σ_i |W[o][i]·X[b][i]| + 1e-6 (float32 rounding of sums ordered
// differently: partial sums, gathers, FMAs), after the epilogue.

var (
	sparsities = []float64{0, 0.5, 0.9, 0.98, 1}
	shapes     = [][2]int{{1, 1}, {1, 9}, {3, 5}, {8, 8}, {17, 33}, {5, 30}, {4, 60}, {9, 130}, {64, 100}}
	batches    = []int{1, 3, 5, 64, 70}
	formats    = []Format{FormatCSR, FormatBSR1x8, FormatBSR4x4, FormatBSR1x4, FormatNM2x4, FormatNM4x8}
)

// epilogues returns the epilogues the suite runs for rows outputs and an
// output of outLen values.
func epilogues(r *rand.Rand, rows, outLen int) map[string]*gemm.Epilogue {
	bias := testutil.UniformFloats(r, rows)
	res := testutil.UniformFloats(r, outLen)
	inf := float32(math.Inf(1))
	return map[string]*gemm.Epilogue{
		"none":           nil,
		"bias":           {Bias: bias, Lo: -inf, Hi: inf},
		"bias+relu":      {Bias: bias, Lo: 0, Hi: inf},
		"relu6":          {Lo: 0, Hi: 6},
		"bias+res+clip":  {Bias: bias, Res: res, Lo: -0.5, Hi: 0.5},
		"res (no clamp)": {Res: res, Lo: -inf, Hi: inf},
	}
}

// pattern makes a rows×cols weight with about the given fraction of zeros;
// variant 1 also zeroes whole rows and columns, variant 2 makes it N:M
// (n of every m inputs at most) before the random zeros.
func pattern(r *rand.Rand, rows, cols int, zeros float64, variant, n, m int) []float32 {
	w := testutil.NormalFloats(r, rows*cols)
	for i := range w {
		if r.Float64() < zeros {
			w[i] = 0
		}
	}
	switch variant {
	case 1:
		for o := 0; o < rows; o += 3 {
			clear(w[o*cols : (o+1)*cols])
		}
		for i := 1; i < cols; i += 4 {
			for o := range rows {
				w[o*cols+i] = 0
			}
		}
	case 2:
		for o := range rows {
			for g := 0; g < cols; g += m {
				width := min(m, cols-g)
				keep := r.Perm(width)[:min(n, width)]
				row := w[o*cols+g:][:width]
				for p := range row {
					kept := false
					for _, k := range keep {
						kept = kept || k == p
					}
					if !kept {
						row[p] = 0
					}
				}
			}
		}
	}
	return w
}

// refMatMul is epi(x·Wᵀ) in float64, with the bound of each output's
// rounding error.
func refMatMul(w []float32, rows, cols int, x []float32, batch int, epi *gemm.Epilogue) (want, tol []float64) {
	want, tol = make([]float64, batch*rows), make([]float64, batch*rows)
	for b := range batch {
		for o := range rows {
			var s, a float64
			for i := range cols {
				p := float64(w[o*cols+i]) * float64(x[b*cols+i])
				s += p
				a += math.Abs(p)
			}
			want[b*rows+o], tol[b*rows+o] = applyRef(epi, s, o, b*rows+o), 1e-5*a+1e-6
		}
	}
	return want, tol
}

func applyRef(epi *gemm.Epilogue, s float64, o, at int) float64 {
	if epi == nil {
		return s
	}
	if epi.Bias != nil {
		s += float64(epi.Bias[o])
	}
	if epi.Res != nil {
		s += float64(epi.Res[at])
	}
	return math.Min(math.Max(s, float64(epi.Lo)), float64(epi.Hi))
}

func checkOutputs(t *testing.T, what string, got []float32, want, tol []float64) {
	t.Helper()
	for i, g := range got {
		if math.Abs(float64(g)-want[i]) > tol[i] || math.IsNaN(float64(g)) {
			t.Fatalf("%s: output %d = %v, want %v (tolerance %.3g)", what, i, g, want[i], tol[i])
		}
	}
}

// withKernels runs f with the assembly kernels (where the CPU has them)
// and with the Go ones.
func withKernels(t *testing.T, f func(t *testing.T)) {
	names := map[bool]string{true: "asm", false: "go"}
	for _, asm := range []bool{true, false} {
		if asm && !asmAvailable {
			continue
		}
		t.Run(names[asm], func(t *testing.T) {
			saved := useAsm
			useAsm = asm
			defer func() { useAsm = saved }()
			f(t)
		})
	}
}

func TestMatMulConformance(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := testutil.NewRand(15, 1)
		for _, sh := range shapes {
			rows, cols := sh[0], sh[1]
			for _, f := range formats {
				for _, zeros := range sparsities {
					for variant := range 3 {
						if (f.Kind == NM) != (variant == 2) {
							continue
						}
						w := pattern(r, rows, cols, zeros, variant, f.R, f.C)
						m, err := f.Build(w, rows, cols)
						if err != nil {
							t.Fatalf("%v %d×%d: %v", f, rows, cols, err)
						}
						checkRoundTrip(t, m, w)
						for _, batch := range batches {
							x := testutil.NormalFloats(r, batch*cols)
							for name, epi := range epilogues(r, rows, batch*rows) {
								for _, threads := range []int{1, 2} {
									what := fmt.Sprintf("%v %d×%d, %.0f%% zeros (variant %d), batch %d, epilogue %s, %d threads", f, rows, cols, 100*zeros, variant, batch, name, threads)
									y := make([]float32, batch*rows)
									for i := range y {
										y[i] = float32(math.NaN()) // must be overwritten
									}
									if err := MatMul(m, x, batch, y, epi, threads); err != nil {
										t.Fatalf("%s: %v", what, err)
									}
									want, tol := refMatMul(w, rows, cols, x, batch, epi)
									checkOutputs(t, what, y, want, tol)
								}
							}
						}
					}
				}
			}
		}
	})
}

func checkRoundTrip(t *testing.T, m Matrix, w []float32) {
	t.Helper()
	d := m.Dense()
	nnz := 0
	for i, v := range w {
		if v != 0 {
			nnz++
		}
		if d[i] != v {
			t.Fatalf("%v: Dense()[%d] = %v, built from %v", m.Format(), i, d[i], v)
		}
	}
	if m.NonZeros() != nnz {
		t.Fatalf("%v: NonZeros() = %d, the weight has %d", m.Format(), m.NonZeros(), nnz)
	}
	if m.Stored() < nnz {
		t.Fatalf("%v: Stored() = %d < %d nonzeros", m.Format(), m.Stored(), nnz)
	}
}

func TestConv1x1Conformance(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := testutil.NewRand(15, 2)
		for _, sh := range [][3]int{{1, 1, 1}, {8, 3, 7}, {16, 24, 49}, {5, 17, 200}} {
			out, in, hw := sh[0], sh[1], sh[2]
			for _, f := range formats {
				for _, zeros := range []float64{0, 0.9, 1} {
					variant := 0
					if f.Kind == NM {
						variant = 2
					}
					w := pattern(r, out, in, zeros, variant, f.R, f.C)
					m, err := f.Build(w, out, in)
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range []int{1, 2} {
						x := testutil.NormalFloats(r, n*in*hw)
						for name, epi := range epilogues(r, out, n*out*hw) {
							y := make([]float32, n*out*hw)
							if err := Conv1x1(m, x, n, hw, y, epi, 2); err != nil {
								t.Fatal(err)
							}
							want, tol := refConv(w, ConvShape{C: in, H: 1, W: hw, O: out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}, x, n, epi)
							checkOutputs(t, fmt.Sprintf("%v 1×1 conv %d→%d over %d pixels, %.0f%% zeros, %d images, epilogue %s", f, in, out, hw, 100*zeros, n, name), y, want, tol)
						}
					}
				}
			}
		}
	})
}

// refConv is epi(conv(x)) in float64 with each output's error bound.
func refConv(w []float32, s ConvShape, x []float32, n int, epi *gemm.Epilogue) (want, tol []float64) {
	oh, ow := s.Out()
	out := s.O * oh * ow
	want, tol = make([]float64, n*out), make([]float64, n*out)
	for img := range n {
		for o := range s.O {
			for oy := range oh {
				for ox := range ow {
					var sum, abs float64
					for c := range s.C {
						for ky := range s.KH {
							for kx := range s.KW {
								iy := oy*s.StrideH + ky*s.DilationH - s.PadTop
								ix := ox*s.StrideW + kx*s.DilationW - s.PadLeft
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								p := float64(w[((o*s.C+c)*s.KH+ky)*s.KW+kx]) * float64(x[((img*s.C+c)*s.H+iy)*s.W+ix])
								sum += p
								abs += math.Abs(p)
							}
						}
					}
					at := img*out + (o*oh+oy)*ow + ox
					want[at], tol[at] = applyRef(epi, sum, o, at), 1e-5*abs+1e-6
				}
			}
		}
	}
	return want, tol
}

func TestConvConformance(t *testing.T) {
	r := testutil.NewRand(15, 3)
	cases := []ConvShape{
		{C: 1, H: 1, W: 1, O: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
		{C: 3, H: 9, W: 11, O: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{C: 4, H: 10, W: 13, O: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{C: 2, H: 12, W: 12, O: 3, KH: 3, KW: 2, StrideH: 1, StrideW: 2, DilationH: 2, DilationW: 3, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 3},
		{C: 8, H: 7, W: 7, O: 16, KH: 7, KW: 7, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3},
		{C: 6, H: 8, W: 9, O: 4, KH: 1, KW: 1, StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1},
		{C: 3, H: 5, W: 5, O: 2, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
	}
	for _, s := range cases {
		for _, zeros := range sparsities {
			w := pattern(r, s.O, s.C*s.KH*s.KW, zeros, 0, 0, 0)
			cv, err := NewConv(w, s)
			if err != nil {
				t.Fatal(err)
			}
			oh, ow := s.Out()
			for _, n := range []int{1, 3} {
				x := testutil.NormalFloats(r, n*s.C*s.H*s.W)
				for name, epi := range epilogues(r, s.O, n*s.O*oh*ow) {
					for _, threads := range []int{1, 2} {
						y := make([]float32, n*s.O*oh*ow)
						if err := cv.Forward(x, n, y, epi, threads); err != nil {
							t.Fatal(err)
						}
						want, tol := refConv(w, s, x, n, epi)
						checkOutputs(t, fmt.Sprintf("conv %+v, %.0f%% zeros, %d images, epilogue %s, %d threads", s, 100*zeros, n, name, threads), y, want, tol)
					}
				}
			}
		}
	}
}

// TestMatMulWideInputs covers what the small shapes do not reach: panels
// cut into input blocks (inputBlock) and 32-bit CSR columns (more than
// 2¹⁶ inputs).
func TestMatMulWideInputs(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := testutil.NewRand(15, 4)
		for _, sh := range [][2]int{{9, 2000}, {3, 70000}} {
			rows, cols := sh[0], sh[1]
			for _, f := range formats {
				variant := 0
				if f.Kind == NM {
					variant = 2
				}
				w := pattern(r, rows, cols, 0.9, variant, f.R, f.C)
				m, err := f.Build(w, rows, cols)
				if err != nil {
					t.Fatal(err)
				}
				checkRoundTrip(t, m, w)
				for _, batch := range []int{1, 8, 70} {
					x := testutil.NormalFloats(r, batch*cols)
					epi := epilogues(r, rows, batch*rows)["bias+res+clip"]
					y := make([]float32, batch*rows)
					if err := MatMul(m, x, batch, y, epi, 2); err != nil {
						t.Fatal(err)
					}
					want, tol := refMatMul(w, rows, cols, x, batch, epi)
					checkOutputs(t, fmt.Sprintf("%v %d×%d batch %d", f, rows, cols, batch), y, want, tol)
				}
			}
		}
	})
}

func TestTranspose(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := testutil.NewRand(15, 5)
		for _, sh := range [][2]int{{1, 1}, {1, 9}, {8, 8}, {9, 8}, {8, 17}, {23, 41}, {64, 100}} {
			rows, cols := sh[0], sh[1]
			src := testutil.NormalFloats(r, rows*cols)
			dst := make([]float32, rows*cols)
			transpose(dst, src, rows, cols)
			for i := range rows {
				for j := range cols {
					if dst[j*rows+i] != src[i*cols+j] {
						t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", rows, cols, j, i, dst[j*rows+i], src[i*cols+j])
					}
				}
			}
		}
	})
}

// TestMatMulAllocations: the batch-1 product, the one that runs every
// few microseconds in inference, allocates at most the closure of its
// parallel split (no per-row allocations).
func TestMatMulAllocations(t *testing.T) {
	w := pattern(testutil.NewRand(15, 6), 300, 784, 0.9, 0, 0, 0)
	m, err := FormatCSR.Build(w, 300, 784)
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]float32, 784), make([]float32, 300)
	if n := testing.AllocsPerRun(20, func() { _ = MatMul(m, x, 1, y, nil, 1) }); n > 1 {
		t.Errorf("MatMul at batch 1 allocates %v times per call", n)
	}
}

// TestThreadsBitIdentical: the package promises the same bits whatever
// the thread count (each output is summed by one worker in one order).
func TestThreadsBitIdentical(t *testing.T) {
	r := testutil.NewRand(15, 8)
	w := pattern(r, 257, 3000, 0.9, 0, 0, 0)
	for _, f := range []Format{FormatCSR, FormatBSR1x8, FormatBSR4x4} {
		m, err := f.Build(w, 257, 3000)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 64} {
			x := testutil.NormalFloats(r, batch*3000)
			var first []float32
			for _, threads := range []int{1, 2, 3, 7} {
				y := make([]float32, batch*257)
				if err := MatMul(m, x, batch, y, nil, threads); err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = y
					continue
				}
				for i := range y {
					if math.Float32bits(y[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%v batch %d: %d threads give y[%d] = %v, 1 thread %v", f, batch, threads, i, y[i], first[i])
					}
				}
			}
		}
	}
}
