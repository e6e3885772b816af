package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// opsIota returns a tensor holding 0, 1, 2, … in the given shape.
func opsIota(shape ...int) *tensor.Tensor {
	t := opsT(shape)
	for i := range t.Data {
		t.Data[i] = float32(i)
	}
	return t
}

func opsF(v ...float32) []float32 { return v }

const opsInt64Max = 9.223372e18 // INT64_MAX as the importer's float32

func TestViewOps(t *testing.T) {
	x := opsIota(2, 3, 4)
	cases := []struct {
		op    string
		attrs graph.Attrs
		ins   []gcIn
		shape []int
	}{
		{"Flatten", nil, []gcIn{in(x)}, []int{2, 12}},
		{"Flatten", graph.Attrs{"axis": 0}, []gcIn{in(x)}, []int{1, 24}},
		{"Flatten", graph.Attrs{"axis": -1}, []gcIn{in(x)}, []int{6, 4}},
		{"Flatten", graph.Attrs{"axis": 3}, []gcIn{in(x)}, []int{24, 1}},
		{"Reshape", nil, []gcIn{in(x), konst(ivec(0, -1))}, []int{2, 12}},
		{"Reshape", nil, []gcIn{in(x), konst(ivec(-1))}, []int{24}},
		{"Reshape", nil, []gcIn{in(x), konst(ivec(4, 0, 2))}, []int{4, 3, 2}},
		{"Reshape", nil, []gcIn{in(x), konst(ivec(2, 3, 2, 2))}, []int{2, 3, 2, 2}},
		{"Squeeze", graph.Attrs{"axes": []int{0, 2}}, []gcIn{in(opsIota(1, 3, 1, 2))}, []int{3, 2}},
		{"Squeeze", nil, []gcIn{in(opsIota(1, 3, 1, 2)), konst(ivec(-2))}, []int{1, 3, 2}},
		{"Squeeze", nil, []gcIn{in(opsIota(1, 3, 1, 2))}, []int{3, 2}},
		{"Unsqueeze", graph.Attrs{"axes": []int{0, 3}}, []gcIn{in(opsIota(3, 2))}, []int{1, 3, 2, 1}},
		{"Unsqueeze", nil, []gcIn{in(opsIota(3, 2)), konst(ivec(-1))}, []int{3, 2, 1}},
		{"Unsqueeze", nil, []gcIn{in(opsIota(3, 2)), konst(ivec(1))}, []int{3, 1, 2}},
		{"Unsqueeze", nil, []gcIn{in(opsT(nil, 5)), konst(ivec(0))}, []int{1}},
	}
	for _, c := range cases {
		got := opsRun(t, c.op, c.attrs, c.ins, 1, 1, false)[0]
		opsExpect(t, c.op+" "+tensor.ShapeString(c.shape), got, c.shape, c.ins[0].t.Data, 0)
	}
	// allowzero: a 0 is a real zero-size dimension.
	got := opsRun(t, "Reshape", graph.Attrs{"allowzero": 1}, []gcIn{in(opsT([]int{0, 3})), konst(ivec(3, 0))}, 1, 1, false)[0]
	opsExpect(t, "Reshape allowzero", got, []int{3, 0}, nil, 0)

	r := rand.New(rand.NewPCG(21, 22))
	checkGrad(t, "Flatten", nil, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4))}, 1, false)
	checkGrad(t, "Reshape", nil, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4)), konst(ivec(4, -1))}, 1, false)
	checkGrad(t, "Squeeze", nil, []gcIn{in(testutil.UniformTensor(r, 1, 3, 1)), konst(ivec(0))}, 1, false)
	checkGrad(t, "Unsqueeze", graph.Attrs{"axes": []int{1}}, []gcIn{in(testutil.UniformTensor(r, 3, 2))}, 1, false)

	// Errors.
	opsWantErr(t, "Reshape incompatible", opsErr("Reshape", nil, []gcIn{in(x), konst(ivec(5, 5))}, 1), "cannot reshape", "2×3×4", "24")
	opsWantErr(t, "Reshape -1 incompatible", opsErr("Reshape", nil, []gcIn{in(x), konst(ivec(5, -1))}, 1), "cannot reshape")
	opsWantErr(t, "Reshape two -1", opsErr("Reshape", nil, []gcIn{in(x), konst(ivec(-1, -1))}, 1), "more than one -1")
	opsWantErr(t, "Reshape runtime shape", opsErr("Reshape", nil, []gcIn{in(x), in(ivec(4, 6))}, 1), "shape", "must be a constant")
	opsWantErr(t, "Squeeze size 3", opsErr("Squeeze", graph.Attrs{"axes": []int{1}}, []gcIn{in(x)}, 1), "cannot squeeze axis 1 of size 3")
	opsWantErr(t, "Squeeze runtime axes", opsErr("Squeeze", nil, []gcIn{in(x), in(ivec(0))}, 1), "axes", "must be a constant")
	opsWantErr(t, "Unsqueeze no axes", opsErr("Unsqueeze", nil, []gcIn{in(x)}, 1), "axes")
	opsWantErr(t, "Unsqueeze bad axis", opsErr("Unsqueeze", graph.Attrs{"axes": []int{5}}, []gcIn{in(x)}, 1), "axis 5 out of range")
	opsWantErr(t, "Flatten axis", opsErr("Flatten", graph.Attrs{"axis": 4}, []gcIn{in(x)}, 1), "axis 4")
}

