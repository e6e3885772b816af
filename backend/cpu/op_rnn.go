package cpu

// LSTM and GRU (ONNX opsets 7–14, layout from 14): every direction
// (forward, reverse, bidirectional), both layouts, the optional biases,
// initial states and LSTM peepholes, clip, LSTM's input_forget, GRU's
// linear_before_reset, and the activations ONNX lists for recurrent ops.
// sequence_lens must be absent (every sequence has the full length).
// Backward runs through time.

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterKernel("LSTM", func(n *graph.Node) (Op, error) { return newRNN(n, graph.LstmCell) })
	RegisterKernel("GRU", func(n *graph.Node) (Op, error) { return newRNN(n, graph.GruCell) })
}

type rnnOp struct {
	graph.RnnAttrs
	d graph.RnnDims
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

func newRNN(n *graph.Node, kind graph.RnnKind) (Op, error) {
	a, err := graph.ParseRNN(n, kind)
	return &rnnOp{RnnAttrs: a}, err
}

func (op *rnnOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := op.Dims(in)
	if err != nil {
		return nil, err
	}
	op.d = d
	return op.OutShapes(d), nil
}

// xRow is the row of X holding step t of sequence b.
func (op *rnnOp) xRow(t, b int) int {
	if op.Layout == 1 {
		return b*op.d.Seq + t
	}
	return t*op.d.Batch + b
}

// yOff is the offset in Y of step t, direction dir, sequence b.
func (op *rnnOp) yOff(t, dir, b int) int {
	if op.Layout == 1 {
		return ((b*op.d.Seq+t)*op.Dirs + dir) * op.Hidden
	}
	return ((t*op.Dirs+dir)*op.d.Batch + b) * op.Hidden
}

// stateOff is the offset of direction dir, sequence b in Y_h, Y_c and
// the initial states.
func (op *rnnOp) stateOff(dir, b int) int {
	if op.Layout == 1 {
		return (b*op.Dirs + dir) * op.Hidden
	}
	return (dir*op.d.Batch + b) * op.Hidden
}

func opt(ts []*tensor.Tensor, i int) []float32 {
	if i < len(ts) && ts[i] != nil {
		return ts[i].Data
	}
	return nil
}

// step is the t-th step a direction processes (reverse runs backwards).
func (op *rnnOp) step(dir, k int) int {
	if op.Reverse[dir] {
		return op.d.Seq - 1 - k
	}
	return k
}

func (op *rnnOp) clipped1(x float64) (float64, bool) {
	if op.Clip > 0 && (x > op.Clip || x < -op.Clip) {
		return math.Max(-op.Clip, math.Min(op.Clip, x)), true
	}
	return x, false
}

func (op *rnnOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	S, B, I, H, G := op.d.Seq, op.d.Batch, op.d.Input, op.Hidden, op.Kind.Gates()
	x, w, r, bias := in[0].Data, in[1].Data, in[2].Data, opt(in, 3)
	h0, c0, peep := opt(in, 5), opt(in, 6), opt(in, 7)
	if len(x) != S*B*I {
		return graph.ShapeErr("X %s does not match the inferred shape", in[0].Shape)
	}
	y, yh, yc := opt(out, 0), opt(out, 1), opt(out, 2)
	sc := &op.fwd
	xw := zeroed32(&sc.xw, S*B*G*H) // X·Wᵀ, row xRow(t, b)
	rec := zeroed32(&sc.rec, B*G*H) // H_{t−1}·Rᵀ
	rv := zeroed32(&sc.rv, H)
	for dir := range op.Dirs {
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
		if op.Kind == graph.LstmCell {
			cs = grow32(op.cs[dir], (S+1)*B*H)
		}
		if op.Kind == graph.GruCell && op.LinearReset {
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
		act := op.Act[dir]
		for k := range S {
			t := op.step(dir, k)
			hp := hs[k*B*H : (k+1)*B*H]
			hn := hs[(k+1)*B*H : (k+2)*B*H]
			// The recurrent products; GRU's h gate reads r⊙H_{t−1}
			// (or, with linear_before_reset, H_{t−1} itself) apart.
			recG := G
			if op.Kind == graph.GruCell {
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
				switch op.Kind {
				case graph.LstmCell:
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
						iv := act[0].F(ai)
						fv := act[0].F(af)
						if op.InputForget {
							fv = 1 - iv
						}
						c := fv*float64(cp[j]) + iv*act[1].F(ac)
						cn[j] = float32(c)
						if po != nil {
							ao += float64(po[j]) * c
						}
						ao, cl[H+j] = op.clipped1(ao)
						pr[j], pr[H+j], pr[2*H+j], pr[3*H+j] = float32(ai), float32(ao), float32(af), float32(ac)
						hn[b*H+j] = float32(act[0].F(ao) * act[2].F(c))
					}
				case graph.GruCell:
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
						if !op.LinearReset {
							rv[q] *= float32(act[0].F(float64(pr[H+q])))
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
						if op.LinearReset {
							lin[(k*B+b)*H+j] = float32(s)
							s *= act[0].F(float64(pr[H+j]))
						}
						v, c := op.clipped1(float64(pr[2*H+j]) + s)
						pr[2*H+j], cl[2*H+j] = float32(v), c
					}
					for j := range H {
						z := act[0].F(float64(pr[j]))
						hc := act[1].F(float64(pr[2*H+j]))
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
	S, B, I, H, G := op.d.Seq, op.d.Batch, op.d.Input, op.Hidden, op.Kind.Gates()
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
	for dir := range op.Dirs {
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
		act := op.Act[dir]
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
				switch op.Kind {
				case graph.LstmCell:
					cp := cs[(k*B+b)*H : (k*B+b+1)*H]
					cn := cs[((k+1)*B+b)*H : ((k+1)*B+b+1)*H]
					for j := range H {
						ai, ao, af, ac := float64(pr[j]), float64(pr[H+j]), float64(pr[2*H+j]), float64(pr[3*H+j])
						iv, ov, cv := act[0].F(ai), act[0].F(ao), act[1].F(ac)
						fv := act[0].F(af)
						if op.InputForget {
							fv = 1 - iv
						}
						c, dh := float64(cn[j]), float64(dH[b*H+j])
						dc := float64(dC[b*H+j]) + dh*ov*act[2].D(c)
						dao := zeroIf(cl[H+j], dh*act[2].F(c)*act[0].D(ao))
						if po != nil {
							dc += dao * float64(po[j])
							if gPo != nil {
								gPo[j] += float32(dao * c)
							}
						}
						di, df := dc*cv, dc*float64(cp[j])
						dcp := dc * fv
						if op.InputForget {
							di, df = di-df, 0
						}
						dai := zeroIf(cl[j], di*act[0].D(ai))
						daf := zeroIf(cl[2*H+j], df*act[0].D(af))
						dac := zeroIf(cl[3*H+j], dc*iv*act[1].D(ac))
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
				case graph.GruCell:
					hpb := hp[b*H : (b+1)*H]
					dhp := dHn[b*H : (b+1)*H]
					rh := R[2*H*H:]
					for j := range H {
						az, ah := float64(pr[j]), float64(pr[2*H+j])
						z, hc, dh := act[0].F(az), act[1].F(ah), float64(dH[b*H+j])
						ds[j] = float32(zeroIf(cl[j], dh*(float64(hpb[j])-hc)*act[0].D(az)))
						ds[2*H+j] = float32(zeroIf(cl[2*H+j], dh*(1-z)*act[1].D(ah)))
						dhp[j] += float32(dh * z)
						ds[H+j] = 0
					}
					for j := range H {
						dah := float64(ds[2*H+j])
						if dah == 0 {
							continue
						}
						row := rh[j*H : (j+1)*H]
						if op.LinearReset {
							rj := act[0].F(float64(pr[H+j]))
							du := dah * rj
							ds[H+j] += float32(dah * float64(lin[(k*B+b)*H+j]) * act[0].D(float64(pr[H+j])))
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
							rq := act[0].F(float64(pr[H+q]))
							drh := dah * float64(v) // ∂/∂(r⊙H)_q
							ds[H+q] += float32(drh * float64(hpb[q]) * act[0].D(float64(pr[H+q])))
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
					if op.Kind == graph.GruCell {
						recG = 2 * H
					}
					for g, v := range ds[:recG] {
						gRb[g] += v
					}
				}
			}
			// Through the recurrent products: LSTM's four gates, GRU's z and r.
			recG := G
			if op.Kind == graph.GruCell {
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
				if gc0 != nil && op.Kind == graph.LstmCell {
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
