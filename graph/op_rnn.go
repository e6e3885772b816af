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

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "LSTM", Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return inferRNN(n, in, lstmCell) },
		Params: rnnParams(lstmCell), MACs: rnnMACs(lstmCell), Init: rnnInit})
	RegisterKernel("LSTM", func(n *Node) (Op, error) { return newRNN(n, lstmCell) })
	RegisterOp(OpSpec{Type: "GRU", Infer: func(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) { return inferRNN(n, in, gruCell) },
		Params: rnnParams(gruCell), MACs: rnnMACs(gruCell), Init: rnnInit})
	RegisterKernel("GRU", func(n *Node) (Op, error) { return newRNN(n, gruCell) })
}

// rnnKind says which cell a node runs.
type rnnKind int

const (
	lstmCell rnnKind = iota
	gruCell
)

func (k rnnKind) name() string { return [...]string{"LSTM", "GRU"}[k] }

// gates is the number of gate blocks in W and R: LSTM i, o, f, c; GRU
// z, r, h.
func (k rnnKind) gates() int { return [...]int{4, 3}[k] }

// acts is the number of activations per direction (f, g, h; f, g).
func (k rnnKind) acts() int { return [...]int{3, 2}[k] }

// rnnAct is one activation and its derivative, both of the
// pre-activation.
type rnnAct struct {
	f, d func(x float64) float64
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
		return rnnAct{softplus64, func(x float64) float64 { return sig(x) }}, false, false, nil
	}
	return rnnAct{}, false, false, fmt.Errorf("activation %q is not supported", name)
}

// rnnAttrs are the attributes of an LSTM or GRU node.
type rnnAttrs struct {
	kind        rnnKind
	hidden      int
	dirs        int
	reverse     [2]bool // per direction
	layout      int
	clip        float64 // 0: none
	inputForget bool    // LSTM: f = 1 − i
	linearReset bool    // GRU: linear_before_reset
	act         [2][]rnnAct
}

