package testutil

import (
	"fmt"
	"math"
	"testing"

	"github.com/shearsml/shears/tensor"
)

// Float is an element type Compare accepts: results are float32, and
// references are often computed in float64.
type Float interface{ ~float32 | ~float64 }

// Near reports whether got is within atol + rtol·|want| of want. NaN is near
// only NaN and an infinity only itself, so that a tolerance never hides
// either.
func Near(got, want, atol, rtol float64) bool {
	if got == want || math.IsNaN(got) && math.IsNaN(want) {
		return true
	}
	if math.IsInf(got, 0) || math.IsInf(want, 0) {
		return false
	}
	// Written so that a NaN on one side fails.
	return math.Abs(got-want) <= atol+rtol*math.Abs(want)
}

// Diff is how far got is from want, element by element. An element where
// exactly one side is NaN, or the two differ by an infinity, counts as an
// infinite difference.
type Diff struct {
	N        int     // elements compared
	MaxAbs   float64 // largest |got − want|
	MaxAbsAt int     // its index, -1 when there is none
	MaxRel   float64 // largest |got − want| / |want|, over want ≠ 0
	MaxRelAt int     // its index, -1 when there is none
	Outside  int     // elements that are not Near want under the tolerance
	First    int     // index of the first of them, -1 when there is none
}

// Compare measures got against want, which must have the same length,
// under the tolerance of Near.
func Compare[G, W Float](got []G, want []W, atol, rtol float64) Diff {
	d := Diff{N: len(want), MaxAbsAt: -1, MaxRelAt: -1, First: -1}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !Near(g, w, atol, rtol) {
			if d.Outside == 0 {
				d.First = i
			}
			d.Outside++
		}
		abs := 0.0
		if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			abs = math.Abs(g - w)
			if math.IsNaN(abs) {
				abs = math.Inf(1)
			}
		}
		if abs > d.MaxAbs || d.MaxAbsAt < 0 {
			d.MaxAbs, d.MaxAbsAt = abs, i
		}
		if w != 0 && !math.IsNaN(w) {
			if rel := abs / math.Abs(w); rel > d.MaxRel || d.MaxRelAt < 0 {
				d.MaxRel, d.MaxRelAt = rel, i
			}
		}
	}
	return d
}

// Mismatch returns "" when got and want have the same length and every
// element is Near, and otherwise one line saying what differs: the first
// element outside the tolerance, how many are, and the largest absolute
// and relative differences with where they are.
func Mismatch[G, W Float](got []G, want []W, atol, rtol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d elements, want %d", len(got), len(want))
	}
	d := Compare(got, want, atol, rtol)
	if d.Outside == 0 {
		return ""
	}
	msg := fmt.Sprintf("element %d is %v, want %v; %d of %d elements outside %g + %g·|want|; max |diff| %.3g at %d",
		d.First, got[d.First], want[d.First], d.Outside, d.N, atol, rtol, d.MaxAbs, d.MaxAbsAt)
	if d.MaxRelAt >= 0 {
		msg += fmt.Sprintf(", max relative diff %.3g at %d", d.MaxRel, d.MaxRelAt)
	}
	return msg
}

// MismatchTensors is Mismatch for tensors, which must also have the same
// shape.
func MismatchTensors(got, want *tensor.Tensor, atol, rtol float64) string {
	switch {
	case got == nil || want == nil:
		if got == want {
			return ""
		}
		return fmt.Sprintf("tensor %v, want %v", shapeOf(got), shapeOf(want))
	case !tensor.SameShape(got.Shape, want.Shape):
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	return Mismatch(got.Data, want.Data, atol, rtol)
}

func shapeOf(t *tensor.Tensor) any {
	if t == nil {
		return "nil"
	}
	return t.Shape
}

// CheckClose reports through t.Errorf, prefixed by what, when got is not
// close to want (see Mismatch), and returns whether it was.
func CheckClose[G, W Float](t testing.TB, what string, got []G, want []W, atol, rtol float64) bool {
	t.Helper()
	if msg := Mismatch(got, want, atol, rtol); msg != "" {
		t.Errorf("%s: %s", what, msg)
		return false
	}
	return true
}

// CheckTensorsClose is CheckClose for tensors, which must also have the
// same shape.
func CheckTensorsClose(t testing.TB, what string, got, want *tensor.Tensor, atol, rtol float64) bool {
	t.Helper()
	if msg := MismatchTensors(got, want, atol, rtol); msg != "" {
		t.Errorf("%s: %s", what, msg)
		return false
	}
	return true
}
