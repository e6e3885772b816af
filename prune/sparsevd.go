package prune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
)

// Sparse variational dropout (Molchanov, Ashukha & Vetrov 2017,
// "Variational Dropout Sparsifies Deep Neural Networks"): every conv and
// linear weight θ gets a log-variance log σ² (so log α = log σ² − log θ²),
// the layers are trained with the additive-noise reparameterisation and
// the local reparameterisation trick, and the approximate KL term
//
//	−KL ≈ k₁·sigmoid(k₂ + k₃·log α) − ½·log(1 + 1/α) − k₁
//	(k₁ = 0.63576, k₂ = 1.87320, k₃ = 1.48695)
//
// pushes log α up where the data allow; weights with log α > Threshold
// (3: dropout rate above 95%) are removed at the end.
//
// The local reparameterisation trick is expressed with existing ops, by
// rewriting each layer y = op(x, θ) + b of a copy of the model into
//
//	y = op(x, θ) + b + sqrt(op(x⊙x, exp(log σ²)) + 1e-8) ⊙ ε
//
// (the same op and attributes for the variance path, without bias), ε a
// standard normal input of y's shape that the loss feeds (SparseVD.Loss,
// an InputFeeder: new noise per batch and zero in evaluation, which then
// runs the mean network). The log-variances are params of that copy made
// trainable with Graph.SetTrainable, so that a saved training graph keeps
// them and trains on after a reload. Fold writes the deterministic model,
// θ with the removed weights at zero, into the original graph: it holds
// no log-variance and no noise input.
type SparseVD struct {
	Original *graph.Graph // the model rewritten; Fold writes into it
	Train    *graph.Graph // the training copy
	// Threshold on log α (0: 3); InitLogSigma2 is the log-variances'
	// start (0: −10, nearly deterministic, for a trained model).
	Threshold     float64
	InitLogSigma2 float64
	// KLWeight multiplies the summed KL in the batch loss: 1/N for a
	// training set of N images (the ELBO divided by N, as the label loss
	// is a mean). WarmupSteps ramps it linearly from 0 (0: none).
	KLWeight    float64
	WarmupSteps int
	Seed        uint64

	layers []vdLayer
}

type vdLayer struct {
	theta, logSigma2 string // param names
	noise            string // the ε input
	shape            []int  // y's shape, batch first (−1)
}

const (
	vdK1, vdK2, vdK3 = 0.63576, 1.87320, 1.48695
	vdTiny           = 1e-8
)