func parseRNN(n *Node, kind rnnKind) (rnnAttrs, error) {
	r := attrReader{a: n.Attrs}
	a := rnnAttrs{kind: kind, hidden: r.int("hidden_size", 0), layout: r.int("layout", 0)}
	dir := r.str("direction", "forward")
	clip := r.float("clip", 0)
	forget := r.int("input_forget", 0)
	lbr := r.int("linear_before_reset", 0)
	if r.err != nil {
		return a, r.err
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
	if a.hidden < 1 {
		return a, fmt.Errorf("attribute hidden_size is %d: want at least 1", a.hidden)
	}
	if a.layout != 0 && a.layout != 1 {
		return a, fmt.Errorf("attribute layout is %d: want 0 or 1", a.layout)
	}
	switch dir {
	case "forward":
		a.dirs = 1
	case "reverse":
		a.dirs, a.reverse[0] = 1, true
	case "bidirectional":
		a.dirs, a.reverse[1] = 2, true
	default:
		return a, fmt.Errorf("attribute direction is %q: want forward, reverse or bidirectional", dir)
	}
	if clip < 0 {
		return a, fmt.Errorf("attribute clip is %g: want a positive threshold", clip)
	}
	a.clip = float64(clip)
	a.inputForget, a.linearReset = forget != 0, lbr != 0
	if (kind != lstmCell && forget != 0) || (kind != gruCell && lbr != 0) {
		return a, fmt.Errorf("%s has no attribute %s", kind.name(), map[bool]string{true: "input_forget", false: "linear_before_reset"}[forget != 0])
	}
	defaults := []string{"Sigmoid", "Tanh", "Tanh"}[:kind.acts()]
	if names == nil {
		for range a.dirs {
			names = append(names, defaults...)
		}
	}
	if len(names) != kind.acts()*a.dirs {
		return a, fmt.Errorf("attribute activations has %d names: want %d (%d per direction)", len(names), kind.acts()*a.dirs, kind.acts())
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
		a.act[k/kind.acts()] = append(a.act[k/kind.acts()], f)
	}
	return a, nil
}

// rnnDims are a node's sizes.
type rnnDims struct {
	seq, batch, input int
}

// dims checks the input shapes (X, W, R, B, sequence_lens, initial_h,
// initial_c, P) and returns the sizes.
func (a rnnAttrs) dims(in [][]int) (rnnDims, error) {
	var d rnnDims
	maxIn := map[rnnKind]int{lstmCell: 8, gruCell: 6}[a.kind]
	if err := wantInputs(in, 3, maxIn); err != nil {
		return d, err
	}
	x := in[0]
	if len(x) != 3 {
		return d, shapeErr("X must be 3-D, have %v", x)
	}
	d.seq, d.batch, d.input = x[0], x[1], x[2]
	if a.layout == 1 {
		d.seq, d.batch = x[1], x[0]
	}
	g, h := a.kind.gates(), a.hidden
	want := func(i int, what string, shape ...int) error {
		if i >= len(in) || in[i] == nil {
			return nil
		}
		if !slices.Equal(in[i], shape) {
			return shapeErr("%s must be %v, have %v", what, shape, in[i])
		}
		return nil
	}
	if in[1] == nil || in[2] == nil {
		return d, fmt.Errorf("inputs W and R are required")
	}
	if err := want(1, "W", a.dirs, g*h, d.input); err != nil {
		return d, err
	}
	if err := want(2, "R", a.dirs, g*h, h); err != nil {
		return d, err
	}
	if err := want(3, "B", a.dirs, 2*g*h); err != nil {
		return d, err
	}
	if len(in) > 4 && in[4] != nil {
		return d, fmt.Errorf("sequence_lens is not supported: every sequence must have the full length %d", d.seq)
	}
	state := []int{a.dirs, d.batch, h}
	if a.layout == 1 {
		state = []int{d.batch, a.dirs, h}
	}
	if err := want(5, "initial_h", state...); err != nil {
		return d, err
	}
	if a.kind == lstmCell {
		if err := want(6, "initial_c", state...); err != nil {
			return d, err
		}
		if err := want(7, "P", a.dirs, 3*h); err != nil {
			return d, err
		}
	}
	return d, nil
}

// outShapes are Y, Y_h (and Y_c).
func (a rnnAttrs) outShapes(d rnnDims) [][]int {
	y := []int{d.seq, a.dirs, d.batch, a.hidden}
	state := []int{a.dirs, d.batch, a.hidden}
	if a.layout == 1 {
		y = []int{d.batch, d.seq, a.dirs, a.hidden}
		state = []int{d.batch, a.dirs, a.hidden}
	}
	outs := [][]int{y, state}
	if a.kind == lstmCell {
		outs = append(outs, cloneShape(state))
	}
	return outs
}

func inferRNN(n *Node, in [][]int, kind rnnKind) ([][]int, error) {
	a, err := parseRNN(n, kind)
	if err != nil {
		return nil, err
	}
	d, err := a.dims(in)
	if err != nil {
		return nil, err
	}
	return a.outShapes(d), nil
}

// rnnParams: W, R, B and P train.
func rnnParams(kind rnnKind) func(*Node, []Operand) []ParamUse {
	return func(n *Node, in []Operand) []ParamUse {
		uses := []ParamUse{
			{Input: 1, Kind: ParamWeight, Trainable: true},
			{Input: 2, Kind: ParamWeight, Trainable: true},
			{Input: 3, Kind: ParamBias, Trainable: true},
		}
		if kind == lstmCell {
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
func rnnMACs(kind rnnKind) func(*Node, [][]int, [][]int) int {
	return func(n *Node, in, out [][]int) int {
		a, err := parseRNN(n, kind)
		if err != nil {
			return 0
		}
		d, err := a.dims(in)
		if err != nil {
			return 0
		}
		return d.seq * d.batch * a.dirs * kind.gates() * a.hidden * (d.input + a.hidden)
	}
}

type rnnOp struct {
	rnnAttrs
	d rnnDims
	// Saved by Forward for Backward, per direction: the gate
	// pre-activations of every step (seq × batch × gates·hidden, after the
	// clip), the hidden states H_0 … H_seq (H_0 the initial one), the
	// cell states C_0 … C_seq (LSTM), GRU's Hprev·Rhᵀ + Rbh for
	// linear_before_reset, and whether each pre-activation was clipped.
	pre, hs, cs, lin [2][]float32
	clipped          [2][]bool
	// Scratch kept between calls, so that a training loop does not
	// allocate it per batch; zeroed32 clears it as make did.
	fwd struct{ xw, rec, rv []float32 }
	bwd struct{ dPre, dStep, dH, dHn, dC []float32 }
}

// zeroed32 returns *s resized to n and cleared, reusing its storage.
func zeroed32(s *[]float32, n int) []float32 {
	*s = grow32(*s, n)
	clear(*s)
	return *s
}

func newRNN(n *Node, kind rnnKind) (Op, error) {
	a, err := parseRNN(n, kind)
	return &rnnOp{rnnAttrs: a}, err
}

func (op *rnnOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := op.dims(in)
	if err != nil {
		return nil, err
	}
	op.d = d
	return op.outShapes(d), nil
}

// xRow is the row of X holding step t of sequence b.
func (op *rnnOp) xRow(t, b int) int {
	if op.layout == 1 {
		return b*op.d.seq + t
	}
	return t*op.d.batch + b
}

// yOff is the offset in Y of step t, direction dir, sequence b.
func (op *rnnOp) yOff(t, dir, b int) int {
	if op.layout == 1 {
		return ((b*op.d.seq+t)*op.dirs + dir) * op.hidden
	}
	return ((t*op.dirs+dir)*op.d.batch + b) * op.hidden
}

// stateOff is the offset of direction dir, sequence b in Y_h, Y_c and
// the initial states.
func (op *rnnOp) stateOff(dir, b int) int {
	if op.layout == 1 {
		return (b*op.dirs + dir) * op.hidden
	}
	return (dir*op.d.batch + b) * op.hidden
}

func opt(ts []*tensor.Tensor, i int) []float32 {
	if i < len(ts) && ts[i] != nil {
		return ts[i].Data
	}
	return nil
}

// step is the t-th step a direction processes (reverse runs backwards).
func (op *rnnOp) step(dir, k int) int {
	if op.reverse[dir] {
		return op.d.seq - 1 - k
	}
	return k
}

func (op *rnnOp) clipped1(x float64) (float64, bool) {
	if op.clip > 0 && (x > op.clip || x < -op.clip) {
		return math.Max(-op.clip, math.Min(op.clip, x)), true
	}
	return x, false
}

func (op *rnnOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	S, B, I, H, G := op.d.seq, op.d.batch, op.d.input, op.hidden, op.kind.gates()
	x, w, r, bias := in[0].Data, in[1].Data, in[2].Data, opt(in, 3)
	h0, c0, peep := opt(in, 5), opt(in, 6), opt(in, 7)
	if len(x) != S*B*I {
		return shapeErr("X %s does not match the inferred shape", in[0].Shape)
	}
	y, yh, yc := opt(out, 0), opt(out, 1), opt(out, 2)
	sc := &op.fwd
	xw := zeroed32(&sc.xw, S*B*G*H) // X·Wᵀ, row xRow(t, b)
	rec := zeroed32(&sc.rec, B*G*H) // H_{t−1}·Rᵀ
	rv := zeroed32(&sc.rv, H)
	for dir := range op.dirs {
		W, R := w[dir*G*H*I:(dir+1)*G*H*I], r[dir*G*H*H:(dir+1)*G*H*H]
		if S*B > 0 {
			gemm.Sgemm(false, true, S*B, G*H, I, 1, x, I, W, I, 0, xw, G*H, ctx.Threads)
		}
		pre := grow32(op.pre[dir], S*B*G*H)
		hs := grow32(op.hs[dir], (S+1)*B*H)
		clipped := op.clipped[dir]
		if cap(clipped) < S*B*G*H {
			clipped = make([]bool, S*B*G*H)
		}
		clipped = clipped[:S*B*G*H]
		var cs, lin []float32
		if op.kind == lstmCell {
			cs = grow32(op.cs[dir], (S+1)*B*H)
		}
		if op.kind == gruCell && op.linearReset {
			lin = grow32(op.lin[dir], S*B*H)
		}
		for b := range B {
			for j := range H {
				var hv, cv float32
				if h0 != nil {
					hv = h0[op.stateOff(dir, b)+j]
				}
				if c0 != nil {
					cv = c0[op.stateOff(dir, b)+j]
				}
				hs[b*H+j] = hv
				if cs != nil {
					cs[b*H+j] = cv
				}
			}
		}
		var wb, rb, pi, po, pf []float32
		if bias != nil {
			wb, rb = bias[dir*2*G*H:dir*2*G*H+G*H], bias[dir*2*G*H+G*H:(dir+1)*2*G*H]
		}
		if peep != nil {
			p := peep[dir*3*H : (dir+1)*3*H]
			pi, po, pf = p[:H], p[H:2*H], p[2*H:]
		}
		act := op.act[dir]
		for k := range S {
			t := op.step(dir, k)
			hp := hs[k*B*H : (k+1)*B*H]
			hn := hs[(k+1)*B*H : (k+2)*B*H]
			// The recurrent products; GRU's h gate reads r⊙H_{t−1}
			// (or, with linear_before_reset, H_{t−1} itself) apart.
			recG := G
			if op.kind == gruCell {
				recG = 2
			}
			gemm.Sgemm(false, true, B, recG*H, H, 1, hp, H, R, H, 0, rec, G*H, ctx.Threads)
			for b := range B {
				xr := xw[op.xRow(t, b)*G*H : (op.xRow(t, b)+1)*G*H]
				rr := rec[b*G*H : (b+1)*G*H]
				pr := pre[(k*B+b)*G*H : (k*B+b+1)*G*H]
				cl := clipped[(k*B+b)*G*H : (k*B+b+1)*G*H]
				for g := range recG * H {
					v := float64(xr[g]) + float64(rr[g])
					if wb != nil {
						v += float64(wb[g]) + float64(rb[g])
					}
					pr[g] = float32(v)
				}
				switch op.kind {
				case lstmCell:
					cp := cs[(k*B+b)*H : (k*B+b+1)*H]
					cn := cs[((k+1)*B+b)*H : ((k+1)*B+b+1)*H]
					for j := range H {
						ai, ao, af, ac := float64(pr[j]), float64(pr[H+j]), float64(pr[2*H+j]), float64(pr[3*H+j])
						if pi != nil {
							ai += float64(pi[j]) * float64(cp[j])
							af += float64(pf[j]) * float64(cp[j])
						}
						ai, cl[j] = op.clipped1(ai)
						af, cl[2*H+j] = op.clipped1(af)
						ac, cl[3*H+j] = op.clipped1(ac)
						iv := act[0].f(ai)
						fv := act[0].f(af)
						if op.inputForget {
							fv = 1 - iv
						}
						c := fv*float64(cp[j]) + iv*act[1].f(ac)
						cn[j] = float32(c)
						if po != nil {
							ao += float64(po[j]) * c
						}
						ao, cl[H+j] = op.clipped1(ao)
						pr[j], pr[H+j], pr[2*H+j], pr[3*H+j] = float32(ai), float32(ao), float32(af), float32(ac)
						hn[b*H+j] = float32(act[0].f(ao) * act[2].f(c))
					}
				case gruCell:
					hpb := hp[b*H : (b+1)*H]
					for j := range 2 * H {
						v, c := op.clipped1(float64(pr[j]))
						pr[j], cl[j] = float32(v), c
					}
					// The h gate.
					for j := range H {
						v := float64(xr[2*H+j])
						if wb != nil {
							v += float64(wb[2*H+j])
						}
						pr[2*H+j] = float32(v)
					}
					rh := R[2*H*H:]
					for q := range H { // r ⊙ H_{t−1}, or H_{t−1}
						rv[q] = hpb[q]
						if !op.linearReset {
							rv[q] *= float32(act[0].f(float64(pr[H+q])))
						}
					}
					for j := range H {
						var s float64
						for q, v := range rh[j*H : (j+1)*H] {
							s += float64(rv[q]) * float64(v)
						}
						if rb != nil {
							s += float64(rb[2*H+j])
						}
						if op.linearReset {
							lin[(k*B+b)*H+j] = float32(s)
							s *= act[0].f(float64(pr[H+j]))
						}
						v, c := op.clipped1(float64(pr[2*H+j]) + s)
						pr[2*H+j], cl[2*H+j] = float32(v), c
					}
					for j := range H {
						z := act[0].f(float64(pr[j]))
						hc := act[1].f(float64(pr[2*H+j]))
						hn[b*H+j] = float32((1-z)*hc + z*float64(hpb[j]))
					}
				}
				if y != nil {
					copy(y[op.yOff(t, dir, b):op.yOff(t, dir, b)+H], hn[b*H:(b+1)*H])
				}
			}
		}
		for b := range B {
			if yh != nil {
				copy(yh[op.stateOff(dir, b):op.stateOff(dir, b)+H], hs[(S*B+b)*H:(S*B+b+1)*H])
			}
			if yc != nil && cs != nil {
				copy(yc[op.stateOff(dir, b):op.stateOff(dir, b)+H], cs[(S*B+b)*H:(S*B+b+1)*H])
			}
		}
		op.pre[dir], op.hs[dir], op.cs[dir], op.lin[dir], op.clipped[dir] = pre, hs, cs, lin, clipped
	}
	return nil
}

// Backward runs through time: per direction, from the last step it
// processed to the first, the gradients of the gate pre-activations
// (zero where clip cut them), then of the previous states, R, the
// biases and peepholes; X and W get theirs in one product at the end.
func (op *rnnOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	S, B, I, H, G := op.d.seq, op.d.batch, op.d.input, op.hidden, op.kind.gates()
	GH := G * H
	if len(op.hs[0]) != (S+1)*B*H {
		return fmt.Errorf("backward without a forward at this shape")
	}
	x, w, r, peep := in[0].Data, in[1].Data, in[2].Data, opt(in, 7)
	gy, gyh, gyc := opt(gout, 0), opt(gout, 1), opt(gout, 2)
	gx, gw, gr, gb := opt(gin, 0), opt(gin, 1), opt(gin, 2), opt(gin, 3)
	gh0, gc0, gp := opt(gin, 5), opt(gin, 6), opt(gin, 7)
	sc := &op.bwd
	dPre := zeroed32(&sc.dPre, S*B*GH) // by X row
	dStep := zeroed32(&sc.dStep, B*GH)
	dH, dHn := zeroed32(&sc.dH, B*H), zeroed32(&sc.dHn, B*H)
	dC := zeroed32(&sc.dC, B*H)
	zeroIf := func(c bool, v float64) float64 {
		if c {
			return 0
		}
		return v
	}
	for dir := range op.dirs {
		W, R := w[dir*GH*I:(dir+1)*GH*I], r[dir*GH*H:(dir+1)*GH*H]
		var gW, gR, gWb, gRb, gPi, gPo, gPf, pi, po, pf []float32
		if gw != nil {
			gW = gw[dir*GH*I : (dir+1)*GH*I]
		}
		if gr != nil {
			gR = gr[dir*GH*H : (dir+1)*GH*H]
		}
		if gb != nil {
			gWb, gRb = gb[dir*2*GH:dir*2*GH+GH], gb[dir*2*GH+GH:(dir+1)*2*GH]
		}
		if peep != nil {
			p := peep[dir*3*H : (dir+1)*3*H]
			pi, po, pf = p[:H], p[H:2*H], p[2*H:]
			if gp != nil {
				q := gp[dir*3*H : (dir+1)*3*H]
				gPi, gPo, gPf = q[:H], q[H:2*H], q[2*H:]
			}
		}
		act := op.act[dir]
		pre, hs, cs, lin, clipped := op.pre[dir], op.hs[dir], op.cs[dir], op.lin[dir], op.clipped[dir]
		for b := range B {
			for j := range H {
				dH[b*H+j], dC[b*H+j] = 0, 0
				if gyh != nil {
					dH[b*H+j] = gyh[op.stateOff(dir, b)+j]
				}
				if gyc != nil {
					dC[b*H+j] = gyc[op.stateOff(dir, b)+j]
				}
			}
		}
		for k := S - 1; k >= 0; k-- {
			t := op.step(dir, k)
			hp := hs[k*B*H : (k+1)*B*H]
			clear(dHn)
			for b := range B {
				if gy != nil {
					for j, v := range gy[op.yOff(t, dir, b) : op.yOff(t, dir, b)+H] {
						dH[b*H+j] += v
					}
				}
				pr := pre[(k*B+b)*GH : (k*B+b+1)*GH]
				cl := clipped[(k*B+b)*GH : (k*B+b+1)*GH]
				ds := dStep[b*GH : (b+1)*GH]
				switch op.kind {
				case lstmCell:
					cp := cs[(k*B+b)*H : (k*B+b+1)*H]
					cn := cs[((k+1)*B+b)*H : ((k+1)*B+b+1)*H]
					for j := range H {
						ai, ao, af, ac := float64(pr[j]), float64(pr[H+j]), float64(pr[2*H+j]), float64(pr[3*H+j])
						iv, ov, cv := act[0].f(ai), act[0].f(ao), act[1].f(ac)
						fv := act[0].f(af)
						if op.inputForget {
							fv = 1 - iv
						}
						c, dh := float64(cn[j]), float64(dH[b*H+j])
						dc := float64(dC[b*H+j]) + dh*ov*act[2].d(c)
						dao := zeroIf(cl[H+j], dh*act[2].f(c)*act[0].d(ao))
						if po != nil {
							dc += dao * float64(po[j])
							if gPo != nil {
								gPo[j] += float32(dao * c)
							}
						}
						di, df := dc*cv, dc*float64(cp[j])
						dcp := dc * fv
						if op.inputForget {
							di, df = di-df, 0
						}
						dai := zeroIf(cl[j], di*act[0].d(ai))
						daf := zeroIf(cl[2*H+j], df*act[0].d(af))
						dac := zeroIf(cl[3*H+j], dc*iv*act[1].d(ac))
						if pi != nil {
							dcp += dai*float64(pi[j]) + daf*float64(pf[j])
							if gPi != nil {
								gPi[j] += float32(dai * float64(cp[j]))
								gPf[j] += float32(daf * float64(cp[j]))
							}
						}
						ds[j], ds[H+j], ds[2*H+j], ds[3*H+j] = float32(dai), float32(dao), float32(daf), float32(dac)
						dC[b*H+j] = float32(dcp)
					}
				case gruCell:
					hpb := hp[b*H : (b+1)*H]
					dhp := dHn[b*H : (b+1)*H]
					rh := R[2*H*H:]
					for j := range H {
						az, ah := float64(pr[j]), float64(pr[2*H+j])
						z, hc, dh := act[0].f(az), act[1].f(ah), float64(dH[b*H+j])
						ds[j] = float32(zeroIf(cl[j], dh*(float64(hpb[j])-hc)*act[0].d(az)))
						ds[2*H+j] = float32(zeroIf(cl[2*H+j], dh*(1-z)*act[1].d(ah)))
						dhp[j] += float32(dh * z)
						ds[H+j] = 0
					}
					for j := range H {
						dah := float64(ds[2*H+j])
						if dah == 0 {
							continue
						}
						row := rh[j*H : (j+1)*H]
						if op.linearReset {
							rj := act[0].f(float64(pr[H+j]))
							du := dah * rj
							ds[H+j] += float32(dah * float64(lin[(k*B+b)*H+j]) * act[0].d(float64(pr[H+j])))
							for q, v := range row {
								dhp[q] += float32(du * float64(v))
							}
							if gR != nil {
								gRh := gR[2*H*H+j*H : 2*H*H+(j+1)*H]
								for q, v := range hpb {
									gRh[q] += float32(du * float64(v))
								}
							}
							if gRb != nil {
								gRb[2*H+j] += float32(du)
							}
							continue
						}
						for q, v := range row {
							rq := act[0].f(float64(pr[H+q]))
							drh := dah * float64(v) // ∂/∂(r⊙H)_q
							ds[H+q] += float32(drh * float64(hpb[q]) * act[0].d(float64(pr[H+q])))
							dhp[q] += float32(drh * rq)
							if gR != nil {
								gR[2*H*H+j*H+q] += float32(dah * rq * float64(hpb[q]))
							}
						}
						if gRb != nil {
							gRb[2*H+j] += float32(dah)
						}
					}
					for j := range H {
						if cl[H+j] {
							ds[H+j] = 0
						}
					}
				}
				copy(dPre[op.xRow(t, b)*GH:(op.xRow(t, b)+1)*GH], ds)
				if gWb != nil {
					for g, v := range ds {
						gWb[g] += v
					}
					recG := GH
					if op.kind == gruCell {
						recG = 2 * H
					}
					for g, v := range ds[:recG] {
						gRb[g] += v
					}
				}
			}
			// Through the recurrent products: LSTM's four gates, GRU's z and r.
			recG := G
			if op.kind == gruCell {
				recG = 2
			}
			if B > 0 {
				gemm.Sgemm(false, false, B, H, recG*H, 1, dStep, GH, R, H, 1, dHn, H, ctx.Threads)
				if gR != nil {
					gemm.Sgemm(true, false, recG*H, H, B, 1, dStep, GH, hp, H, 1, gR, H, ctx.Threads)
				}
			}
			dH, dHn = dHn, dH
		}
		for b := range B {
			for j := range H {
				if gh0 != nil {
					gh0[op.stateOff(dir, b)+j] += dH[b*H+j]
				}
				if gc0 != nil && op.kind == lstmCell {
					gc0[op.stateOff(dir, b)+j] += dC[b*H+j]
				}
			}
		}
		if S*B > 0 {
			if gx != nil {
				gemm.Sgemm(false, false, S*B, I, GH, 1, dPre, GH, W, I, 1, gx, I, ctx.Threads)
			}
			if gW != nil {
				gemm.Sgemm(true, false, GH, I, S*B, 1, dPre, GH, x, I, 1, gW, I, ctx.Threads)
			}
		}
	}
	return nil
}
