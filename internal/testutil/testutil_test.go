package testutil

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/tensor"
)

// TestStreams pins each Dist to the expression the tests used before they
// shared this package, so that recorded outputs stay valid.
func TestStreams(t *testing.T) {
	for _, c := range []struct {
		name string
		d    Dist
		ref  func(r *rand.Rand) float32
	}{
		{"Normal", Normal, func(r *rand.Rand) float32 { return float32(r.NormFloat64()) }},
		{"Uniform", Uniform, func(r *rand.Rand) float32 { return r.Float32()*2 - 1 }},
		{"Uniform64", Uniform64, func(r *rand.Rand) float32 { return float32(r.Float64()*2 - 1) }},
	} {
		got := Floats(NewRand(3, 4), c.d, 1000)
		ref := rand.New(rand.NewPCG(3, 4))
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for i, v := range got {
			if w := c.ref(ref); v != w {
				t.Fatalf("%s: value %d is %v, want %v", c.name, i, v, w)
			}
			lo, hi = min(lo, v), max(hi, v)
		}
		if c.name != "Normal" && (lo < -1 || hi > 1 || hi-lo < 1.9) {
			t.Errorf("%s: values span [%v, %v], want about [-1, 1)", c.name, lo, hi)
		}
	}
	// Floats and Tensor consume the source the same way, in row-major order.
	a := Floats(NewRand(1, 2), Normal, 6)
	b := NormalTensor(NewRand(1, 2), 2, 3)
	if !tensor.SameShape(b.Shape, []int{2, 3}) || Mismatch(b.Data, a, 0, 0) != "" {
		t.Errorf("NormalTensor = %v %v, want [2 3] %v", b.Shape, b.Data, a)
	}
	if u := UniformTensor(NewRand(1, 2), 6); Mismatch(u.Data, UniformFloats(NewRand(1, 2), 6), 0, 0) != "" {
		t.Errorf("UniformTensor differs from UniformFloats")
	}
	if Mismatch(NormalFloats(NewRand(1, 2), 6), a, 0, 0) != "" {
		t.Errorf("NormalFloats differs from Floats(Normal)")
	}
	if NewRand(5, 6).Uint64() == NewRand(6, 5).Uint64() {
		t.Errorf("NewRand ignores the order of its seeds")
	}
}

func TestNear(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		got, want, atol, rtol float64
		near                  bool
	}{
		{1, 1, 0, 0, true},
		{1.1, 1, 0.1001, 0, true},
		{1.1, 1, 0.09, 0, false},
		{110, 100, 0, 0.1, true},
		{111, 100, 0, 0.1, false},
		{-111, -100, 1, 0.1, true},
		{nan, nan, 0, 0, true},
		{nan, 1, 1e9, 1e9, false},
		{1, nan, 1e9, 1e9, false},
		{inf, inf, 0, 0, true},
		{-inf, inf, 1e9, 1e9, false},
		{1e30, inf, 1e9, 1e9, false},
		{inf, 1e30, 1e9, 1e9, false},
	} {
		if got := Near(c.got, c.want, c.atol, c.rtol); got != c.near {
			t.Errorf("Near(%v, %v, %v, %v) = %v, want %v", c.got, c.want, c.atol, c.rtol, got, c.near)
		}
	}
}

func TestCompare(t *testing.T) {
	got := []float32{1, 2.5, 3, float32(math.NaN()), 0.5}
	want := []float64{1, 2, 3.1, math.NaN(), 0}
	d := Compare(got, want, 0.2, 0)
	wantD := Diff{N: 5, MaxAbs: 0.5, MaxAbsAt: 1, MaxRel: 0.25, MaxRelAt: 1, Outside: 2, First: 1}
	if math.Abs(d.MaxAbs-wantD.MaxAbs) > 1e-6 || math.Abs(d.MaxRel-wantD.MaxRel) > 1e-6 {
		t.Errorf("Compare = %+v, want %+v", d, wantD)
	}
	d.MaxAbs, d.MaxRel = wantD.MaxAbs, wantD.MaxRel
	if d != wantD {
		t.Errorf("Compare = %+v, want %+v", d, wantD)
	}

	// One NaN is an infinite difference.
	d = Compare([]float32{0, float32(math.NaN())}, []float32{0, 1}, 1, 1)
	if d.Outside != 1 || d.First != 1 || !math.IsInf(d.MaxAbs, 1) || d.MaxAbsAt != 1 {
		t.Errorf("Compare with a NaN = %+v", d)
	}
	if d := Compare([]float32{}, []float32{}, 0, 0); d.N != 0 || d.MaxAbsAt != -1 || d.First != -1 {
		t.Errorf("Compare of empty slices = %+v", d)
	}
}

