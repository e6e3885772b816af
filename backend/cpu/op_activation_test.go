package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func TestActivationValues(t *testing.T) {
	xs := []float32{-4, -1, -0.5, 0, 0.5, 1, 4}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	cases := []struct {
		op    string
		attrs graph.Attrs
		f     func(v float64) float64
	}{
		{"Relu", nil, func(v float64) float64 { return math.Max(v, 0) }},
		{"LeakyRelu", nil, func(v float64) float64 {
			if v < 0 {
				return 0.01 * v
			}
			return v
		}},
		{"LeakyRelu", graph.Attrs{"alpha": float32(0.2)}, func(v float64) float64 {
			if v < 0 {
				return 0.2 * v
			}
			return v
		}},
		{"Sigmoid", nil, sig},
		{"HardSigmoid", nil, func(v float64) float64 { return math.Max(0, math.Min(1, 0.2*v+0.5)) }},
		{"HardSigmoid", graph.Attrs{"alpha": float32(0.5), "beta": float32(0.25)}, func(v float64) float64 { return math.Max(0, math.Min(1, 0.5*v+0.25)) }},
		{"HardSwish", nil, func(v float64) float64 { return v * math.Max(0, math.Min(1, v/6+0.5)) }},
		{"Tanh", nil, math.Tanh},
		{"Identity", nil, func(v float64) float64 { return v }},
		{"Elu", nil, func(v float64) float64 { return elu(v, 1) }},
		{"Elu", graph.Attrs{"alpha": float32(0.5)}, func(v float64) float64 { return elu(v, 0.5) }},
		{"Selu", nil, func(v float64) float64 { return 1.0507009873554805 * elu(v, 1.6732632423543772) }},
		{"Celu", graph.Attrs{"alpha": float32(2)}, func(v float64) float64 { return math.Max(0, v) + math.Min(0, 2*(math.Exp(v/2)-1)) }},
		{"Softplus", nil, func(v float64) float64 { return math.Log(1 + math.Exp(v)) }},
		{"Softsign", nil, func(v float64) float64 { return v / (1 + math.Abs(v)) }},
		{"ThresholdedRelu", graph.Attrs{"alpha": float32(0.5)}, func(v float64) float64 {
			if v > 0.5 {
				return v
			}
			return 0
		}},
	}
	for _, c := range cases {
		want := make([]float32, len(xs))
		for i, v := range xs {
			want[i] = float32(c.f(float64(v)))
		}
		got := opsRun(t, c.op, c.attrs, []gcIn{in(opsT([]int{7}, xs...))}, 1, 1, false)[0]
		opsExpect(t, c.op, got, []int{7}, want, 1e-6)
	}
	// Hand-checked points.
	got := opsRun(t, "HardSwish", nil, []gcIn{in(opsT([]int{4}, -3, -1.5, 1.5, 3))}, 1, 1, false)[0]
	opsExpect(t, "HardSwish points", got, []int{4}, []float32{0, -0.375, 1.125, 3}, 1e-6)
	// Softplus neither overflows nor underflows for large |x|.
	got = opsRun(t, "Softplus", nil, []gcIn{in(opsT([]int{2}, -200, 200))}, 1, 1, false)[0]
	opsExpect(t, "Softplus extremes", got, []int{2}, []float32{0, 200}, 0)
	// Sigmoid is stable for large |x|.
	got = opsRun(t, "Sigmoid", nil, []gcIn{in(opsT([]int{2}, -200, 200))}, 1, 1, false)[0]
	opsExpect(t, "Sigmoid extremes", got, []int{2}, []float32{0, 1}, 0)
}

func elu(v, alpha float64) float64 {
	if v > 0 {
		return v
	}
	return alpha * (math.Exp(v) - 1)
}

