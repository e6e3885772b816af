package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func TestReduceMean(t *testing.T) {
	x := opsIota(2, 3, 4)
	cases := []struct {
		name  string
		attrs graph.Attrs
		ins   []gcIn
		shape []int
		want  []float32
	}{
		{"axis 1", graph.Attrs{"axes": []int{1}}, []gcIn{in(x)}, []int{2, 1, 4}, opsF(4, 5, 6, 7, 16, 17, 18, 19)},
		{"axis -1 no keepdims", graph.Attrs{"axes": []int{-1}, "keepdims": 0}, []gcIn{in(x)}, []int{2, 3}, opsF(1.5, 5.5, 9.5, 13.5, 17.5, 21.5)},
		{"all", nil, []gcIn{in(x)}, []int{1, 1, 1}, opsF(11.5)},
		{"all no keepdims", graph.Attrs{"keepdims": 0}, []gcIn{in(x)}, []int{}, opsF(11.5)},
		{"axes 0, 2", graph.Attrs{"axes": []int{0, 2}}, []gcIn{in(x)}, []int{1, 3, 1}, opsF(7.5, 11.5, 15.5)},
		{"axes input (opset 18)", nil, []gcIn{in(x), konst(ivec(1))}, []int{2, 1, 4}, opsF(4, 5, 6, 7, 16, 17, 18, 19)},
		{"noop_with_empty_axes", graph.Attrs{"noop_with_empty_axes": 1}, []gcIn{in(x)}, []int{2, 3, 4}, x.Data},
	}
	for _, c := range cases {
		got := opsRun(t, "ReduceMean", c.attrs, c.ins, 1, 1, false)[0]
		opsExpect(t, "ReduceMean "+c.name, got, c.shape, c.want, 1e-6)
	}

	r := rand.New(rand.NewPCG(41, 42))
	for _, attrs := range []graph.Attrs{{"axes": []int{1}}, {"axes": []int{0, 2}, "keepdims": 0}, nil, {"axes": []int{-1}}} {
		checkGrad(t, "ReduceMean", attrs, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4))}, 1, false)
	}
	checkGrad(t, "ReduceMean", nil, []gcIn{param(testutil.UniformTensor(r, 2, 3, 4)), konst(ivec(2))}, 1, false)

	// Large: global-average-pool style and over the batch (a broadcast
	// target reduced per worker), against a float64 reference.
	big := testutil.UniformTensor(r, 4, 16, 32, 32)
	for _, axes := range [][]int{{2, 3}, {0}, {0, 2}} {
		keep := graph.CloneShape(big.Shape)
		for _, a := range axes {
			keep[a] = 1
		}
		ref := make([]float64, graph.ShapeProd(keep))
		for i, v := range big.Data {
			ref[opsBcastIndex(opsUnravel(i, big.Shape), keep)] += float64(v)
		}
		cnt := float64(len(big.Data) / len(ref))
		for _, threads := range []int{1, 2} {
			got := opsRun(t, "ReduceMean", graph.Attrs{"axes": axes}, []gcIn{in(big)}, 1, threads, false)[0]
			for i, v := range ref {
				if math.Abs(float64(got.Data[i])-v/cnt) > 1e-5 {
					t.Fatalf("ReduceMean axes %v threads %d: [%d] = %g, want %g", axes, threads, i, got.Data[i], v/cnt)
				}
			}
		}
	}
	opsWantErr(t, "ReduceMean axis", opsErr("ReduceMean", graph.Attrs{"axes": []int{3}}, []gcIn{in(x)}, 1), "axis 3 out of range")
	opsWantErr(t, "ReduceMean runtime axes", opsErr("ReduceMean", nil, []gcIn{in(x), in(ivec(1))}, 1), "axes", "must be a constant")
}

