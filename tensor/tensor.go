// Package tensor provides the dense float32 N-d arrays that every other part
// of shears computes on.
//
// A Tensor is a shape plus a contiguous row-major data slice (NCHW for
// images: batch, channel, height, width). There are no strides: views that
// kernels need (a sub-matrix with a leading dimension) are expressed by the
// kernels themselves, which keeps this type small and boring.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a dense, row-major float32 array.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape. It panics on a negative
// dimension, which is always a programming error; use CheckShape first for
// shapes that come from user input.
func New(shape ...int) *Tensor {
	n, err := NumElems(shape)
	if err != nil {
		panic(err)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (not copied) in a tensor of the given shape.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	n, err := NumElems(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("tensor: shape %v needs %d elements, have %d", shape, n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// MaxElems bounds the number of elements of any tensor shears will allocate
// (4 GiB of float32). Shapes from files are checked against it so a hostile
// file cannot make shears allocate absurd amounts of memory.
const MaxElems = 1 << 30

// NumElems returns the number of elements of shape, or an error for a
// negative dimension or an absurdly large product.
func NumElems(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
		if d != 0 && n > MaxElems/d {
			return 0, fmt.Errorf("tensor: shape %v has more than %d elements", shape, MaxElems)
		}
		n *= d
	}
	return n, nil
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with a new shape. One dimension
// may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s := append([]int(nil), shape...)
	infer := -1
	n := 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("tensor: bad reshape %v of %v", shape, t.Shape)
		default:
			n *= d
		}
	}
	if infer >= 0 {
		if n == 0 || len(t.Data)%n != 0 {
			return nil, fmt.Errorf("tensor: cannot reshape %v to %v", t.Shape, shape)
		}
		s[infer] = len(t.Data) / n
		n *= s[infer]
	}
	if n != len(t.Data) {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.Shape, len(t.Data), shape)
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}

// CopyFrom copies src's data into t; shapes must have equal element counts.
func (t *Tensor) CopyFrom(src *Tensor) error {
	if len(src.Data) != len(t.Data) {
		return fmt.Errorf("tensor: copy %v into %v", src.Shape, t.Shape)
	}
	copy(t.Data, src.Data)
	return nil
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// HasNaN reports whether any element is NaN or infinite.
func (t *Tensor) HasNaN() bool {
	for _, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return true
		}
	}
	return false
}

// ShapeString formats a shape as 1×28×28.
func ShapeString(shape []int) string {
	if len(shape) == 0 {
		return "scalar"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			parts[i] = "N"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return strings.Join(parts, "×")
}

func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor(%s)", ShapeString(t.Shape))
}

// MaxAbsDiff returns max |a-b| over elements and an error when shapes differ.
func MaxAbsDiff(a, b *Tensor) (float64, error) {
	if !SameShape(a.Shape, b.Shape) {
		return 0, fmt.Errorf("tensor: shapes differ: %v vs %v", a.Shape, b.Shape)
	}
	m := 0.0
	for i := range a.Data {
		d := math.Abs(float64(a.Data[i]) - float64(b.Data[i]))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m, nil
}

// RelDiff is how far got is from want: max |got − want| / max |want|, the
// comparison the tests and benchmarks make against references. It is +Inf
// when the shapes differ or one holds a NaN where the other does not, and
// max |got − want| when want is all zeros.
func RelDiff(got, want *Tensor) float64 {
	if !SameShape(got.Shape, want.Shape) {
		return math.Inf(1)
	}
	var diff, scale float64
	for i, w := range want.Data {
		g := float64(got.Data[i])
		if math.IsNaN(g) != math.IsNaN(float64(w)) {
			return math.Inf(1)
		}
		diff = max(diff, math.Abs(g-float64(w)))
		scale = max(scale, math.Abs(float64(w)))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}
