package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
)

// Each comparison and logic op on two broadcasting operands, against
// outputs written out by hand; then the one-input predicates.
func TestLogicOps(t *testing.T) {
	a := opsT([]int{2, 3}, 1, -2, 0, 3, 0.5, -0)
	b := opsT([]int{3}, 1, 0, -1)
	for _, c := range []struct {
		op    string
		attrs graph.Attrs
		want  []float32
	}{
		{"Equal", nil, []float32{1, 0, 0, 0, 0, 0}},
		{"Greater", nil, []float32{0, 0, 1, 1, 1, 1}},
		{"GreaterOrEqual", nil, []float32{1, 0, 1, 1, 1, 1}},
		{"Less", nil, []float32{0, 1, 0, 0, 0, 0}},
		{"LessOrEqual", nil, []float32{1, 1, 0, 0, 0, 0}},
		{"And", nil, []float32{1, 0, 0, 1, 0, 0}},
		{"Or", nil, []float32{1, 1, 1, 1, 1, 1}},
		{"Xor", nil, []float32{0, 1, 1, 0, 1, 1}},
	} {
		got := opsRun(t, c.op, c.attrs, []gcIn{in(a), in(b)}, 1, 1, false)[0]
		opsExpect(t, c.op, got, []int{2, 3}, c.want, 0)
	}
	for _, c := range []struct {
		op    string
		attrs graph.Attrs
		x     []float32
		want  []float32
	}{
		{"Not", nil, []float32{0, 1, -2, 0.5}, []float32{1, 0, 0, 0}},
		{"IsNaN", nil, []float32{float32(math.NaN()), 1, float32(math.Inf(1)), 0}, []float32{1, 0, 0, 0}},
		{"IsInf", nil, []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 0}, []float32{0, 1, 1, 0}},
		{"IsInf", graph.Attrs{"detect_negative": 0}, []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 0}, []float32{0, 0, 1, 0}},
	} {
		got := opsRun(t, c.op, c.attrs, []gcIn{in(opsT([]int{4}, c.x...))}, 1, 1, false)[0]
		opsExpect(t, c.op, got, []int{4}, c.want, 0)
	}
}

// Mod: the integer remainder takes the divisor's sign (Python's %), fmod
// the dividend's (C's fmod), as ONNX defines them.
func TestMod(t *testing.T) {
	a := opsT([]int{6}, 7, -7, 7, -7, 5.5, -4)
	b := opsT([]int{6}, 3, 3, -3, -3, 2, 2)
	got := opsRun(t, "Mod", nil, []gcIn{in(a), in(b)}, 1, 1, false)[0]
	opsExpect(t, "Mod", got, []int{6}, []float32{1, 2, -2, -1, 1.5, 0}, 0)
	got = opsRun(t, "Mod", graph.Attrs{"fmod": 1}, []gcIn{in(a), in(b)}, 1, 1, false)[0]
	opsExpect(t, "Mod fmod", got, []int{6}, []float32{1, -1, 1, -1, 1.5, 0}, 0)
	if _, _, err := opsCompile("Mod", graph.Attrs{"fmod": 2}, []gcIn{in(a), in(b)}, 1); err == nil {
		t.Error("fmod 2: no error")
	}
	r := rand.New(rand.NewPCG(3, 4))
	// Away from the jumps of ⌊a/b⌋: a/b in (0.05, 0.6) or (−0.6, −0.05).
	x, y := opsT([]int{2, 3}), opsT([]int{3})
	for i := range x.Data {
		x.Data[i] = (0.1 + 0.8*r.Float32()) * float32(1-2*(i%2))
	}
	for i := range y.Data {
		y.Data[i] = 1.5 + 0.5*r.Float32()
	}
	checkGrad(t, "Mod", nil, []gcIn{in(x), param(y)}, 1, false)
}

func TestWhere(t *testing.T) {
	c := opsT([]int{2, 1}, 1, 0)
	x := opsT([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	y := opsT([]int{3}, -1, -2, -3)
	got := opsRun(t, "Where", nil, []gcIn{in(c), in(x), in(y)}, 1, 2, false)[0]
	opsExpect(t, "Where", got, []int{2, 3}, []float32{1, 2, 3, -1, -2, -3}, 0)
	if _, _, err := opsCompile("Where", nil, []gcIn{in(c), in(x), in(opsT([]int{2}))}, 1); err == nil {
		t.Error("Where of shapes 2×1, 2×3 and 2: no error")
	}
	r := rand.New(rand.NewPCG(5, 6))
	cond := opsT([]int{2, 3, 4})
	for i := range cond.Data {
		cond.Data[i] = float32(r.IntN(2))
	}
	checkGrad(t, "Where", nil, []gcIn{konst(cond), in(randT(r, 2, 3, 4)), param(randT(r, 3, 1))}, 1, false)
}