// TestPRelu: per-channel and shared slopes, gradients for x and the slope.
func TestPRelu(t *testing.T) {
	x := opsT([]int{1, 2, 2}, -2, 3, -4, 5)
	got := opsRun(t, "PRelu", nil, []gcIn{in(x), konst(opsT([]int{2, 1}, 0.5, 0.25))}, 1, 1, false)[0]
	opsExpect(t, "PRelu per channel", got, []int{1, 2, 2}, opsF(-1, 3, -1, 5), 0)
	got = opsRun(t, "PRelu", nil, []gcIn{in(x), konst(opsT([]int{1}, 0.1))}, 1, 1, false)[0]
	opsExpect(t, "PRelu shared", got, []int{1, 2, 2}, opsF(-0.2, 3, -0.4, 5), 1e-7)
	opsWantErr(t, "PRelu slope wider than x", opsErr("PRelu", nil, []gcIn{in(opsT([]int{2}, 1, 2)), konst(opsT([]int{2, 2}, 1, 2, 3, 4))}, 1), "slope")
	r := rand.New(rand.NewPCG(13, 14))
	checkGrad(t, "PRelu", nil, []gcIn{in(opsRand(r, -2, 2, []float32{0}, 0.05, 2, 3, 4, 4)), param(opsRand(r, 0.1, 0.5, nil, 0, 3, 1, 1))}, 1, false)
	checkGrad(t, "PRelu", nil, []gcIn{in(opsRand(r, -2, 2, []float32{0}, 0.05, 2, 5)), param(opsRand(r, 0.1, 0.5, nil, 0, 1))}, 1, false)
}

func TestActivationGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		op    string
		attrs graph.Attrs
		kinks []float32
	}{
		{"Relu", nil, []float32{0}},
		{"LeakyRelu", graph.Attrs{"alpha": float32(0.1)}, []float32{0}},
		{"Sigmoid", nil, nil},
		{"HardSigmoid", nil, []float32{-2.5, 2.5}},
		{"HardSwish", nil, []float32{-3, 3}},
		{"Tanh", nil, nil},
		{"Identity", nil, nil},
		{"Elu", graph.Attrs{"alpha": float32(0.7)}, []float32{0}},
		{"Selu", nil, []float32{0}},
		{"Celu", graph.Attrs{"alpha": float32(1.5)}, nil},
		{"Softplus", nil, nil},
		{"Softsign", nil, []float32{0}},
		{"ThresholdedRelu", graph.Attrs{"alpha": float32(0.5)}, []float32{0.5}},
	}
	for _, c := range cases {
		x := opsRand(r, -4, 4, c.kinks, 0.05, 2, 3, 4)
		checkGrad(t, c.op, c.attrs, []gcIn{in(x)}, 1, false)
	}
}

func TestActivationParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := testutil.UniformTensor(r, 2, 1<<16)
	for _, op := range []string{"Relu", "Tanh"} {
		a := opsRun(t, op, nil, []gcIn{in(x)}, 1, 1, false)[0]
		b := opsRun(t, op, nil, []gcIn{in(x)}, 1, 2, false)[0]
		if d, _ := tensor.MaxAbsDiff(a, b); d != 0 {
			t.Errorf("%s: 1 vs 2 threads differ by %g", op, d)
		}
	}
}

