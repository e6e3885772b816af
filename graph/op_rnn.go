package graph

// LSTM and GRU (ONNX opsets 7–14, layout from 14): every direction
// (forward, reverse, bidirectional), both layouts, the optional biases,
// initial states and LSTM peepholes, clip, LSTM's input_forget, GRU's
// linear_before_reset, and the activations ONNX lists for recurrent ops.
// sequence_lens must be absent (every sequence has the full length).
// Backward runs through time.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "LSTM", Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return inferRNN(n, in, LstmCell) },
		Params: rnnParams(LstmCell), MACs: rnnMACs(LstmCell), Init: rnnInit})
	RegisterOp(OpSpec{Type: "GRU", Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return inferRNN(n, in, GruCell) },
		Params: rnnParams(GruCell), MACs: rnnMACs(GruCell), Init: rnnInit})
}

// RnnKind says which cell a node runs.
type RnnKind int

const (
	LstmCell RnnKind = iota
	GruCell
)

func (k RnnKind) name() string { return [...]string{"LSTM", "GRU"}[k] }

// Gates is the number of gate blocks in W and R: LSTM i, o, f, c; GRU
// z, r, h.
func (k RnnKind) Gates() int { return [...]int{4, 3}[k] }

// acts is the number of activations per direction (f, g, h; f, g).
func (k RnnKind) acts() int { return [...]int{3, 2}[k] }

// rnnAct is one activation and its derivative, both of the
// pre-activation.
type rnnAct struct {
	F, D func(x float64) float64
}

// rnnActivation builds a named activation; alpha and beta are the next
// values of activation_alpha and activation_beta (NaN when the lists have
// run out, for the defaults). It reports how many of each it used.
func rnnActivation(name string, alpha, beta float64) (rnnAct, bool, bool, error) {
	or := func(v, def float64) float64 {
		if math.IsNaN(v) {
			return def
		}
		return v
	}
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	switch strings.ToLower(name) {
	case "sigmoid":
		return rnnAct{sig, func(x float64) float64 { s := sig(x); return s * (1 - s) }}, false, false, nil
	case "tanh":
		return rnnAct{math.Tanh, func(x float64) float64 { t := math.Tanh(x); return 1 - t*t }}, false, false, nil
	case "relu":
		return rnnAct{func(x float64) float64 { return math.Max(x, 0) }, func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return 0
		}}, false, false, nil
	case "hardsigmoid":
		a, b := or(alpha, 0.2), or(beta, 0.5)
		return rnnAct{func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }, func(x float64) float64 {
			if v := a*x + b; v > 0 && v < 1 {
				return a
			}
			return 0
		}}, true, true, nil
	case "leakyrelu":
		a := or(alpha, 0.01)
		return rnnAct{func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}, func(x float64) float64 {
			if x < 0 {
				return a
			}
			return 1
		}}, true, false, nil
	case "thresholdedrelu":
		a := or(alpha, 1)
		return rnnAct{func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}, func(x float64) float64 {
			if x > a {
				return 1
			}
			return 0
		}}, true, false, nil
	case "scaledtanh":
		a, b := or(alpha, 1), or(beta, 1)
		return rnnAct{func(x float64) float64 { return a * math.Tanh(b*x) },
			func(x float64) float64 { t := math.Tanh(b * x); return a * b * (1 - t*t) }}, true, true, nil
	case "affine":
		a, b := or(alpha, 1), or(beta, 0)
		return rnnAct{func(x float64) float64 { return a*x + b }, func(float64) float64 { return a }}, true, true, nil
	case "elu":
		a := or(alpha, 1)
		return rnnAct{func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}, func(x float64) float64 {
			if x < 0 {
				return a * math.Exp(x)
			}
			return 1
		}}, true, false, nil
	case "softsign":
		return rnnAct{func(x float64) float64 { return x / (1 + math.Abs(x)) },
			func(x float64) float64 { d := 1 + math.Abs(x); return 1 / (d * d) }}, false, false, nil
	case "softplus":
		return rnnAct{Softplus64, func(x float64) float64 { return sig(x) }}, false, false, nil
	}
	return rnnAct{}, false, false, fmt.Errorf("activation %q is not supported", name)
}