func TestTranspose(t *testing.T) {
	x := opsIota(2, 3, 4)
	naive := func(perm []int) []float32 {
		out := make([]int, 3)
		for i, a := range perm {
			out[i] = x.Shape[a]
		}
		y := make([]float32, 24)
		for o := range y {
			oi := opsUnravel(o, out)
			xi := make([]int, 3)
			for i, a := range perm {
				xi[a] = oi[i]
			}
			y[o] = x.Data[(xi[0]*3+xi[1])*4+xi[2]]
		}
		return y
	}
	for _, perm := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 0, 2}, {0, 2, 1}, {2, 1, 0}} {
		got := opsRun(t, "Transpose", graph.Attrs{"perm": perm}, []gcIn{in(x)}, 1, 1, false)[0]
		shape := []int{x.Shape[perm[0]], x.Shape[perm[1]], x.Shape[perm[2]]}
		opsExpect(t, "Transpose", got, shape, naive(perm), 0)
	}
	got := opsRun(t, "Transpose", nil, []gcIn{in(x)}, 1, 1, false)[0]
	opsExpect(t, "Transpose default", got, []int{4, 3, 2}, naive([]int{2, 1, 0}), 0)
	got = opsRun(t, "Transpose", nil, []gcIn{in(opsIota(2, 3))}, 1, 1, false)[0]
	opsExpect(t, "Transpose 2-D", got, []int{3, 2}, opsF(0, 3, 1, 4, 2, 5), 0)

	r := rand.New(rand.NewPCG(23, 24))
	checkGrad(t, "Transpose", graph.Attrs{"perm": []int{2, 0, 1}}, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4))}, 1, false)
	checkGrad(t, "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, []gcIn{param(testutil.UniformTensor(r, 2, 3, 2, 2))}, 1, false)
	// Channel shuffle size: parallel path equals serial.
	big := testutil.UniformTensor(r, 2, 4, 8, 32, 32)
	a := opsRun(t, "Transpose", graph.Attrs{"perm": []int{0, 2, 1, 3, 4}}, []gcIn{in(big)}, 1, 1, false)[0]
	b := opsRun(t, "Transpose", graph.Attrs{"perm": []int{0, 2, 1, 3, 4}}, []gcIn{in(big)}, 1, 2, false)[0]
	if d, _ := tensor.MaxAbsDiff(a, b); d != 0 {
		t.Errorf("Transpose 1 vs 2 threads differ by %g", d)
	}
	opsWantErr(t, "Transpose bad perm", opsErr("Transpose", graph.Attrs{"perm": []int{0, 0, 1}}, []gcIn{in(x)}, 1), "not a permutation")
}

