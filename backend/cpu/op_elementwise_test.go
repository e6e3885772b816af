package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func opsNaiveBinary(op string, a, b float64) float64 {
	switch op {
	case "Add":
		return a + b
	case "Sub":
		return a - b
	case "Mul":
		return a * b
	case "Div":
		return a / b
	case "Pow":
		return math.Pow(a, b)
	}
	panic(op)
}

// opsNaiveBinaryT evaluates a broadcasting binary op element by element.
func opsNaiveBinaryT(op string, a, b *tensor.Tensor) *tensor.Tensor {
	shape, err := graph.BroadcastShapes(a.Shape, b.Shape)
	if err != nil {
		panic(err)
	}
	y := opsT(shape)
	for i := range y.Data {
		idx := opsUnravel(i, shape)
		y.Data[i] = float32(opsNaiveBinary(op, float64(a.Data[opsBcastIndex(idx, a.Shape)]), float64(b.Data[opsBcastIndex(idx, b.Shape)])))
	}
	return y
}

// opsBinaryOperands returns operands valid for op (positive bases for Pow,
// divisors away from 0 for Div).
func opsBinaryOperands(r *rand.Rand, op string, sa, sb []int) (*tensor.Tensor, *tensor.Tensor) {
	a, b := opsRand(r, -1, 1, nil, 0, sa...), opsRand(r, -1, 1, nil, 0, sb...)
	switch op {
	case "Div":
		b = opsRand(r, -2, 2, []float32{0}, 0.5, sb...)
	case "Pow":
		a = opsRand(r, 0.5, 1.5, nil, 0, sa...)
		b = opsRand(r, -2, 3, nil, 0, sb...)
	}
	a.Shape, b.Shape = graph.CloneShape(sa), graph.CloneShape(sb)
	return a, b
}

var opsBinaryShapeCases = [][2][]int{
	{{2, 3}, {2, 3}},
	{{2, 3, 4, 5}, {3, 1, 1}},
	{{2, 3, 4, 5}, {2, 3, 1, 1}},
	{{1, 3, 1, 1}, {2, 3, 4, 5}},
	{{4, 5}, {5}},
	{{3, 1}, {1, 4}},
	{{}, {2, 3}},
	{{2, 1, 4}, {3, 1}},
	{{5}, {}},
	{{0, 3}, {3}},
	{{2, 3, 4}, {2, 1, 4}},
}

func TestBinaryValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow"} {
		for _, c := range opsBinaryShapeCases {
			a, b := opsBinaryOperands(r, op, c[0], c[1])
			want := opsNaiveBinaryT(op, a, b)
			got := opsRun(t, op, nil, []gcIn{in(a), konst(b)}, 1, 1, false)[0]
			opsExpect(t, op+" "+tensor.ShapeString(c[0])+" "+tensor.ShapeString(c[1]), got, want.Shape, want.Data, 1e-5)
		}
	}
	// Hand-computed: bias over channels and SE-style scaling.
	x := opsT([]int{1, 2, 1, 2}, 1, 2, 3, 4)
	got := opsRun(t, "Add", nil, []gcIn{in(x), konst(opsT([]int{2, 1, 1}, 10, 20))}, 1, 1, false)[0]
	opsExpect(t, "Add bias", got, []int{1, 2, 1, 2}, []float32{11, 12, 23, 24}, 0)
	got = opsRun(t, "Mul", nil, []gcIn{in(x), konst(opsT([]int{1, 2, 1, 1}, 2, -1))}, 1, 1, false)[0]
	opsExpect(t, "Mul SE", got, []int{1, 2, 1, 2}, []float32{2, 4, -3, -4}, 0)
	got = opsRun(t, "Pow", nil, []gcIn{in(x), konst(opsT(nil, 2))}, 1, 1, false)[0]
	opsExpect(t, "Pow 2", got, []int{1, 2, 1, 2}, []float32{1, 4, 9, 16}, 0)
}

func TestBinaryGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := [][2][]int{
		{{2, 3}, {2, 3}},
		{{2, 3, 2, 2}, {3, 1, 1}},
		{{2, 3, 2, 2}, {2, 3, 1, 1}},
		{{3, 1}, {1, 4}},
		{{4, 5}, {5}},
		{{}, {2, 3}},
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow"} {
		for _, c := range cases {
			a, b := opsBinaryOperands(r, op, c[0], c[1])
			checkGrad(t, op, nil, []gcIn{in(a), param(b)}, 1, false)
		}
	}
}

// TestBinaryParallel checks the multi-worker paths (≥ 64K elements) against
// naive forward values and gradients, with the broadcast input's gradient
// reduced per worker.
func TestBinaryParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	full := []int{4, 16, 32, 32}
	for _, op := range []string{"Add", "Mul", "Div"} {
		for _, sb := range [][]int{{4, 16, 32, 32}, {1, 16, 1, 1}, {4, 16, 1, 1}, {32}} {
			a, b := opsBinaryOperands(r, op, full, sb)
			want := opsNaiveBinaryT(op, a, b)
			g := testutil.UniformTensor(r, full...)
			// Reference gradients in float64.
			ga, gb := make([]float64, len(a.Data)), make([]float64, len(b.Data))
			for i := range want.Data {
				idx := opsUnravel(i, full)
				ia, ib := opsBcastIndex(idx, full), opsBcastIndex(idx, sb)
				av, bv, gv := float64(a.Data[ia]), float64(b.Data[ib]), float64(g.Data[i])
				switch op {
				case "Add":
					ga[ia] += gv
					gb[ib] += gv
				case "Mul":
					ga[ia] += gv * bv
					gb[ib] += gv * av
				case "Div":
					ga[ia] += gv / bv
					gb[ib] -= gv * av / (bv * bv)
				}
			}
			for _, threads := range []int{1, 2} {
				what := op + " " + tensor.ShapeString(sb)
				got := opsRun(t, op, nil, []gcIn{in(a), param(b)}, 1, threads, false)[0]
				opsExpect(t, what, got, want.Shape, want.Data, 1e-6)
				grads := opsGrads(t, op, nil, []gcIn{in(a), param(b)}, []*tensor.Tensor{g}, threads)
				for k, ref := range [][]float64{ga, gb} {
					for i, v := range ref {
						if math.Abs(float64(grads[k].Data[i])-v) > 1e-3*math.Max(1, math.Abs(v)) {
							t.Fatalf("%s threads %d: grad %d [%d] = %g, want %g", what, threads, k, i, grads[k].Data[i], v)
						}
					}
				}
			}
		}
	}
}

