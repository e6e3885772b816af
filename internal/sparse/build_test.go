package sparse

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
)

// TestBuildKernels runs every kernel Build makes, dense included, through
// the same references as the conformance suite: the dense kernel is what
// Choose times the sparse ones against, so it must compute the same node.
func TestBuildKernels(t *testing.T) {
	r := testutil.NewRand(15, 11)
	conv := ConvShape{C: 5, H: 9, W: 7, O: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	point := ConvShape{C: 12, H: 5, W: 6, O: 8, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	for _, shape := range []Shape{LinearShape(13, 40, 1), LinearShape(13, 40, 9), ConvNodeShape(conv, 2), ConvNodeShape(point, 2)} {
		for _, f := range append([]Format{FormatDense, FormatDirect}, formats...) {
			variant := 0
			if f.Kind == NM {
				variant = 2
			}
			w := pattern(r, shape.Rows, shape.Cols, 0.7, variant, f.R, f.C)
			k, err := Build(shape, f, w)
			if f.Kind == Direct && (shape.Conv == nil || shape.pointwise()) {
				if err == nil || !strings.Contains(err.Error(), "direct format is for convolutions") {
					t.Errorf("%v: direct format error %v", shape, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%v %v: %v", shape, f, err)
			}
			in, out := shape.InOut()
			x := testutil.NormalFloats(r, in)
			for name, epi := range epilogues(r, shape.Rows, out) {
				y := make([]float32, out)
				if err := k.Run(x, y, epi, 2); err != nil {
					t.Fatal(err)
				}
				var want, tol []float64
				if shape.Conv == nil {
					want, tol = refMatMul(w, shape.Rows, shape.Cols, x, shape.Batch, epi)
				} else {
					want, tol = refConv(w, *shape.Conv, x, shape.Batch, epi)
				}
				checkOutputs(t, fmt.Sprintf("%v %v epilogue %s", shape, f, name), y, want, tol)
			}
		}
	}
}

// TestBadInput: wrong sizes and impossible formats are errors that name
// the problem, never panics.
func TestBadInput(t *testing.T) {
	w := make([]float32, 12)
	w[0] = 1
	m, err := FormatCSR.Build(w, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	cases := map[string]struct {
		err  error
		want string
	}{}
	add := func(name string, err error, want string) {
		cases[name] = struct {
			err  error
			want string
		}{err, want}
	}
	_, err = FormatCSR.Build(w, 3, 5)
	add("short weight", err, "weight has 12 values")
	_, err = FormatCSR.Build(w, -1, 4)
	add("negative shape", err, "negative weight shape")
	_, err = Format{Kind: BSR, R: 0, C: 8}.Build(w, 3, 4)
	add("empty block", err, "BSR block 0×8")
	_, err = Format{Kind: NM, R: 4, C: 4}.Build(w, 3, 4)
	add("N = M", err, "N:M format 4:4")
	full := []float32{1, 2, 3, 0, 1, 0, 0, 0}
	_, err = FormatNM2x4.Build(full, 2, 4)
	add("not 2:4", err, "row 0, inputs 0..3: more than 2 nonzeros")
	add("short input", MatMul(m, make([]float32, 7), 2, make([]float32, 6), nil, 1), "input has 7 values")
	add("short output", MatMul(m, make([]float32, 8), 2, make([]float32, 5), nil, 1), "output has 5 values")
	add("negative batch", MatMul(m, nil, -1, nil, nil, 1), "negative batch")
	add("short conv input", Conv1x1(m, make([]float32, 10), 1, 3, make([]float32, 9), nil, 1), "conv input has 10 values")
	_, err = ParseFormat("coo")
	add("unknown format", err, `unknown format "coo"`)
	_, err = ParseFormat("nm2:2")
	add("bad N:M name", err, "N:M format 2:2")
	_, err = NewConv(make([]float32, 9), ConvShape{C: 1, H: 2, W: 2, O: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1})
	add("kernel larger than input", err, "larger than the padded 2×2 input")
	_, err = NewConv(make([]float32, 9), ConvShape{C: 1, H: 4, W: 4, O: 1, KH: 3, KW: 3, StrideH: 0, StrideW: 1, DilationH: 1, DilationW: 1})
	add("zero stride", err, "strides 0×1")
	_, err = Build(LinearShape(3, 4, 0), FormatCSR, w)
	add("batch 0 shape", err, "batch 0")
	for name, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, c.err, c.want)
		}
	}
	// NaN weights are nonzero (the zero test has no tolerance) and reach
	// the output as the dense product would.
	w[1] = nan
	m, err = FormatCSR.Build(w, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 3)
	if err := MatMul(m, []float32{1, 1, 1, 1}, 1, y, nil, 1); err != nil || !math.IsNaN(float64(y[0])) {
		t.Errorf("NaN weight: y = %v, %v", y, err)
	}
}

func TestFormatNames(t *testing.T) {
	for _, f := range append([]Format{FormatDense, FormatDirect}, formats...) {
		g, err := ParseFormat(f.String())
		if err != nil || g != f {
			t.Errorf("%v: parsed back as %v, %v", f, g, err)
		}
		b, err := f.MarshalText()
		if err != nil || string(b) != f.String() {
			t.Errorf("%v: text %q, %v", f, b, err)
		}
	}
}

// FuzzBuild builds every format from arbitrary dense input: it must
// either refuse (N:M on a weight that is not N:M) or round-trip exactly,
// and its product must match the dense one.
func FuzzBuild(f *testing.F) {
	f.Add(uint8(3), []byte{0, 1, 2, 0, 0, 0, 5, 0, 0, 0, 0, 9})
	f.Add(uint8(1), []byte{})
	f.Add(uint8(7), []byte{255, 0, 0, 128, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, c uint8, data []byte) {
		cols := int(c%40) + 1
		rows := len(data) / cols
		if rows > 64 {
			rows = 64
		}
		w := make([]float32, rows*cols)
		for i := range w {
			// Mostly zeros, some values of both signs, a negative zero.
			switch b := data[i]; {
			case b < 160:
			case b == 160:
				w[i] = float32(math.Copysign(0, -1))
			default:
				w[i] = float32(int(b)-208) / 16
			}
		}
		x := make([]float32, 2*cols)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		for _, fm := range formats {
			m, err := fm.Build(w, rows, cols)
			if err != nil {
				if fm.Kind != NM || !strings.Contains(err.Error(), "nonzeros in a group") {
					t.Fatalf("%v %d×%d: %v", fm, rows, cols, err)
				}
				continue
			}
			checkRoundTrip(t, m, w)
			for _, batch := range []int{1, 2} {
				y := make([]float32, batch*rows)
				if err := MatMul(m, x, batch, y, nil, 1); err != nil {
					t.Fatal(err)
				}
				want, tol := refMatMul(w, rows, cols, x, batch, nil)
				checkOutputs(t, fmt.Sprintf("%v %d×%d batch %d", fm, rows, cols, batch), y, want, tol)
			}
		}
	})
}