func TestConcat(t *testing.T) {
	a, b, c := opsIota(2, 1, 2), opsIota(2, 3, 2), opsIota(2, 2, 2)
	for i := range b.Data {
		b.Data[i] += 100
	}
	for i := range c.Data {
		c.Data[i] += 200
	}
	want := opsF(0, 1, 100, 101, 102, 103, 104, 105, 200, 201, 202, 203,
		2, 3, 106, 107, 108, 109, 110, 111, 204, 205, 206, 207)
	for _, axis := range []int{1, -2} {
		got := opsRun(t, "Concat", graph.Attrs{"axis": axis}, []gcIn{in(a), konst(b), in(c)}, 1, 1, false)[0]
		opsExpect(t, "Concat", got, []int{2, 6, 2}, want, 0)
	}
	got := opsRun(t, "Concat", graph.Attrs{"axis": 0}, []gcIn{in(opsIota(1, 2)), in(opsIota(2, 2))}, 1, 1, false)[0]
	opsExpect(t, "Concat axis 0", got, []int{3, 2}, opsF(0, 1, 0, 1, 2, 3), 0)
	got = opsRun(t, "Concat", graph.Attrs{"axis": -1}, []gcIn{in(opsIota(2, 1)), in(opsIota(2, 2))}, 1, 1, false)[0]
	opsExpect(t, "Concat axis -1", got, []int{2, 3}, opsF(0, 0, 1, 1, 2, 3), 0)

	r := rand.New(rand.NewPCG(25, 26))
	checkGrad(t, "Concat", graph.Attrs{"axis": 1}, []gcIn{in(testutil.UniformTensor(r, 2, 1, 2)), param(testutil.UniformTensor(r, 2, 3, 2)), konst(testutil.UniformTensor(r, 2, 2, 2)), in(testutil.UniformTensor(r, 2, 1, 2))}, 1, false)
	checkGrad(t, "Concat", graph.Attrs{"axis": -1}, []gcIn{in(testutil.UniformTensor(r, 2, 3)), in(testutil.UniformTensor(r, 2, 2))}, 1, false)

	err := opsErr("Concat", graph.Attrs{"axis": 1}, []gcIn{in(opsIota(2, 3, 4)), in(opsIota(2, 3, 5))}, 1)
	opsWantErr(t, "Concat mismatch", err, "2×3×5", "2×3×4", "axis 1")
	err = opsErr("Concat", graph.Attrs{"axis": 0}, []gcIn{in(opsIota(2, 3)), in(opsIota(2, 3, 1))}, 1)
	opsWantErr(t, "Concat rank mismatch", err, "2×3×1")
	opsWantErr(t, "Concat no axis", opsErr("Concat", nil, []gcIn{in(a), in(a)}, 1), "axis is required")
}

func TestSplit(t *testing.T) {
	x := opsIota(2, 6)
	cases := []struct {
		name   string
		attrs  graph.Attrs
		ins    []gcIn
		shapes [][]int
		vals   [][]float32
	}{
		{"input sizes", graph.Attrs{"axis": 1}, []gcIn{in(x), konst(ivec(1, 2, 3))},
			[][]int{{2, 1}, {2, 2}, {2, 3}}, [][]float32{{0, 6}, {1, 2, 7, 8}, {3, 4, 5, 9, 10, 11}}},
		{"attr sizes", graph.Attrs{"axis": -1, "split": []int{4, 2}}, []gcIn{in(x)},
			[][]int{{2, 4}, {2, 2}}, [][]float32{{0, 1, 2, 3, 6, 7, 8, 9}, {4, 5, 10, 11}}},
		{"equal", graph.Attrs{"axis": 1}, []gcIn{in(x)},
			[][]int{{2, 2}, {2, 2}, {2, 2}}, [][]float32{{0, 1, 6, 7}, {2, 3, 8, 9}, {4, 5, 10, 11}}},
		{"axis 0", nil, []gcIn{in(x)},
			[][]int{{1, 6}, {1, 6}}, [][]float32{{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}}},
		{"num_outputs uneven", graph.Attrs{"num_outputs": 3}, []gcIn{in(opsIota(10))},
			[][]int{{4}, {4}, {2}}, [][]float32{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}},
	}
	for _, c := range cases {
		outs := opsRun(t, "Split", c.attrs, c.ins, len(c.shapes), 1, false)
		for i, o := range outs {
			opsExpect(t, "Split "+c.name, o, c.shapes[i], c.vals[i], 0)
		}
	}
	r := rand.New(rand.NewPCG(27, 28))
	checkGrad(t, "Split", graph.Attrs{"axis": 1}, []gcIn{in(testutil.UniformTensor(r, 2, 6, 2)), konst(ivec(1, 3, 2))}, 3, false)
	checkGrad(t, "Split", graph.Attrs{"axis": 0}, []gcIn{param(testutil.UniformTensor(r, 4, 3))}, 2, false)

	opsWantErr(t, "Split bad sizes", opsErr("Split", graph.Attrs{"axis": 1}, []gcIn{in(x), konst(ivec(1, 2))}, 2), "sums to 3")
	opsWantErr(t, "Split count", opsErr("Split", graph.Attrs{"axis": 1}, []gcIn{in(x), konst(ivec(1, 2, 3))}, 2), "3 sizes for 2 outputs")
	opsWantErr(t, "Split runtime sizes", opsErr("Split", nil, []gcIn{in(x), in(ivec(1, 1))}, 2), "must be a constant")
}

