package tensor

import (
	"math"
	"testing"
)

func TestReshapeInfer(t *testing.T) {
	x := New(2, 3, 4)
	y, err := x.Reshape(2, -1)
	if err != nil || !SameShape(y.Shape, []int{2, 12}) {
		t.Fatalf("got %v %v", y, err)
	}
	if _, err := x.Reshape(5, -1); err == nil {
		t.Fatal("reshape 24 elements to 5×? must fail")
	}
	if _, err := x.Reshape(3, 3); err == nil {
		t.Fatal("reshape 24 elements to 3×3 must fail")
	}
}

func TestNumElemsRejectsHostileShapes(t *testing.T) {
	if _, err := NumElems([]int{1 << 20, 1 << 20}); err == nil {
		t.Fatal("2^40 elements must be refused")
	}
	if _, err := NumElems([]int{3, -1}); err == nil {
		t.Fatal("negative dim must be refused")
	}
	if n, err := NumElems([]int{0, 1 << 40}); err != nil || n != 0 {
		t.Fatalf("zero-size shape: %d %v", n, err)
	}
}

func TestFromDataChecksLength(t *testing.T) {
	if _, err := FromData(make([]float32, 5), 2, 3); err == nil {
		t.Fatal("length mismatch must fail")
	}
}

func TestRelDiff(t *testing.T) {
	want := &Tensor{Shape: []int{3}, Data: []float32{1, -4, 2}}
	for _, c := range []struct {
		got  *Tensor
		diff float64
	}{
		{&Tensor{Shape: []int{3}, Data: []float32{1, -4, 2}}, 0},
		{&Tensor{Shape: []int{3}, Data: []float32{1, -3, 2}}, 0.25},
		{&Tensor{Shape: []int{1, 3}, Data: []float32{1, -4, 2}}, math.Inf(1)},
		{&Tensor{Shape: []int{3}, Data: []float32{float32(math.NaN()), -4, 2}}, math.Inf(1)},
	} {
		if d := RelDiff(c.got, want); d != c.diff {
			t.Errorf("RelDiff(%v, %v) = %g, want %g", c.got.Data, want.Data, d, c.diff)
		}
	}
	zero := &Tensor{Shape: []int{2}, Data: []float32{0, 0}}
	if d := RelDiff(&Tensor{Shape: []int{2}, Data: []float32{0, 0.5}}, zero); d != 0.5 {
		t.Errorf("against zeros: %g, want 0.5", d)
	}
}