func TestReduceSumMaxMin(t *testing.T) {
	x := opsIota(2, 3, 4)
	for _, c := range []struct {
		op    string
		attrs graph.Attrs
		ins   []gcIn
		shape []int
		want  []float32
	}{
		{"ReduceSum", nil, []gcIn{in(x), konst(ivec(1))}, []int{2, 1, 4}, opsF(12, 15, 18, 21, 48, 51, 54, 57)},
		{"ReduceSum", graph.Attrs{"keepdims": 0}, []gcIn{in(x)}, []int{}, opsF(276)},
		{"ReduceMax", graph.Attrs{"axes": []int{2}, "keepdims": 0}, []gcIn{in(x)}, []int{2, 3}, opsF(3, 7, 11, 15, 19, 23)},
		{"ReduceMax", graph.Attrs{"axes": []int{0, 1}}, []gcIn{in(x)}, []int{1, 1, 4}, opsF(20, 21, 22, 23)},
		{"ReduceMin", graph.Attrs{"axes": []int{-1}}, []gcIn{in(x)}, []int{2, 3, 1}, opsF(0, 4, 8, 12, 16, 20)},
		{"ReduceMin", nil, []gcIn{in(x)}, []int{1, 1, 1}, opsF(0)},
	} {
		got := opsRun(t, c.op, c.attrs, c.ins, 1, 1, false)[0]
		opsExpect(t, c.op, got, c.shape, c.want, 0)
	}
	// Empty reductions give the identity element.
	empty := &tensor.Tensor{Shape: []int{2, 0}, Data: nil}
	for op, want := range map[string]float32{"ReduceSum": 0, "ReduceMax": float32(math.Inf(-1)), "ReduceMin": float32(math.Inf(1))} {
		got := opsRun(t, op, graph.Attrs{"axes": []int{1}, "keepdims": 0}, []gcIn{in(empty)}, 1, 1, false)[0]
		opsExpect(t, op+" empty", got, []int{2}, opsF(want, want), 0)
	}
	// NaN propagates through Max and Min.
	nan := opsT([]int{1, 3}, 1, float32(math.NaN()), 2)
	for _, op := range []string{"ReduceMax", "ReduceMin"} {
		if got := opsRun(t, op, graph.Attrs{"axes": []int{1}}, []gcIn{in(nan)}, 1, 1, false)[0]; !math.IsNaN(float64(got.Data[0])) {
			t.Errorf("%s over a NaN = %g, want NaN", op, got.Data[0])
		}
	}

	r := rand.New(rand.NewPCG(43, 44))
	for _, op := range []string{"ReduceSum", "ReduceMax", "ReduceMin"} {
		for _, attrs := range []graph.Attrs{{"axes": []int{1}}, {"axes": []int{0, 2}, "keepdims": 0}, nil} {
			checkGrad(t, op, attrs, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4))}, 1, false)
		}
	}
	// Ties share the gradient equally.
	tie := opsT([]int{1, 4}, 3, 1, 3, 2)
	g := opsGrads(t, "ReduceMax", graph.Attrs{"axes": []int{1}}, []gcIn{in(tie)}, []*tensor.Tensor{opsT([]int{1, 1}, 4)}, 1)[0]
	opsExpect(t, "ReduceMax tie gradient", g, []int{1, 4}, opsF(2, 0, 2, 0), 0)
}