func TestSlice(t *testing.T) {
	x := opsIota(10)
	cases := []struct {
		name                string
		starts, ends, steps []float32
		want                []float32
	}{
		{"basic", opsF(2), opsF(7), nil, opsF(2, 3, 4, 5, 6)},
		{"negative start, INT64_MAX end", opsF(-3), opsF(opsInt64Max), nil, opsF(7, 8, 9)},
		{"end clamped", opsF(5), opsF(100), opsF(2), opsF(5, 7, 9)},
		{"negative step", opsF(8), opsF(1), opsF(-2), opsF(8, 6, 4, 2)},
		{"reverse all", opsF(-1), opsF(-opsInt64Max), opsF(-1), opsF(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)},
		{"reverse clamped start", opsF(100), opsF(6), opsF(-1), opsF(9, 8, 7)},
		{"empty", opsF(5), opsF(2), nil, nil},
		{"empty reverse", opsF(2), opsF(5), opsF(-1), nil},
		{"step 3", opsF(0), opsF(10), opsF(3), opsF(0, 3, 6, 9)},
	}
	for _, c := range cases {
		ins := []gcIn{in(x), konst(opsT([]int{1}, c.starts...)), konst(opsT([]int{1}, c.ends...))}
		if c.steps != nil {
			ins = append(ins, konst(ivec(0)), konst(opsT([]int{1}, c.steps...)))
		}
		got := opsRun(t, "Slice", nil, ins, 1, 1, false)[0]
		opsExpect(t, "Slice "+c.name, got, []int{len(c.want)}, c.want, 0)
	}
	// 2-D: axes, negative axes, opsOmitted axes with steps.
	m := opsIota(3, 4)
	got := opsRun(t, "Slice", nil, []gcIn{in(m), konst(ivec(1)), konst(ivec(3)), konst(ivec(-1))}, 1, 1, false)[0]
	opsExpect(t, "Slice axis -1", got, []int{3, 2}, opsF(1, 2, 5, 6, 9, 10), 0)
	got = opsRun(t, "Slice", nil, []gcIn{in(m), konst(ivec(-1, 3)), konst(opsT([]int{2}, -opsInt64Max, 0)), opsOmitted, konst(ivec(-2, -2))}, 1, 1, false)[0]
	opsExpect(t, "Slice 2-D reverse", got, []int{2, 2}, opsF(11, 9, 3, 1), 0)
	got = opsRun(t, "Slice", graph.Attrs{"starts": []int{1}, "ends": []int{2}, "axes": []int{0}}, []gcIn{in(m)}, 1, 1, false)[0]
	opsExpect(t, "Slice opset 9 attrs", got, []int{1, 4}, opsF(4, 5, 6, 7), 0)

	r := rand.New(rand.NewPCG(29, 30))
	checkGrad(t, "Slice", nil, []gcIn{in(testutil.UniformTensor(r, 3, 5, 4)), konst(ivec(4, 1)), konst(ivec(0, 3)), konst(ivec(1, 2)), konst(ivec(-2, 1))}, 1, false)
	checkGrad(t, "Slice", nil, []gcIn{param(testutil.UniformTensor(r, 4, 6)), konst(ivec(1)), konst(ivec(-1)), konst(ivec(1))}, 1, false)
	// Large: parallel path equals serial.
	big := testutil.UniformTensor(r, 8, 64, 32, 16)
	ins := []gcIn{in(big), konst(ivec(1, 31)), konst(ivec(-1, 0)), konst(ivec(1, 2)), konst(ivec(1, -3))}
	a, b := opsRun(t, "Slice", nil, ins, 1, 1, false)[0], opsRun(t, "Slice", nil, ins, 1, 2, false)[0]
	if d, _ := tensor.MaxAbsDiff(a, b); d != 0 || a.Shape[1] != 62 || a.Shape[2] != 11 {
		t.Errorf("Slice parallel: shape %v, diff %g", a.Shape, d)
	}

	opsWantErr(t, "Slice step 0", opsErr("Slice", nil, []gcIn{in(x), konst(ivec(0)), konst(ivec(5)), konst(ivec(0)), konst(ivec(0))}, 1), "zero step")
	opsWantErr(t, "Slice runtime starts", opsErr("Slice", nil, []gcIn{in(x), in(ivec(0)), konst(ivec(5))}, 1), "starts", "must be a constant")
	opsWantErr(t, "Slice axis", opsErr("Slice", nil, []gcIn{in(x), konst(ivec(0)), konst(ivec(5)), konst(ivec(1))}, 1), "axis 1 out of range")
}