func TestClip(t *testing.T) {
	x := opsT([]int{6}, -2, -0.5, 0.5, 3, 6.5, 8)
	cases := []struct {
		name  string
		attrs graph.Attrs
		ins   []gcIn
		want  []float32
	}{
		{"relu6 inputs", nil, []gcIn{in(x), konst(opsT(nil, 0)), konst(opsT(nil, 6))}, []float32{0, 0, 0.5, 3, 6, 6}},
		{"relu6 attrs", graph.Attrs{"min": float32(0), "max": float32(6)}, []gcIn{in(x)}, []float32{0, 0, 0.5, 3, 6, 6}},
		{"min only", nil, []gcIn{in(x), konst(opsT(nil, 1))}, []float32{1, 1, 1, 3, 6.5, 8}},
		{"max only", nil, []gcIn{in(x), opsOmitted, konst(opsT(nil, 1))}, []float32{-2, -0.5, 0.5, 1, 1, 1}},
		{"no bounds", nil, []gcIn{in(x)}, []float32{-2, -0.5, 0.5, 3, 6.5, 8}},
		{"min > max", nil, []gcIn{in(x), konst(opsT(nil, 2)), konst(opsT(nil, 1))}, []float32{1, 1, 1, 1, 1, 1}},
		{"1-element bounds", nil, []gcIn{in(x), konst(opsT([]int{1}, -1)), konst(opsT([]int{1}, 1))}, []float32{-1, -0.5, 0.5, 1, 1, 1}},
	}
	for _, c := range cases {
		got := opsRun(t, "Clip", c.attrs, c.ins, 1, 1, false)[0]
		opsExpect(t, "Clip "+c.name, got, []int{6}, c.want, 0)
	}
	r := rand.New(rand.NewPCG(15, 16))
	xg := opsRand(r, -2, 8, []float32{0, 6}, 0.05, 3, 5)
	checkGrad(t, "Clip", nil, []gcIn{in(xg), konst(opsT(nil, 0)), konst(opsT(nil, 6))}, 1, false)
	checkGrad(t, "Clip", graph.Attrs{"min": float32(0), "max": float32(6)}, []gcIn{in(xg)}, 1, false)
	// Bounds as trainable params get the gradient of what they clamp.
	xb := opsRand(r, -2, 8, []float32{0.3, 5.7}, 0.05, 3, 5)
	checkGrad(t, "Clip", nil, []gcIn{in(xb), param(opsT(nil, 0.3)), param(opsT(nil, 5.7))}, 1, false)

	err := opsErr("Clip", nil, []gcIn{in(x), konst(opsT([]int{2}, 0, 1))}, 1)
	opsWantErr(t, "Clip vector min", err, "min", "scalar")
}

func TestSoftmax(t *testing.T) {
	x := opsT([]int{2, 3}, 1, 2, 3, 1000, 1000, 1000)
	e1, e2, e3 := math.Exp(1), math.Exp(2), math.Exp(3)
	s := e1 + e2 + e3
	got := opsRun(t, "Softmax", nil, []gcIn{in(x)}, 1, 1, false)[0]
	opsExpect(t, "Softmax last axis", got, []int{2, 3}, []float32{float32(e1 / s), float32(e2 / s), float32(e3 / s), 1. / 3, 1. / 3, 1. / 3}, 1e-6)

	// axis 0 of a 2×3: columns sum to one.
	x = opsT([]int{2, 3}, 0, 1, 2, 0, 0, 0)
	got = opsRun(t, "Softmax", graph.Attrs{"axis": 0}, []gcIn{in(x)}, 1, 1, false)[0]
	a, b := 1/(1+math.Exp(-1)), 1/(1+math.Exp(-2))
	opsExpect(t, "Softmax axis 0", got, []int{2, 3}, []float32{0.5, float32(a), float32(b), 0.5, float32(1 - a), float32(1 - b)}, 1e-6)

	// axis 1 of a rank-3 tensor equals axis −2.
	r := rand.New(rand.NewPCG(17, 18))
	x3 := testutil.UniformTensor(r, 2, 3, 4)
	g1 := opsRun(t, "Softmax", graph.Attrs{"axis": 1}, []gcIn{in(x3)}, 1, 1, false)[0]
	g2 := opsRun(t, "Softmax", graph.Attrs{"axis": -2}, []gcIn{in(x3)}, 1, 1, false)[0]
	for o := 0; o < 2; o++ {
		for k := 0; k < 4; k++ {
			sum := float32(0)
			for j := 0; j < 3; j++ {
				sum += g1.Data[o*12+j*4+k]
			}
			if math.Abs(float64(sum-1)) > 1e-6 {
				t.Errorf("Softmax axis 1: column (%d,%d) sums to %g", o, k, sum)
			}
		}
	}
	if d, _ := tensor.MaxAbsDiff(g1, g2); d != 0 {
		t.Errorf("Softmax axis 1 vs -2 differ by %g", d)
	}
	for _, axis := range []int{-1, 0, 1, 2} {
		checkGrad(t, "Softmax", graph.Attrs{"axis": axis}, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4))}, 1, false)
		checkGrad(t, "LogSoftmax", graph.Attrs{"axis": axis}, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4))}, 1, false)
	}
	// LogSoftmax is log(Softmax), without overflow for large inputs.
	big := opsT([]int{1, 3}, 1000, 1001, 999)
	ls := opsRun(t, "LogSoftmax", nil, []gcIn{in(big)}, 1, 1, false)[0]
	sm := opsRun(t, "Softmax", nil, []gcIn{in(big)}, 1, 1, false)[0]
	for i, v := range sm.Data {
		if d := math.Abs(float64(ls.Data[i]) - math.Log(float64(v))); d > 1e-5 {
			t.Errorf("LogSoftmax[%d] = %g, log Softmax = %g", i, ls.Data[i], math.Log(float64(v)))
		}
	}
	opsWantErr(t, "Softmax axis 3", opsErr("Softmax", graph.Attrs{"axis": 3}, []gcIn{in(x3)}, 1), "axis 3")
}