// NewSparseVD rewrites a copy of g for sparse variational dropout on
// every conv and linear weight of the layers given (nil: all of Weights).
func NewSparseVD(g *graph.Graph, weights []string) (*SparseVD, error) {
	t := g.Clone()
	params := t.ParamMap()
	want := map[string]bool{}
	for _, w := range weights {
		want[w] = true
	}
	shapes, err := graph.InferShapes(t, 1)
	if err != nil {
		return nil, fmt.Errorf("sparse VD: %w", err)
	}
	v := &SparseVD{Original: g, Train: t}
	var nodes []*graph.Node
	for _, n := range t.Nodes {
		w, use, ok := graph.WeightOf(t, n, params)
		if !ok || w.Value.Rank() < 2 || len(n.Outputs) != 1 || (len(want) > 0 && !want[w.Name]) {
			nodes = append(nodes, n)
			continue
		}
		if a, ok := n.Attrs["alpha"]; ok && fmt.Sprint(a) != "1" {
			return nil, fmt.Errorf("sparse VD: %s scales its product (alpha %v): not supported", n.Name, a)
		}
		y := n.Outputs[0]
		sh := shapes[y]
		if len(sh) == 0 {
			return nil, fmt.Errorf("sparse VD: no shape for %s's output", n.Name)
		}
		x := n.Inputs[0]
		if use.Input == 0 {
			return nil, fmt.Errorf("sparse VD: %s takes its weight first: not supported", n.Name)
		}
		ls := w.Name + ".log_sigma2"
		t.AddParam(ls, tensor.New(w.Value.Shape...), true)
		tiny := n.Name + ".vd_tiny"
		tv := tensor.New(1)
		tv.Data[0] = vdTiny
		t.AddParam(tiny, tv, false)
		noise := n.Name + ".vd_noise"
		mu, sq, s2, vr, vt, sd, nz := y+".vd_mu", x+"."+n.Name+".vd_sq", ls+".exp", y+".vd_var", y+".vd_vart", y+".vd_std", y+".vd_noise_out"
		n.Outputs = []string{mu}
		varInputs := make([]string, use.Input+1)
		copy(varInputs, n.Inputs[:use.Input+1])
		varInputs[0], varInputs[use.Input] = sq, s2
		varNode := &graph.Node{Name: n.Name + ".vd_var", Op: n.Op, Inputs: varInputs, Outputs: []string{vr}, Attrs: n.Attrs}
		nodes = append(nodes,
			&graph.Node{Name: n.Name + ".vd_sq", Op: "Mul", Inputs: []string{x, x}, Outputs: []string{sq}},
			&graph.Node{Name: ls + ".exp", Op: "Exp", Inputs: []string{ls}, Outputs: []string{s2}},
			n, varNode,
			&graph.Node{Name: n.Name + ".vd_vart", Op: "Add", Inputs: []string{vr, tiny}, Outputs: []string{vt}},
			&graph.Node{Name: n.Name + ".vd_std", Op: "Sqrt", Inputs: []string{vt}, Outputs: []string{sd}},
			&graph.Node{Name: n.Name + ".vd_noise", Op: "Mul", Inputs: []string{sd, noise}, Outputs: []string{nz}},
			&graph.Node{Name: n.Name + ".vd_out", Op: "Add", Inputs: []string{mu, nz}, Outputs: []string{y}})
		shape := append([]int{-1}, sh[1:]...)
		t.Inputs = append(t.Inputs, graph.ValueInfo{Name: noise, Shape: shape})
		v.layers = append(v.layers, vdLayer{theta: w.Name, logSigma2: ls, noise: noise, shape: shape})
	}
	if len(v.layers) == 0 {
		return nil, fmt.Errorf("sparse VD: no conv or linear weight to sparsify in %s", g.Name)
	}
	t.Nodes = nodes
	graph.LabelAxes(t)
	for _, l := range v.layers {
		if err := t.SetTrainable(l.logSigma2, true); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Reset sets every log-variance to InitLogSigma2 (−10 when 0).
func (v *SparseVD) Reset() {
	init := v.InitLogSigma2
	if init == 0 {
		init = -10
	}
	for _, l := range v.layers {
		for i := range v.Train.Param(l.logSigma2).Value.Data {
			v.Train.Param(l.logSigma2).Value.Data[i] = float32(init)
		}
	}
}

// Loss wraps a label loss (nil: cross-entropy) with the noise inputs the
// training graph needs; Attach adds the KL term.
func (v *SparseVD) Loss(inner train.Loss) train.Loss {
	if inner == nil {
		inner = train.CrossEntropy{}
	}
	return &vdLoss{inner: inner, v: v}
}

type vdLoss struct {
	inner train.Loss
	v     *SparseVD
}

func (l *vdLoss) Loss(outputs []*tensor.Tensor, b train.Batch, grads []*tensor.Tensor) (train.LossValue, error) {
	return l.inner.Loss(outputs, b, grads)
}

// ExtraInputs implements train.InputFeeder: standard normal noise of
// each layer's output shape, a function of the seed, epoch and batch (a
// resumed run draws the same), and zeros in evaluation (Epoch −1).
func (l *vdLoss) ExtraInputs(b train.Batch) ([]*tensor.Tensor, error) {
	n := b.Inputs[0].Shape[0]
	r := rand.New(rand.NewPCG(l.v.Seed, uint64(b.Epoch+1)<<32|uint64(b.Index)))
	out := make([]*tensor.Tensor, len(l.v.layers))
	for k, ly := range l.v.layers {
		sh := append([]int{n}, ly.shape[1:]...)
		x := tensor.New(sh...)
		if b.Epoch >= 0 {
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
		}
		out[k] = x
	}
	return out, nil
}

// LogAlpha returns log α = log σ² − log θ² of layer weight theta.
func (v *SparseVD) LogAlpha(theta string) ([]float64, error) {
	for _, l := range v.layers {
		if l.theta == theta {
			th, ls := v.Train.Param(l.theta).Value.Data, v.Train.Param(l.logSigma2).Value.Data
			la := make([]float64, len(th))
			for i := range th {
				la[i] = float64(ls[i]) - math.Log(float64(th[i])*float64(th[i])+vdTiny)
			}
			return la, nil
		}
	}
	return nil, fmt.Errorf("sparse VD: %s is not a sparsified weight", theta)
}

// negKL is the approximate −KL of one weight and its derivative with
// respect to log α.
func negKL(la float64) (value, grad float64) {
	s := 1 / (1 + math.Exp(-(vdK2 + vdK3*la)))
	// −½·log(1 + e^−la), written to stay finite for large |la|.
	sp := math.Max(-la, 0) + math.Log1p(math.Exp(-math.Abs(la)))
	value = vdK1*s - 0.5*sp - vdK1
	grad = vdK1*vdK3*s*(1-s) + 0.5/(1+math.Exp(la))
	return value, grad
}

// klTerm is one weight's approximate KL and its derivatives with respect
// to θ and log σ² (log α = log σ² − log(θ² + 1e-8)).
func klTerm(theta, logSigma2 float64) (kl, dTheta, dLogSigma2 float64) {
	t2 := theta*theta + vdTiny
	nv, ng := negKL(logSigma2 - math.Log(t2))
	return -nv, ng * 2 * theta / t2, -ng
}

// Attach adds the KL term's value (to State.Loss) and gradient (to θ and
// log σ², train.AfterBackward) on a trainer of v.Train.
func (v *SparseVD) Attach(t *train.Trainer) {
	t.On(train.AfterBackward, func(st *train.State) error {
		w := v.KLWeight
		if v.WarmupSteps > 0 {
			w *= min(1, float64(st.Step+1)/float64(v.WarmupSteps))
		}
		var kl float64
		for _, l := range v.layers {
			th, ls := st.Graph.Param(l.theta).Value.Data, st.Graph.Param(l.logSigma2).Value.Data
			gth, gls := st.Program.Grad(l.theta), st.Program.Grad(l.logSigma2)
			if gth == nil || gls == nil {
				return fmt.Errorf("sparse VD: no gradient for %s or its log-variance", l.theta)
			}
			for i := range th {
				k, dth, dls := klTerm(float64(th[i]), float64(ls[i]))
				kl += k
				gth.Data[i] += float32(w * dth)
				gls.Data[i] += float32(w * dls)
			}
		}
		st.Loss.Loss += w * kl
		return nil
	})
}

// Fold writes the deterministic model into v.Original: every param from
// the training copy (trained weights, biases, BatchNorm statistics), with
// the weights whose log α exceeds the threshold at zero. It returns the
// masks of the removed weights.
func (v *SparseVD) Fold() (Masks, error) {
	th := v.Threshold
	if th == 0 {
		th = 3
	}
	for _, p := range v.Original.Params {
		q := v.Train.Param(p.Name)
		if q == nil || q.Value.Len() != p.Value.Len() {
			return nil, fmt.Errorf("sparse VD: the training copy lost %s", p.Name)
		}
		copy(p.Value.Data, q.Value.Data)
	}
	m := Masks{}
	for _, l := range v.layers {
		la, err := v.LogAlpha(l.theta)
		if err != nil {
			return nil, err
		}
		p := v.Original.Param(l.theta)
		mk := tensor.New(p.Value.Shape...)
		for i, a := range la {
			if a <= th {
				mk.Data[i] = 1
			}
		}
		m[l.theta] = mk
	}
	return m, m.Apply(v.Original)
}

// KeepOf returns which units of l (an element granularity's layer) the
// mask of its weight keeps: a unit stays while one of its weights does.
// A nil mask keeps every unit.
func (l *Layer) KeepOf(mask *tensor.Tensor) []bool {
	keep := make([]bool, l.Units)
	for e, u := range l.unit {
		keep[u] = keep[u] || mask == nil || mask.Data[e] != 0
	}
	return keep
}