func TestBinaryErrors(t *testing.T) {
	err := opsErr("Add", nil, []gcIn{in(opsT([]int{2, 3})), in(opsT([]int{4, 3}))}, 1)
	opsWantErr(t, "Add 2×3 + 4×3", err, "2×3", "4×3", "broadcast")
	err = opsErr("Mul", nil, []gcIn{in(opsT([]int{2, 3, 4, 5})), konst(opsT([]int{2, 1, 1}))}, 1)
	opsWantErr(t, "Mul", err, "2×3×4×5", "2×1×1")
	err = opsErr("Add", nil, []gcIn{in(opsT([]int{2, 3}))}, 1)
	opsWantErr(t, "Add one input", err, "want 2 inputs")
}

// TestBinarySelf checks x·x, where both gradients land in one buffer.
func TestBinarySelf(t *testing.T) {
	g := &graph.Graph{Name: "sq", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{3}}}, Outputs: []graph.ValueInfo{{Name: "y"}},
		Nodes: []*graph.Node{{Name: "n", Op: "Mul", Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}}
	p, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	p.SetInputGrad(true)
	x := opsT([]int{3}, 1, -2, 3)
	if _, err := p.Forward(true, x); err != nil {
		t.Fatal(err)
	}
	if err := p.Backward(opsT([]int{3}, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	opsExpect(t, "d(x·x)/dx", p.ValueGrad("x"), []int{3}, []float32{2, -4, 6}, 0)
}

func TestUnaryMath(t *testing.T) {
	x := opsT([]int{4}, 0.25, 1, 2, 4)
	n := opsT([]int{4}, -2, -0.5, 0.5, 3)
	cases := []struct {
		op   string
		x    *tensor.Tensor
		want []float32
	}{
		{"Neg", n, []float32{2, 0.5, -0.5, -3}},
		{"Sqrt", x, []float32{0.5, 1, float32(math.Sqrt2), 2}},
		{"Exp", n, []float32{float32(math.Exp(-2)), float32(math.Exp(-0.5)), float32(math.Exp(0.5)), float32(math.Exp(3))}},
		{"Log", x, []float32{float32(math.Log(0.25)), 0, float32(math.Ln2), float32(math.Log(4))}},
		{"Abs", n, []float32{2, 0.5, 0.5, 3}},
		{"Reciprocal", x, []float32{4, 1, 0.5, 0.25}},
	}
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range cases {
		got := opsRun(t, c.op, nil, []gcIn{in(c.x)}, 1, 1, false)[0]
		opsExpect(t, c.op, got, []int{4}, c.want, 1e-6)
		var gx *tensor.Tensor
		switch c.op {
		case "Sqrt", "Log", "Reciprocal":
			gx = opsRand(r, 0.3, 2, nil, 0, 3, 4)
		default:
			gx = opsRand(r, -2, 2, []float32{0}, 0.05, 3, 4)
		}
		checkGrad(t, c.op, nil, []gcIn{in(gx)}, 1, false)
	}
}

// BenchmarkBinary times the training-step hot paths: residual Add (same
// shape), SE-style Mul by [N,C,1,1] and a [1,C,1,1] bias, forward and
// backward, on a 16×64×56×56 activation.
func BenchmarkBinary(b *testing.B) {
	full := []int{16, 64, 56, 56}
	for _, c := range []struct {
		name string
		kind graph.BinKind
		sb   []int
	}{
		{"add-same", graph.BinAdd, full},
		{"mul-se", graph.BinMul, []int{16, 64, 1, 1}},
		{"add-bias", graph.BinAdd, []int{1, 64, 1, 1}},
	} {
		r := rand.New(rand.NewPCG(1, 1))
		x, y := testutil.UniformTensor(r, full...), testutil.UniformTensor(r, c.sb...)
		out, g := tensor.New(full...), testutil.UniformTensor(r, full...)
		gx, gy := tensor.New(full...), tensor.New(c.sb...)
		for _, threads := range []int{1, 2} {
			ctx := &Ctx{Threads: threads}
			op := &binaryOp{kind: c.kind}
			b.Run(c.name+"/fwd/t"+string(rune('0'+threads)), func(b *testing.B) {
				b.SetBytes(int64(4 * len(out.Data)))
				for b.Loop() {
					if err := op.Forward(ctx, []*tensor.Tensor{x, y}, []*tensor.Tensor{out}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(c.name+"/bwd/t"+string(rune('0'+threads)), func(b *testing.B) {
				b.SetBytes(int64(4 * len(out.Data)))
				for b.Loop() {
					if err := op.Backward(ctx, []*tensor.Tensor{x, y}, []*tensor.Tensor{out}, []*tensor.Tensor{g}, []*tensor.Tensor{gx, gy}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
