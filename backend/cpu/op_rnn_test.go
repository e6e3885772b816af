package cpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func sig64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func clip64(x, c float64) float64 {
	if c > 0 {
		return math.Max(-c, math.Min(c, x))
	}
	return x
}

// naiveLSTM is ONNX's LSTM equations for one forward direction, layout 0,
// default activations: returns Y as [seq][batch][hidden].
func naiveLSTM(x, w, r, bias, p *tensor.Tensor, h, clip float64, inputForget bool) [][][]float64 {
	S, B, I := x.Shape[0], x.Shape[1], x.Shape[2]
	H := int(h)
	at := func(t *tensor.Tensor, i int) float64 {
		if t == nil {
			return 0
		}
		return float64(t.Data[i])
	}
	hp, cp := make([][]float64, B), make([][]float64, B)
	for b := range B {
		hp[b], cp[b] = make([]float64, H), make([]float64, H)
	}
	var ys [][][]float64
	for t := range S {
		hn, cn := make([][]float64, B), make([][]float64, B)
		for b := range B {
			hn[b], cn[b] = make([]float64, H), make([]float64, H)
			gate := func(g, j int) float64 { // X·Wᵀ + H·Rᵀ + Wb + Rb for gate g, unit j
				v := at(bias, g*H+j) + at(bias, 4*H+g*H+j)
				for q := range I {
					v += float64(x.Data[(t*B+b)*I+q]) * float64(w.Data[(g*H+j)*I+q])
				}
				for q := range H {
					v += hp[b][q] * float64(r.Data[(g*H+j)*H+q])
				}
				return v
			}
			for j := range H {
				i := sig64(clip64(gate(0, j)+at(p, j)*cp[b][j], clip))
				f := sig64(clip64(gate(2, j)+at(p, 2*H+j)*cp[b][j], clip))
				if inputForget {
					f = 1 - i
				}
				c := math.Tanh(clip64(gate(3, j), clip))
				cn[b][j] = f*cp[b][j] + i*c
				o := sig64(clip64(gate(1, j)+at(p, H+j)*cn[b][j], clip))
				hn[b][j] = o * math.Tanh(cn[b][j])
			}
		}
		hp, cp = hn, cn
		ys = append(ys, hn)
	}
	return ys
}

// naiveGRU is ONNX's GRU equations, forward, layout 0, default
// activations.
func naiveGRU(x, w, r, bias *tensor.Tensor, H int, clip float64, lbr bool) [][][]float64 {
	S, B, I := x.Shape[0], x.Shape[1], x.Shape[2]
	at := func(t *tensor.Tensor, i int) float64 {
		if t == nil {
			return 0
		}
		return float64(t.Data[i])
	}
	hp := make([][]float64, B)
	for b := range B {
		hp[b] = make([]float64, H)
	}
	var ys [][][]float64
	for t := range S {
		hn := make([][]float64, B)
		for b := range B {
			hn[b] = make([]float64, H)
			xw := func(g, j int) float64 {
				v := at(bias, g*H+j)
				for q := range I {
					v += float64(x.Data[(t*B+b)*I+q]) * float64(w.Data[(g*H+j)*I+q])
				}
				return v
			}
			rh := func(g, j int, hv func(q int) float64) float64 {
				v := at(bias, 3*H+g*H+j)
				for q := range H {
					v += hv(q) * float64(r.Data[(g*H+j)*H+q])
				}
				return v
			}
			plain := func(q int) float64 { return hp[b][q] }
			z, rr := make([]float64, H), make([]float64, H)
			for j := range H {
				z[j] = sig64(clip64(xw(0, j)+rh(0, j, plain), clip))
				rr[j] = sig64(clip64(xw(1, j)+rh(1, j, plain), clip))
			}
			for j := range H {
				var a float64
				if lbr {
					a = xw(2, j) + rr[j]*rh(2, j, plain)
				} else {
					a = xw(2, j) + rh(2, j, func(q int) float64 { return rr[q] * hp[b][q] })
				}
				hc := math.Tanh(clip64(a, clip))
				hn[b][j] = (1-z[j])*hc + z[j]*hp[b][j]
			}
		}
		hp = hn
		ys = append(ys, hn)
	}
	return ys
}

func flatY(ys [][][]float64) []float32 {
	var out []float32
	for _, s := range ys {
		for _, b := range s {
			for _, v := range b {
				out = append(out, float32(v))
			}
		}
	}
	return out
}