// RnnAttrs are the attributes of an LSTM or GRU node.
type RnnAttrs struct {
	Kind        RnnKind
	Hidden      int
	Dirs        int
	Reverse     [2]bool // per direction
	Layout      int
	Clip        float64 // 0: none
	InputForget bool    // LSTM: f = 1 − i
	LinearReset bool    // GRU: linear_before_reset
	Act         [2][]rnnAct
}

// ParseRNN decodes a LSTM or GRU node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseRNN(n *Node, kind RnnKind) (RnnAttrs, error) {
	r := AttrReader{A: n.Attrs}
	a := RnnAttrs{Kind: kind, Hidden: r.Int("hidden_size", 0), Layout: r.Int("layout", 0)}
	dir := r.str("direction", "forward")
	clip := r.Float("clip", 0)
	forget := r.Int("input_forget", 0)
	lbr := r.Int("linear_before_reset", 0)
	if r.Err != nil {
		return a, r.Err
	}
	alphas, err := n.Attrs.Floats("activation_alpha", nil)
	if err != nil {
		return a, err
	}
	betas, err := n.Attrs.Floats("activation_beta", nil)
	if err != nil {
		return a, err
	}
	var names []string
	if v, ok := n.Attrs["activations"]; ok {
		s, isS := v.([]string)
		if !isS {
			return a, fmt.Errorf("attribute activations: want a list of strings, have %T", v)
		}
		names = s
	}
	if a.Hidden < 1 {
		return a, fmt.Errorf("attribute hidden_size is %d: want at least 1", a.Hidden)
	}
	if a.Layout != 0 && a.Layout != 1 {
		return a, fmt.Errorf("attribute layout is %d: want 0 or 1", a.Layout)
	}
	switch dir {
	case "forward":
		a.Dirs = 1
	case "reverse":
		a.Dirs, a.Reverse[0] = 1, true
	case "bidirectional":
		a.Dirs, a.Reverse[1] = 2, true
	default:
		return a, fmt.Errorf("attribute direction is %q: want forward, reverse or bidirectional", dir)
	}
	if clip < 0 {
		return a, fmt.Errorf("attribute clip is %g: want a positive threshold", clip)
	}
	a.Clip = float64(clip)
	a.InputForget, a.LinearReset = forget != 0, lbr != 0
	if (kind != LstmCell && forget != 0) || (kind != GruCell && lbr != 0) {
		return a, fmt.Errorf("%s has no attribute %s", kind.name(), map[bool]string{true: "input_forget", false: "linear_before_reset"}[forget != 0])
	}
	defaults := []string{"Sigmoid", "Tanh", "Tanh"}[:kind.acts()]
	if names == nil {
		for range a.Dirs {
			names = append(names, defaults...)
		}
	}
	if len(names) != kind.acts()*a.Dirs {
		return a, fmt.Errorf("attribute activations has %d names: want %d (%d per direction)", len(names), kind.acts()*a.Dirs, kind.acts())
	}
	ai, bi := 0, 0
	next := func(l []float32, i int) float64 {
		if i < len(l) {
			return float64(l[i])
		}
		return math.NaN()
	}
	for k, name := range names {
		f, ua, ub, err := rnnActivation(name, next(alphas, ai), next(betas, bi))
		if err != nil {
			return a, fmt.Errorf("attribute activations: %w", err)
		}
		if ua {
			ai++
		}
		if ub {
			bi++
		}
		a.Act[k/kind.acts()] = append(a.Act[k/kind.acts()], f)
	}
	return a, nil
}

// RnnDims are a node's sizes.
type RnnDims struct {
	Seq, Batch, Input int
}