func TestConstant(t *testing.T) {
	v := opsT([]int{2, 2}, 1, 2, 3, 4)
	cases := []struct {
		attrs graph.Attrs
		shape []int
		want  []float32
	}{
		{graph.Attrs{"value": v}, []int{2, 2}, opsF(1, 2, 3, 4)},
		{graph.Attrs{"value_float": float32(2.5)}, []int{}, opsF(2.5)},
		{graph.Attrs{"value_floats": []float32{1, -1}}, []int{2}, opsF(1, -1)},
		{graph.Attrs{"value_int": 7}, []int{}, opsF(7)},
		{graph.Attrs{"value_ints": []int{3, -4, 5}}, []int{3}, opsF(3, -4, 5)},
	}
	for _, c := range cases {
		got := opsRun(t, "Constant", c.attrs, nil, 1, 1, false)[0]
		opsExpect(t, "Constant", got, c.shape, c.want, 0)
	}
	opsWantErr(t, "Constant none", opsErr("Constant", nil, nil, 1), "exactly one")
	opsWantErr(t, "Constant two", opsErr("Constant", graph.Attrs{"value_int": 1, "value_float": float32(1)}, nil, 1), "exactly one")
	opsWantErr(t, "Constant string", opsErr("Constant", graph.Attrs{"value_string": "a"}, nil, 1), "value_string")

	// A Constant feeding an op: the graph runs forward and backward.
	g := &graph.Graph{Name: "c", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 2}}}, Outputs: []graph.ValueInfo{{Name: "y"}},
		Nodes: []*graph.Node{
			{Name: "k", Op: "Constant", Outputs: []string{"k"}, Attrs: graph.Attrs{"value_floats": []float32{10, 20}}},
			{Name: "add", Op: "Add", Inputs: []string{"x", "k"}, Outputs: []string{"y"}},
		}}
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	p.SetInputGrad(true)
	outs, err := p.Forward(true, opsT([]int{2, 2}, 1, 2, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	opsExpect(t, "x + Constant", outs[0], []int{2, 2}, opsF(11, 22, 13, 24), 0)
	if err := p.Backward(opsT([]int{2, 2}, 1, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	opsExpect(t, "x + Constant grad", p.ValueGrad("x"), []int{2, 2}, opsF(1, 1, 1, 1), 0)
}

func TestShapeOp(t *testing.T) {
	x := opsT([]int{2, 3, 4})
	cases := []struct {
		attrs graph.Attrs
		want  []float32
	}{
		{nil, opsF(2, 3, 4)},
		{graph.Attrs{"start": 1}, opsF(3, 4)},
		{graph.Attrs{"end": -1}, opsF(2, 3)},
		{graph.Attrs{"start": -2, "end": 100}, opsF(3, 4)},
		{graph.Attrs{"start": 2, "end": 1}, nil},
		{graph.Attrs{"start": -10}, opsF(2, 3, 4)},
	}
	for _, c := range cases {
		got := opsRun(t, "Shape", c.attrs, []gcIn{in(x)}, 1, 1, false)[0]
		opsExpect(t, "Shape", got, []int{len(c.want)}, c.want, 0)
	}
	// The batch dimension follows the input.
	g := singleNodeGraph("Shape", nil, []gcIn{in(x)}, 1)
	g.Inputs[0].Shape = []int{-1, 3, 4}
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := p.Forward(false, opsT([]int{5, 3, 4}))
	if err != nil {
		t.Fatal(err)
	}
	opsExpect(t, "Shape batch 5", outs[0], []int{3}, opsF(5, 3, 4), 0)
	checkGrad(t, "Shape", nil, []gcIn{in(testutil.UniformTensor(rand.New(rand.NewPCG(1, 1)), 2, 3))}, 1, false)
}

func TestCast(t *testing.T) {
	x := opsT([]int{5}, -1.7, -0.2, 0.5, 2.9, 3)
	got := opsRun(t, "Cast", graph.Attrs{"to": 1}, []gcIn{in(x)}, 1, 1, false)[0]
	opsExpect(t, "Cast float", got, []int{5}, x.Data, 0)
	for _, to := range []int{onnxInt64, onnxInt32, onnxUint8} {
		got = opsRun(t, "Cast", graph.Attrs{"to": to}, []gcIn{in(x)}, 1, 1, false)[0]
		opsExpect(t, "Cast int", got, []int{5}, opsF(-1, 0, 0, 2, 3), 0)
	}
	r := rand.New(rand.NewPCG(43, 44))
	checkGrad(t, "Cast", graph.Attrs{"to": 1}, []gcIn{in(testutil.UniformTensor(r, 2, 3))}, 1, false)
	// Integer casts are piecewise constant: zero gradient (values away
	// from integers so finite differences agree).
	checkGrad(t, "Cast", graph.Attrs{"to": onnxInt64}, []gcIn{in(opsRand(r, -3, 3, []float32{-2, -1, 0, 1, 2}, 0.05, 2, 3))}, 1, false)

	got = opsRun(t, "Cast", graph.Attrs{"to": onnxDouble}, []gcIn{in(x)}, 1, 1, false)[0]
	opsExpect(t, "Cast double", got, []int{5}, x.Data, 0)
	got = opsRun(t, "Cast", graph.Attrs{"to": onnxBool}, []gcIn{in(x)}, 1, 1, false)[0]
	opsExpect(t, "Cast bool", got, []int{5}, opsF(1, 1, 1, 1, 1), 0)
	h := opsT([]int{6}, 1.0004883, 1.0014648, 65519, 65520, 1e-8, -3.0e-5)
	got = opsRun(t, "Cast", graph.Attrs{"to": onnxFloat16}, []gcIn{in(h)}, 1, 1, false)[0]
	inf := float32(math.Inf(1))
	// ties to even: 1+2^-11 → 1, 1+3·2^-11 → 1+2^-9; 65520 overflows; subnormals.
	opsExpect(t, "Cast float16", got, []int{6}, opsF(1, 1.001953125, 65504, inf, 0, -2.9981136e-05), 0)
	got = opsRun(t, "Cast", graph.Attrs{"to": onnxBfloat16}, []gcIn{in(opsT([]int{1}, 0.47892547))}, 1, 1, false)[0]
	opsExpect(t, "Cast bfloat16", got, []int{1}, opsF(0.478515625), 0)
	opsWantErr(t, "Cast string", opsErr("Cast", graph.Attrs{"to": 8}, []gcIn{in(x)}, 1), "data type 8", "not supported")
	opsWantErr(t, "Cast no to", opsErr("Cast", nil, []gcIn{in(x)}, 1), "to is required")
}

// TestOpsRegistered checks every op of this group is registered under its
// ONNX name.
func TestOpsRegistered(t *testing.T) {
	for _, op := range []string{
		"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softmax", "Dropout", "Identity",
		"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Exp", "Log", "Abs", "Reciprocal",
		"Flatten", "Reshape", "Transpose", "Concat", "Split", "Slice", "Squeeze", "Unsqueeze", "Gather", "Pad",
		"ReduceMean", "Constant", "Shape", "Cast", "Expand",
	} {
		if !Supported(op) {
			t.Errorf("%s is not registered", op)
		}
	}
}

// TestOpsBatchChange runs a chain of these ops with a dynamic batch at
// several batch sizes: shapes are re-inferred and cached plans rebuilt, and
// each sample's result matches running it alone.
func TestOpsBatchChange(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	g := &graph.Graph{Name: "chain", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 4, 3, 3}}}, Outputs: []graph.ValueInfo{{Name: "y"}}}
	g.AddParam("pads", ivec(0, 0, 1, 1, 0, 0, 1, 1), false)
	g.AddParam("starts", ivec(1, 1), false)
	g.AddParam("ends", ivec(-1, -1), false)
	g.AddParam("axes", ivec(2, 3), false)
	g.AddParam("shape", ivec(0, -1), false)
	g.AddParam("scale", testutil.UniformTensor(r, 1, 4, 1, 1), true)
	g.Nodes = []*graph.Node{
		{Name: "pad", Op: "Pad", Inputs: []string{"x", "pads"}, Outputs: []string{"p"}, Attrs: graph.Attrs{"mode": "edge"}},
		{Name: "mul", Op: "Mul", Inputs: []string{"p", "scale"}, Outputs: []string{"m"}},
		{Name: "slice", Op: "Slice", Inputs: []string{"m", "starts", "ends", "axes"}, Outputs: []string{"s"}},
		{Name: "tr", Op: "Transpose", Inputs: []string{"s"}, Outputs: []string{"t"}, Attrs: graph.Attrs{"perm": []int{0, 2, 3, 1}}},
		{Name: "rs", Op: "Reshape", Inputs: []string{"t", "shape"}, Outputs: []string{"f"}},
		{Name: "mean", Op: "ReduceMean", Inputs: []string{"f"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axes": []int{1}, "keepdims": 0}},
	}
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	single := func(x *tensor.Tensor) float32 {
		outs, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		return outs[0].Data[0]
	}
	for _, batch := range []int{2, 3, 1, 2} {
		x := testutil.UniformTensor(r, batch, 4, 3, 3)
		outs, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		y := outs[0].Clone()
		if !tensor.SameShape(y.Shape, []int{batch}) {
			t.Fatalf("batch %d: output shape %v", batch, y.Shape)
		}
		for b := range batch {
			xb := &tensor.Tensor{Shape: []int{1, 4, 3, 3}, Data: x.Data[b*36 : (b+1)*36]}
			var want float64
			for c := range 4 {
				for i := range 9 {
					want += float64(xb.Data[c*9+i] * g.Param("scale").Value.Data[c])
				}
			}
			want /= 36
			if got := single(xb); math.Abs(float64(got-y.Data[b])) > 1e-6 || math.Abs(float64(got)-want) > 1e-5 {
				t.Errorf("batch %d sample %d: %g in batch, %g alone, want %g", batch, b, y.Data[b], got, want)
			}
		}
	}
}
