package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Helpers shared by the op_*_test.go files of the elementwise, activation,
// shape and misc ops.

// opsOmitted is an opsOmitted optional input.
var opsOmitted = gcIn{}

// opsT makes a tensor of the given shape from values (zeros when none).
func opsT(shape []int, vals ...float32) *tensor.Tensor {
	t := tensor.New(shape...)
	t.Shape = graph.CloneShape(shape)
	if len(vals) > 0 {
		if len(vals) != len(t.Data) {
			panic("opsT: wrong number of values")
		}
		copy(t.Data, vals)
	}
	return t
}

// opsRand returns a tensor uniform in [lo, hi) whose values stay at least
// gap away from each of avoid (the kinks of piecewise functions).
func opsRand(r *rand.Rand, lo, hi float32, avoid []float32, gap float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
	again:
		v := lo + r.Float32()*(hi-lo)
		for _, k := range avoid {
			if v > k-gap && v < k+gap {
				goto again
			}
		}
		t.Data[i] = v
	}
	return t
}

// opsCompile compiles a one-node graph.
func opsCompile(op string, attrs graph.Attrs, ins []gcIn, nOut int) (*Program, []*tensor.Tensor, error) {
	g := singleNodeGraph(op, attrs, ins, nOut)
	p, err := Compile(g)
	if err != nil {
		return nil, nil, err
	}
	var xs []*tensor.Tensor
	for _, x := range ins {
		if x.t != nil && x.kind == gcInput {
			xs = append(xs, x.t)
		}
	}
	return p, xs, nil
}

// opsRun runs a one-node graph forward with the given thread count and
// returns its outputs.
func opsRun(t *testing.T, op string, attrs graph.Attrs, ins []gcIn, nOut, threads int, train bool) []*tensor.Tensor {
	t.Helper()
	p, xs, err := opsCompile(op, attrs, ins, nOut)
	if err != nil {
		t.Fatalf("%s: compile: %v", op, err)
	}
	p.Threads = threads
	outs, err := p.Forward(train, xs...)
	if err != nil {
		t.Fatalf("%s: forward: %v", op, err)
	}
	res := make([]*tensor.Tensor, len(outs))
	for i, o := range outs {
		res[i] = o.Clone()
	}
	return res
}

// opsGrads runs forward (training) and backward with the given output
// gradients and returns the gradient of every gcInput and gcParam, in
// order.
func opsGrads(t *testing.T, op string, attrs graph.Attrs, ins []gcIn, gouts []*tensor.Tensor, threads int) []*tensor.Tensor {
	t.Helper()
	p, xs, err := opsCompile(op, attrs, ins, len(gouts))
	if err != nil {
		t.Fatalf("%s: compile: %v", op, err)
	}
	p.Threads = threads
	p.SetInputGrad(true)
	if _, err := p.Forward(true, xs...); err != nil {
		t.Fatalf("%s: forward: %v", op, err)
	}
	if err := p.Backward(gouts...); err != nil {
		t.Fatalf("%s: backward: %v", op, err)
	}
	var gs []*tensor.Tensor
	for i, x := range ins {
		name := "x" + string(rune('0'+i))
		switch {
		case x.t == nil:
		case x.kind == gcInput:
			gs = append(gs, p.ValueGrad(name).Clone())
		case x.kind == gcParam:
			gs = append(gs, p.Grad(name).Clone())
		}
	}
	return gs
}

// opsErr returns the error of compiling and running a one-node graph (nil
// when both succeed).
func opsErr(op string, attrs graph.Attrs, ins []gcIn, nOut int) error {
	p, xs, err := opsCompile(op, attrs, ins, nOut)
	if err != nil {
		return err
	}
	_, err = p.Forward(false, xs...)
	return err
}

// opsWantErr checks that err is non-nil and mentions every fragment.
func opsWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

// opsExpect compares a tensor with a shape and values.
func opsExpect(t *testing.T, what string, got *tensor.Tensor, shape []int, vals []float32, tol float64) {
	t.Helper()
	if !slices.Equal(got.Shape, shape) && !(len(got.Shape) == 0 && len(shape) == 0) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape, shape)
		return
	}
	if len(got.Data) != len(vals) {
		t.Errorf("%s: %d values, want %d", what, len(got.Data), len(vals))
		return
	}
	for i, v := range vals {
		g := got.Data[i]
		if math.IsNaN(float64(v)) && math.IsNaN(float64(g)) {
			continue
		}
		if math.Abs(float64(g-v)) > tol*math.Max(1, math.Abs(float64(v))) {
			t.Errorf("%s: [%d] = %g, want %g (all: %v)", what, i, g, v, got.Data)
			return
		}
	}
}

// opsUnravel returns the multi-index of flat index i in shape.
func opsUnravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

// opsBcastIndex returns the flat index in shape s of output index idx under
// numpy broadcasting.
func opsBcastIndex(idx, s []int) int {
	off := len(idx) - len(s)
	f := 0
	for d, n := range s {
		i := idx[off+d]
		if n == 1 {
			i = 0
		}
		f = f*n + i
	}
	return f
}

func TestStridePlanMerges(t *testing.T) {
	// [N,C,H,W] op [N,C,1,1] → rows of H·W with a scalar per row.
	p := newBroadcastPlan([]int{2, 3, 4, 5}, []int{2, 3, 4, 5}, []int{2, 3, 1, 1})
	if !slices.Equal(p.dims, []int{6, 20}) || p.inner(0) != 1 || p.inner(1) != 0 {
		t.Errorf("NCHW·NC11 plan: dims %v strides %v", p.dims, p.st)
	}
	p = newBroadcastPlan([]int{2, 3, 4, 5}, []int{2, 3, 4, 5}, []int{3, 1, 1})
	if !slices.Equal(p.dims, []int{2, 3, 20}) {
		t.Errorf("NCHW+C11 plan: dims %v strides %v", p.dims, p.st)
	}
	p = newBroadcastPlan([]int{2, 3}, []int{2, 3}, []int{2, 3})
	if !slices.Equal(p.dims, []int{6}) {
		t.Errorf("same-shape plan: dims %v", p.dims)
	}
	// Every split of the flat range visits each index once with the
	// right offsets.
	p = newBroadcastPlan([]int{3, 4, 5}, []int{3, 1, 5}, []int{4, 1})
	for _, cut := range []int{0, 1, 7, 23, 59, 60} {
		seen := make([]bool, p.n)
		check := func(o, n int, off []int) {
			for j := range n {
				idx := opsUnravel(o+j, []int{3, 4, 5})
				if seen[o+j] {
					t.Fatalf("index %d visited twice", o+j)
				}
				seen[o+j] = true
				if a := off[0] + j*p.inner(0); a != opsBcastIndex(idx, []int{3, 1, 5}) {
					t.Fatalf("index %d: operand 0 offset %d", o+j, a)
				}
				if b := off[1] + j*p.inner(1); b != opsBcastIndex(idx, []int{4, 1}) {
					t.Fatalf("index %d: operand 1 offset %d", o+j, b)
				}
			}
		}
		p.each(0, cut, check)
		p.each(cut, p.n, check)
		if slices.Contains(seen, false) {
			t.Fatalf("cut %d: not every index visited", cut)
		}
	}
}