func TestDropout(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	x := opsRand(r, 0.5, 1.5, nil, 0, 100, 100)
	// Inference: identity, mask all ones.
	outs := opsRun(t, "Dropout", graph.Attrs{"ratio": float32(0.3)}, []gcIn{in(x)}, 2, 1, false)
	opsExpect(t, "Dropout inference", outs[0], x.Shape, x.Data, 0)
	for _, m := range outs[1].Data {
		if m != 1 {
			t.Fatalf("Dropout inference mask has %g", m)
		}
	}
	// Training: about ratio dropped, kept elements scaled by 1/(1−ratio),
	// mask consistent; ratio from input 1 overrides the attribute.
	for _, c := range []struct {
		attrs graph.Attrs
		ins   []gcIn
		ratio float64
	}{
		{graph.Attrs{"ratio": float32(0.3)}, []gcIn{in(x)}, 0.3},
		{nil, []gcIn{in(x)}, 0.5},
		{graph.Attrs{"ratio": float32(0.9)}, []gcIn{in(x), konst(opsT(nil, 0.2)), konst(opsT(nil, 1))}, 0.2},
	} {
		outs := opsRun(t, "Dropout", c.attrs, c.ins, 2, 1, true)
		dropped := 0
		for i, v := range outs[0].Data {
			m := outs[1].Data[i]
			switch {
			case m == 0 && v == 0:
				dropped++
			case m == 1 && math.Abs(float64(v)-float64(x.Data[i])/(1-c.ratio)) < 1e-5:
			default:
				t.Fatalf("Dropout ratio %g: element %d = %g with mask %g, input %g", c.ratio, i, v, m, x.Data[i])
			}
		}
		frac := float64(dropped) / float64(len(x.Data))
		if math.Abs(frac-c.ratio) > 0.03 {
			t.Errorf("Dropout ratio %g: dropped %.3f", c.ratio, frac)
		}
	}
	// Ratio 0 in training is the identity.
	outs = opsRun(t, "Dropout", graph.Attrs{"ratio": float32(0)}, []gcIn{in(x)}, 1, 1, true)
	opsExpect(t, "Dropout ratio 0", outs[0], x.Shape, x.Data, 0)

	xs := testutil.UniformTensor(r, 4, 8)
	checkGrad(t, "Dropout", graph.Attrs{"ratio": float32(0.4)}, []gcIn{in(xs)}, 1, true)
	checkGrad(t, "Dropout", graph.Attrs{"ratio": float32(0.4)}, []gcIn{in(xs)}, 2, true)
	checkGrad(t, "Dropout", nil, []gcIn{in(xs), konst(opsT(nil, 0.25))}, 1, true)
	checkGrad(t, "Dropout", nil, []gcIn{in(xs)}, 1, false)

	// The backward pass applies exactly the forward mask.
	p, xsIn, err := opsCompile("Dropout", nil, []gcIn{in(xs)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.SetInputGrad(true)
	outs2, err := p.Forward(true, xsIn...)
	if err != nil {
		t.Fatal(err)
	}
	mask := outs2[1].Clone()
	ones := opsT(xs.Shape)
	ones.Fill(1)
	if err := p.Backward(ones, opsT(xs.Shape)); err != nil {
		t.Fatal(err)
	}
	for i, v := range p.ValueGrad("x0").Data {
		if v != mask.Data[i]*2 {
			t.Fatalf("Dropout grad [%d] = %g, mask %g", i, v, mask.Data[i])
		}
	}
}

func TestInstanceNormAndLRN(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	// InstanceNorm: each plane comes out with mean B and deviation |scale|.
	x := testutil.UniformTensor(r, 2, 3, 4, 5)
	scale, bias := opsT([]int{3}, 1, 2, 0.5), opsT([]int{3}, 0, 1, -1)
	y := opsRun(t, "InstanceNormalization", graph.Attrs{"epsilon": float32(0)}, []gcIn{in(x), konst(scale), konst(bias)}, 1, 2, false)[0]
	for p := 0; p < 6; p++ {
		var s, q float64
		for _, v := range y.Data[p*20 : (p+1)*20] {
			s += float64(v)
		}
		mu := s / 20
		for _, v := range y.Data[p*20 : (p+1)*20] {
			q += (float64(v) - mu) * (float64(v) - mu)
		}
		if math.Abs(mu-float64(bias.Data[p%3])) > 1e-5 || math.Abs(math.Sqrt(q/20)-float64(scale.Data[p%3])) > 1e-4 {
			t.Errorf("plane %d: mean %g, deviation %g", p, mu, math.Sqrt(q/20))
		}
	}
	checkGrad(t, "InstanceNormalization", nil, []gcIn{in(testutil.UniformTensor(r, 2, 3, 4, 3)), param(testutil.UniformTensor(r, 3)), param(testutil.UniformTensor(r, 3))}, 1, false)
	checkGrad(t, "InstanceNormalization", nil, []gcIn{in(testutil.UniformTensor(r, 2, 2, 7)), param(testutil.UniformTensor(r, 2)), param(testutil.UniformTensor(r, 2))}, 1, false)
	opsWantErr(t, "InstanceNorm scale", opsErr("InstanceNormalization", nil, []gcIn{in(x), konst(testutil.UniformTensor(r, 2)), konst(bias)}, 1), "scale must be 3")

	// LRN against the definition, then gradients for odd and even sizes.
	x = testutil.UniformTensor(r, 2, 5, 3, 2)
	for _, size := range []int{1, 2, 3, 4, 5} {
		attrs := graph.Attrs{"size": size, "alpha": float32(0.5), "beta": float32(0.75), "bias": float32(2)}
		got := opsRun(t, "LRN", attrs, []gcIn{in(x)}, 1, 1, false)[0]
		for i := 0; i < 2; i++ {
			for c := 0; c < 5; c++ {
				for j := 0; j < 6; j++ {
					var s float64
					for cc := max(c-(size-1)/2, 0); cc <= min(c+size/2, 4); cc++ {
						v := float64(x.Data[(i*5+cc)*6+j])
						s += v * v
					}
					want := float64(x.Data[(i*5+c)*6+j]) / math.Pow(2+0.5/float64(size)*s, 0.75)
					if d := math.Abs(float64(got.Data[(i*5+c)*6+j]) - want); d > 1e-5 {
						t.Fatalf("LRN size %d: [%d,%d,%d] = %g, want %g", size, i, c, j, got.Data[(i*5+c)*6+j], want)
					}
				}
			}
		}
		checkGrad(t, "LRN", attrs, []gcIn{in(testutil.UniformTensor(r, 2, 5, 2, 2))}, 1, false)
	}
	opsWantErr(t, "LRN size", opsErr("LRN", nil, []gcIn{in(x)}, 1), "size")
}