func TestGather(t *testing.T) {
	d := opsIota(3, 4)
	got := opsRun(t, "Gather", nil, []gcIn{in(d), konst(ivec(2, 0))}, 1, 1, false)[0]
	opsExpect(t, "Gather axis 0", got, []int{2, 4}, opsF(8, 9, 10, 11, 0, 1, 2, 3), 0)
	idx := opsT([]int{1, 2}, 0, -1)
	got = opsRun(t, "Gather", graph.Attrs{"axis": 1}, []gcIn{in(d), konst(idx)}, 1, 1, false)[0]
	opsExpect(t, "Gather axis 1, 2-D indices", got, []int{3, 1, 2}, opsF(0, 3, 4, 7, 8, 11), 0)
	got = opsRun(t, "Gather", graph.Attrs{"axis": -1}, []gcIn{in(d), konst(opsT(nil, 2))}, 1, 1, false)[0]
	opsExpect(t, "Gather scalar index", got, []int{3}, opsF(2, 6, 10), 0)

	r := rand.New(rand.NewPCG(31, 32))
	// Repeated indices: the gradient scatter-adds.
	checkGrad(t, "Gather", graph.Attrs{"axis": 1}, []gcIn{in(testutil.UniformTensor(r, 2, 4, 3)), konst(opsT([]int{2, 2}, 1, 1, -1, 0))}, 1, false)
	checkGrad(t, "Gather", nil, []gcIn{param(testutil.UniformTensor(r, 5, 3)), konst(ivec(4, 0, 4))}, 1, false)

	opsWantErr(t, "Gather out of range", opsErr("Gather", nil, []gcIn{in(d), konst(ivec(3))}, 1), "index 3 out of range")
	opsWantErr(t, "Gather runtime indices", opsErr("Gather", nil, []gcIn{in(d), in(ivec(0))}, 1), "indices", "must be a constant")
}