func TestMismatch(t *testing.T) {
	if msg := Mismatch([]float32{1, 2}, []float32{1, 2.00001}, 1e-4, 0); msg != "" {
		t.Errorf("Mismatch within tolerance = %q", msg)
	}
	if msg := Mismatch([]float32{1}, []float32{1, 2}, 0, 0); msg != "1 elements, want 2" {
		t.Errorf("Mismatch of lengths = %q", msg)
	}
	msg := Mismatch([]float32{1, 3, 2}, []float64{1, 2, 2.5}, 0.1, 0)
	for _, part := range []string{"element 1 is 3, want 2", "2 of 3 elements", "max |diff| 1 at 1", "max relative diff 0.5 at 1"} {
		if !strings.Contains(msg, part) {
			t.Errorf("Mismatch = %q, want it to contain %q", msg, part)
		}
	}

	a := &tensor.Tensor{Shape: []int{2}, Data: []float32{1, 2}}
	b := &tensor.Tensor{Shape: []int{1, 2}, Data: []float32{1, 2}}
	if msg := MismatchTensors(a, b, 0, 0); msg != "shape [2], want [1 2]" {
		t.Errorf("MismatchTensors of shapes = %q", msg)
	}
	if msg := MismatchTensors(nil, a, 0, 0); msg != "tensor nil, want [2]" {
		t.Errorf("MismatchTensors(nil, a) = %q", msg)
	}
	if msg := MismatchTensors(a, a.Clone(), 0, 0); msg != "" {
		t.Errorf("MismatchTensors of equal tensors = %q", msg)
	}
}

// recorder is a testing.TB that keeps what the helpers report. Its Fatal
// methods return, so a helper under test goes on after them.
type recorder struct {
	testing.TB
	errors, logs []string
	fatal        bool
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestX" }
func (r *recorder) Errorf(f string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(f, args...))
}
func (r *recorder) Logf(f string, args ...any) { r.logs = append(r.logs, fmt.Sprintf(f, args...)) }
func (r *recorder) Fatal(args ...any) {
	r.fatal = true
	r.errors = append(r.errors, fmt.Sprint(args...))
}
func (r *recorder) Fatalf(f string, args ...any) {
	r.fatal = true
	r.errors = append(r.errors, fmt.Sprintf(f, args...))
}

func TestCheckClose(t *testing.T) {
	r := &recorder{TB: t}
	if !CheckClose(r, "ok", []float32{1}, []float64{1}, 0, 0) || len(r.errors) != 0 {
		t.Errorf("CheckClose of equal values failed: %v", r.errors)
	}
	if CheckClose(r, "conv", []float32{1}, []float64{2}, 0, 0) || len(r.errors) != 1 || !strings.HasPrefix(r.errors[0], "conv: element 0 is 1, want 2") {
		t.Errorf("CheckClose of different values reported %v", r.errors)
	}
	x := &tensor.Tensor{Shape: []int{1}, Data: []float32{1}}
	if CheckTensorsClose(r, "y", x, &tensor.Tensor{Shape: []int{1, 1}, Data: []float32{1}}, 0, 0) || len(r.errors) != 2 || r.errors[1] != "y: shape [1], want [1 1]" {
		t.Errorf("CheckTensorsClose of different shapes reported %v", r.errors)
	}
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "x.golden")
	r := &recorder{TB: t}
	Golden(r, path, []byte("a\nb\n"), true)
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\nb\n" || len(r.logs) != 1 {
		t.Fatalf("update wrote %q, %v; logged %v", b, err, r.logs)
	}
	Golden(r, path, []byte("a\nb\n"), false)
	if len(r.errors) != 0 {
		t.Errorf("same output reported %v", r.errors)
	}
	for _, c := range []struct{ got, report string }{
		{"a\nc\n", "at line 2:\n got: \"c\\n\"\nwant: \"b\\n\""},
		{"a\nb\nextra", "at line 3:\n got: \"extra\"\nwant: \"\""},
		{"a\n", "at line 2:\n got: \"\"\nwant: \"b\\n\""},
		{"a\nb", "at line 2:\n got: \"b\"\nwant: \"b\\n\""},
	} {
		r := &recorder{TB: t}
		Golden(r, path, []byte(c.got), false)
		if len(r.errors) != 1 || !strings.Contains(r.errors[0], c.report) || !strings.Contains(r.errors[0], "-update") {
			t.Errorf("output %q reported %q, want it to contain %q", c.got, r.errors, c.report)
		}
	}
	r = &recorder{TB: t}
	Golden(r, filepath.Join(t.TempDir(), "missing.golden"), nil, false)
	if !r.fatal || !strings.Contains(r.errors[0], "missing") {
		t.Errorf("missing golden file reported %v", r.errors)
	}
}