func TestLSTMGRUForward(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	u := func(s ...int) *tensor.Tensor { return testutil.UniformTensor(r, s...) }
	const S, B, I, H = 4, 2, 3, 5
	x := u(S, B, I)
	for _, c := range []struct {
		attrs  graph.Attrs
		peep   bool
		clip   float64
		forget bool
	}{
		{graph.Attrs{}, false, 0, false},
		{graph.Attrs{}, true, 0, false},
		{graph.Attrs{"clip": float32(0.3)}, true, 0.3, false},
		{graph.Attrs{"input_forget": 1}, false, 0, true},
	} {
		c.attrs["hidden_size"] = H
		w, rr, b, p := u(1, 4*H, I), u(1, 4*H, H), u(1, 8*H), u(1, 3*H)
		ins := []gcIn{in(x), param(w), param(rr), param(b)}
		var pt *tensor.Tensor
		if c.peep {
			ins = append(ins, opsOmitted, opsOmitted, opsOmitted, param(p))
			pt = p
		}
		want := flatY(naiveLSTM(x, w, rr, b, pt, H, c.clip, c.forget))
		got := opsRun(t, "LSTM", c.attrs, ins, 1, 2, false)[0]
		opsExpect(t, "LSTM", got, []int{S, 1, B, H}, want, 1e-5)
	}
	for _, c := range []struct {
		attrs graph.Attrs
		clip  float64
		lbr   bool
	}{
		{graph.Attrs{}, 0, false},
		{graph.Attrs{"linear_before_reset": 1}, 0, true},
		{graph.Attrs{"clip": float32(0.4), "linear_before_reset": 1}, 0.4, true},
		{graph.Attrs{"clip": float32(0.4)}, 0.4, false},
	} {
		c.attrs["hidden_size"] = H
		w, rr, b := u(1, 3*H, I), u(1, 3*H, H), u(1, 6*H)
		want := flatY(naiveGRU(x, w, rr, b, H, c.clip, c.lbr))
		got := opsRun(t, "GRU", c.attrs, []gcIn{in(x), param(w), param(rr), param(b)}, 1, 2, false)[0]
		opsExpect(t, "GRU", got, []int{S, 1, B, H}, want, 1e-5)
	}
}

// reverseSeq reverses a [seq, …] tensor along its first axis.
func reverseSeq(x *tensor.Tensor) *tensor.Tensor {
	y := x.Clone()
	n := len(x.Data) / x.Shape[0]
	for t := range x.Shape[0] {
		copy(y.Data[t*n:(t+1)*n], x.Data[(x.Shape[0]-1-t)*n:(x.Shape[0]-t)*n])
	}
	return y
}

// swap01 transposes the first two axes of a tensor.
func swap01(x *tensor.Tensor) *tensor.Tensor {
	a, b := x.Shape[0], x.Shape[1]
	n := len(x.Data) / (a * b)
	y := &tensor.Tensor{Shape: append([]int{b, a}, x.Shape[2:]...), Data: make([]float32, len(x.Data))}
	for i := range a {
		for j := range b {
			copy(y.Data[(j*a+i)*n:(j*a+i+1)*n], x.Data[(i*b+j)*n:(i*b+j+1)*n])
		}
	}
	return y
}

// Reverse is forward on the reversed sequence; bidirectional stacks both
// with their own weights; layout 1 is layout 0 with batch and sequence
// swapped.
func TestRNNDirectionsAndLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	u := func(s ...int) *tensor.Tensor { return testutil.UniformTensor(r, s...) }
	const S, B, I, H = 3, 2, 4, 3
	for _, op := range []string{"LSTM", "GRU"} {
		g := map[string]int{"LSTM": 4, "GRU": 3}[op]
		x := u(S, B, I)
		w, rr, b := u(2, g*H, I), u(2, g*H, H), u(2, 2*g*H)
		h0 := u(2, B, H)
		slice := func(t *tensor.Tensor, d int) *tensor.Tensor {
			n := len(t.Data) / t.Shape[0]
			return &tensor.Tensor{Shape: append([]int{1}, t.Shape[1:]...), Data: append([]float32(nil), t.Data[d*n:(d+1)*n]...)}
		}
		run := func(attrs graph.Attrs, x, w, rr, b, h0 *tensor.Tensor) []*tensor.Tensor {
			attrs["hidden_size"] = H
			return opsRun(t, op, attrs, []gcIn{in(x), param(w), param(rr), param(b), opsOmitted, param(h0)}, 2, 1, false)
		}
		fwd := run(graph.Attrs{}, x, slice(w, 0), slice(rr, 0), slice(b, 0), slice(h0, 0))
		rev := run(graph.Attrs{"direction": "reverse"}, x, slice(w, 1), slice(rr, 1), slice(b, 1), slice(h0, 1))
		revRef := run(graph.Attrs{}, reverseSeq(x), slice(w, 1), slice(rr, 1), slice(b, 1), slice(h0, 1))
		opsExpect(t, op+" reverse", rev[0], []int{S, 1, B, H}, reverseSeq(revRef[0]).Data, 1e-6)
		opsExpect(t, op+" reverse Y_h", rev[1], []int{1, B, H}, revRef[1].Data, 1e-6)
		bi := run(graph.Attrs{"direction": "bidirectional"}, x, w, rr, b, h0)
		var want []float32
		for s := range S {
			want = append(want, fwd[0].Data[s*B*H:(s+1)*B*H]...)
			want = append(want, rev[0].Data[s*B*H:(s+1)*B*H]...)
		}
		opsExpect(t, op+" bidirectional", bi[0], []int{S, 2, B, H}, want, 1e-6)
		opsExpect(t, op+" bidirectional Y_h", bi[1], []int{2, B, H}, append(append([]float32(nil), fwd[1].Data...), rev[1].Data...), 1e-6)
		lay := run(graph.Attrs{"direction": "bidirectional", "layout": 1}, swap01(x), w, rr, b, swap01(h0))
		// Y [S, D, B, H] → [B, S, D, H]: (S·D) × B swapped.
		yT := swap01(&tensor.Tensor{Shape: []int{S * 2, B, H}, Data: bi[0].Data})
		opsExpect(t, op+" layout 1", lay[0], []int{B, S, 2, H}, yT.Data, 1e-6)
		opsExpect(t, op+" layout 1 Y_h", lay[1], []int{B, 2, H}, swap01(bi[1]).Data, 1e-6)
	}
}

func TestRNNGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	u := func(s ...int) *tensor.Tensor { return testutil.UniformTensor(r, s...) }
	const S, B, I, H = 3, 2, 3, 2
	h := graph.Attrs{"hidden_size": H}
	with := func(kv ...any) graph.Attrs {
		a := graph.Attrs{"hidden_size": H}
		for i := 0; i+1 < len(kv); i += 2 {
			a[kv[i].(string)] = kv[i+1]
		}
		return a
	}
	checkGrad(t, "LSTM", h, []gcIn{in(u(S, B, I)), param(u(1, 4*H, I)), param(u(1, 4*H, H)), param(u(1, 8*H)),
		opsOmitted, in(u(1, B, H)), in(u(1, B, H)), param(u(1, 3*H))}, 3, false)
	checkGrad(t, "LSTM", with("direction", "bidirectional", "layout", 1), []gcIn{in(u(B, S, I)), param(u(2, 4*H, I)), param(u(2, 4*H, H))}, 3, false)
	checkGrad(t, "LSTM", with("input_forget", 1, "direction", "reverse"), []gcIn{in(u(S, B, I)), param(u(1, 4*H, I)), param(u(1, 4*H, H)), param(u(1, 8*H))}, 2, false)
	checkGrad(t, "GRU", h, []gcIn{in(u(S, B, I)), param(u(1, 3*H, I)), param(u(1, 3*H, H)), param(u(1, 6*H)), opsOmitted, in(u(1, B, H))}, 2, false)
	checkGrad(t, "GRU", with("linear_before_reset", 1, "direction", "bidirectional"), []gcIn{in(u(S, B, I)), param(u(2, 3*H, I)), param(u(2, 3*H, H)), param(u(2, 6*H))}, 2, false)
	checkGrad(t, "GRU", with("layout", 1, "direction", "reverse"), []gcIn{in(u(B, S, I)), param(u(1, 3*H, I)), param(u(1, 3*H, H)), param(u(1, 6*H))}, 1, false)
}

func TestRNNBadInput(t *testing.T) {
	x, w, r := opsT([]int{2, 1, 3}), opsT([]int{1, 8, 3}), opsT([]int{1, 8, 2})
	for _, c := range []struct {
		attrs graph.Attrs
		ins   []gcIn
		want  string
	}{
		{graph.Attrs{}, []gcIn{in(x), param(w), param(r)}, "hidden_size is 0"},
		{graph.Attrs{"hidden_size": 2, "direction": "sideways"}, []gcIn{in(x), param(w), param(r)}, "direction"},
		{graph.Attrs{"hidden_size": 2, "activations": []string{"Sigmoid", "Gelu", "Tanh"}}, []gcIn{in(x), param(w), param(r)}, `"Gelu" is not supported`},
		{graph.Attrs{"hidden_size": 2, "activations": []string{"Sigmoid"}}, []gcIn{in(x), param(w), param(r)}, "want 3"},
		{graph.Attrs{"hidden_size": 3}, []gcIn{in(x), param(w), param(r)}, "W must be 1×12×3"},
		{graph.Attrs{"hidden_size": 2}, []gcIn{in(x), param(w), param(r), opsOmitted, konst(opsT([]int{1}, 2))}, "sequence_lens is not supported"},
		{graph.Attrs{"hidden_size": 2, "linear_before_reset": 1}, []gcIn{in(x), param(w), param(r)}, "no attribute linear_before_reset"},
	} {
		_, _, err := opsCompile("LSTM", c.attrs, c.ins, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LSTM %v: error %v, want one saying %q", c.attrs, err, c.want)
		}
	}
}