func TestPad(t *testing.T) {
	x := opsT([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	cases := []struct {
		name  string
		attrs graph.Attrs
		ins   []gcIn
		shape []int
		want  []float32
	}{
		{"constant", nil, []gcIn{in(x), konst(ivec(1, 0, 0, 1)), konst(opsT(nil, 9))}, []int{3, 4},
			opsF(9, 9, 9, 9, 1, 2, 3, 9, 4, 5, 6, 9)},
		{"constant default 0", nil, []gcIn{in(x), konst(ivec(0, 1, 0, 0))}, []int{2, 4}, opsF(0, 1, 2, 3, 0, 4, 5, 6)},
		{"reflect", graph.Attrs{"mode": "reflect"}, []gcIn{in(x), konst(ivec(0, 2, 0, 1))}, []int{2, 6},
			opsF(3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5)},
		{"edge", graph.Attrs{"mode": "edge"}, []gcIn{in(x), konst(ivec(0, 2, 0, 1))}, []int{2, 6},
			opsF(1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6)},
		{"wrap", graph.Attrs{"mode": "wrap"}, []gcIn{in(x), konst(ivec(0, 2, 0, 1))}, []int{2, 6},
			opsF(2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4)},
		{"edge both axes", graph.Attrs{"mode": "edge"}, []gcIn{in(x), konst(ivec(1, 0, 0, 1))}, []int{3, 4},
			opsF(1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6)},
		{"reflect rows", graph.Attrs{"mode": "reflect"}, []gcIn{in(x), konst(ivec(1, 0, 1, 0))}, []int{4, 3},
			opsF(4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3)},
		{"negative crop constant", nil, []gcIn{in(x), konst(ivec(0, -1, 0, 1))}, []int{2, 3}, opsF(2, 3, 0, 5, 6, 0)},
		{"negative crop reflect", graph.Attrs{"mode": "reflect"}, []gcIn{in(x), konst(ivec(0, -1, 0, 1))}, []int{2, 3}, opsF(2, 3, 2, 5, 6, 5)},
		{"crop both", nil, []gcIn{in(x), konst(ivec(-1, -1, 0, -1))}, []int{1, 1}, opsF(5)},
		{"axes input", nil, []gcIn{in(x), konst(ivec(1, 1)), konst(opsT(nil, 7)), konst(ivec(-1))}, []int{2, 5},
			opsF(7, 1, 2, 3, 7, 7, 4, 5, 6, 7)},
		{"axes input, opsOmitted value", graph.Attrs{"mode": "edge"}, []gcIn{in(x), konst(ivec(1, 0)), opsOmitted, konst(ivec(0))}, []int{3, 3},
			opsF(1, 2, 3, 1, 2, 3, 4, 5, 6)},
		{"opset 2 attributes", graph.Attrs{"pads": []int{0, 1, 0, 1}, "value": float32(-1)}, []gcIn{in(x)}, []int{2, 5},
			opsF(-1, 1, 2, 3, -1, -1, 4, 5, 6, -1)},
		{"reflect beyond size", graph.Attrs{"mode": "reflect"}, []gcIn{in(opsT([]int{3}, 1, 2, 3)), konst(ivec(5, 5))}, []int{13},
			opsF(2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2)},
		{"reflect size 1", graph.Attrs{"mode": "reflect"}, []gcIn{in(opsT([]int{1}, 4)), konst(ivec(2, 1))}, []int{4}, opsF(4, 4, 4, 4)},
	}
	for _, c := range cases {
		got := opsRun(t, "Pad", c.attrs, c.ins, 1, 1, false)[0]
		opsExpect(t, "Pad "+c.name, got, c.shape, c.want, 0)
	}
	r := rand.New(rand.NewPCG(33, 34))
	for _, mode := range []string{"constant", "reflect", "edge", "wrap"} {
		checkGrad(t, "Pad", graph.Attrs{"mode": mode}, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4)), konst(ivec(0, 2, -1, 1, 0, 3))}, 1, false)
	}
	// The constant's gradient is the sum over padded positions.
	checkGrad(t, "Pad", nil, []gcIn{in(testutil.UniformTensor(r, 2, 3)), konst(ivec(1, 1, 0, 2)), param(opsT(nil, 0.5))}, 1, false)

	opsWantErr(t, "Pad too much crop", opsErr("Pad", nil, []gcIn{in(x), konst(ivec(0, -2, 0, -2))}, 1), "crop")
	opsWantErr(t, "Pad pads length", opsErr("Pad", nil, []gcIn{in(x), konst(ivec(1, 1))}, 1), "want 4 values")
	opsWantErr(t, "Pad runtime pads", opsErr("Pad", nil, []gcIn{in(x), in(ivec(0, 0, 0, 0))}, 1), "pads", "must be a constant")
	opsWantErr(t, "Pad mode", opsErr("Pad", graph.Attrs{"mode": "mirror"}, []gcIn{in(x), konst(ivec(0, 0, 0, 0))}, 1), "mirror")
}

func TestExpand(t *testing.T) {
	x := opsT([]int{3, 1}, 1, 2, 3)
	got := opsRun(t, "Expand", nil, []gcIn{in(x), konst(ivec(2, 1, 4))}, 1, 1, false)[0]
	want := opsF(1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)
	opsExpect(t, "Expand", got, []int{2, 3, 4}, append(append([]float32{}, want...), want...), 0)
	// A shape smaller than the input keeps the input's dims (bidirectional).
	got = opsRun(t, "Expand", nil, []gcIn{in(x), konst(ivec(1))}, 1, 1, false)[0]
	opsExpect(t, "Expand to 1", got, []int{3, 1}, opsF(1, 2, 3), 0)

	r := rand.New(rand.NewPCG(35, 36))
	checkGrad(t, "Expand", nil, []gcIn{in(testutil.UniformTensor(r, 3, 1)), konst(ivec(2, 3, 4))}, 1, false)
	checkGrad(t, "Expand", nil, []gcIn{param(testutil.UniformTensor(r, 1, 4)), konst(ivec(3, 1))}, 1, false)
	opsWantErr(t, "Expand incompatible", opsErr("Expand", nil, []gcIn{in(x), konst(ivec(2, 4))}, 1), "3×1", "2×4")
}