// Dims checks the input shapes (X, W, R, B, sequence_lens, initial_h,
// initial_c, P) and returns the sizes.
func (a RnnAttrs) Dims(in [][]int) (RnnDims, error) {
	var d RnnDims
	maxIn := map[RnnKind]int{LstmCell: 8, GruCell: 6}[a.Kind]
	if err := WantInputs(in, 3, maxIn); err != nil {
		return d, err
	}
	x := in[0]
	if len(x) != 3 {
		return d, ShapeErr("X must be 3-D, have %v", x)
	}
	d.Seq, d.Batch, d.Input = x[0], x[1], x[2]
	if a.Layout == 1 {
		d.Seq, d.Batch = x[1], x[0]
	}
	g, h := a.Kind.Gates(), a.Hidden
	want := func(i int, what string, shape ...int) error {
		if i >= len(in) || in[i] == nil {
			return nil
		}
		if !slices.Equal(in[i], shape) {
			return ShapeErr("%s must be %v, have %v", what, shape, in[i])
		}
		return nil
	}
	if in[1] == nil || in[2] == nil {
		return d, fmt.Errorf("inputs W and R are required")
	}
	if err := want(1, "W", a.Dirs, g*h, d.Input); err != nil {
		return d, err
	}
	if err := want(2, "R", a.Dirs, g*h, h); err != nil {
		return d, err
	}
	if err := want(3, "B", a.Dirs, 2*g*h); err != nil {
		return d, err
	}
	if len(in) > 4 && in[4] != nil {
		return d, fmt.Errorf("sequence_lens is not supported: every sequence must have the full length %d", d.Seq)
	}
	state := []int{a.Dirs, d.Batch, h}
	if a.Layout == 1 {
		state = []int{d.Batch, a.Dirs, h}
	}
	if err := want(5, "initial_h", state...); err != nil {
		return d, err
	}
	if a.Kind == LstmCell {
		if err := want(6, "initial_c", state...); err != nil {
			return d, err
		}
		if err := want(7, "P", a.Dirs, 3*h); err != nil {
			return d, err
		}
	}
	return d, nil
}

// OutShapes are Y, Y_h (and Y_c).
func (a RnnAttrs) OutShapes(d RnnDims) [][]int {
	y := []int{d.Seq, a.Dirs, d.Batch, a.Hidden}
	state := []int{a.Dirs, d.Batch, a.Hidden}
	if a.Layout == 1 {
		y = []int{d.Batch, d.Seq, a.Dirs, a.Hidden}
		state = []int{d.Batch, a.Dirs, a.Hidden}
	}
	outs := [][]int{y, state}
	if a.Kind == LstmCell {
		outs = append(outs, CloneShape(state))
	}
	return outs
}

func inferRNN(n *Node, in [][]int, kind RnnKind) ([][]int, error) {
	a, err := ParseRNN(n, kind)
	if err != nil {
		return nil, err
	}
	d, err := a.Dims(in)
	if err != nil {
		return nil, err
	}
	return a.OutShapes(d), nil
}

// rnnParams: W, R, B and P train.
func rnnParams(kind RnnKind) func(*Node, []Operand) []ParamUse {
	return func(n *Node, in []Operand) []ParamUse {
		uses := []ParamUse{
			{Input: 1, Kind: ParamWeight, Trainable: true},
			{Input: 2, Kind: ParamWeight, Trainable: true},
			{Input: 3, Kind: ParamBias, Trainable: true},
		}
		if kind == LstmCell {
			uses = append(uses, ParamUse{Input: 7, Kind: ParamScale, Trainable: true})
		}
		return uses
	}
}

// rnnInit draws W, R, B and P uniformly in ±1/√hidden_size, PyTorch's
// initialisation of its recurrent layers.
func rnnInit(n *Node, in []Operand, r *rand.Rand) {
	h, err := n.Attrs.Int("hidden_size", 0)
	if err != nil || h < 1 {
		return
	}
	for _, i := range []int{1, 2, 3, 7} {
		initUniform(paramAt(in, i), 1/math.Sqrt(float64(h)), r)
	}
}

// rnnMACs: per step and direction, the input and recurrent products.
func rnnMACs(kind RnnKind) func(*Node, [][]int, [][]int) int {
	return func(n *Node, in, out [][]int) int {
		a, err := ParseRNN(n, kind)
		if err != nil {
			return 0
		}
		d, err := a.Dims(in)
		if err != nil {
			return 0
		}
		return d.Seq * d.Batch * a.Dirs * kind.Gates() * a.Hidden * (d.Input + a.Hidden)
	}
}
