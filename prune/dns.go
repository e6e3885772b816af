package prune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
)

// Surgery is Dynamic Network Surgery (Guo, Yao & Chen 2016, "Dynamic
// Network Surgery for Efficient DNNs"): each weight W_k of a layer has a
// mask T_k that training keeps updating. With μ_k and σ_k the mean and
// standard deviation of |W_k| and a per-layer rate c_k, the threshold is
// t_k = max(μ_k + c_k·σ_k, 0) and
//
//	T = 0 where |w| < a_k = Low·t_k   (pruned)
//	T = 1 where |w| > b_k = High·t_k  (spliced back)
//
// with T unchanged in between. The forward and backward passes see W⊙T,
// and the gradient updates every weight, masked ones included, so a
// pruned weight keeps its value and can come back. The masks are updated
// after an optimiser step with probability (1 + Gamma·step)^(−Power),
// frequently at first and ever more rarely. At the end (Finish) the
// weights are W⊙T.
//
// Guo et al. set c_k by hand per layer; Surgery derives it from a first
// magnitude pruning to the recipe's target (p's plan when Attach is
// called): c_k puts t_k where that plan cut layer k, so the target and
// the allocation (global or per layer) say how sparse each layer starts,
// and training moves it. It needs single-weight masks (granularity
// weight) and a training run.
type Surgery struct {
	Low, High    float64 // a_k/t_k and b_k/t_k (0: 0.9 and 1.1, the authors' code)
	Gamma, Power float64 // mask update probability (0: 1e-4 and 1, LeNet's)
	Seed         uint64  // draws of the mask updates

	p     *Pruner
	rate  []float64   // c_k per layer
	full  [][]float32 // W with the masked weights' values, per layer
	param []*graph.Param
}

// DefaultSurgery has the authors' settings for LeNet.
func DefaultSurgery(seed uint64) *Surgery {
	return &Surgery{Low: 0.9, High: 1.1, Gamma: 1e-4, Power: 1, Seed: seed}
}

// Attach starts the surgery on p, whose plan (a first p.Step at the
// target, at granularity weight) gives the starting masks and the rates
// c_k. values holds every layer weight as it was before that step zeroed
// the pruned ones (they keep their values under DNS). Weights outside
// p's layers stay dense.
func (d *Surgery) Attach(t *train.Trainer, p *Pruner, values map[string][]float32) error {
	if p.Plan == nil {
		return fmt.Errorf("DNS: no starting plan (prune to the target first)")
	}
	if d.Low <= 0 || d.High < d.Low || d.Gamma < 0 || d.Power < 0 {
		return fmt.Errorf("DNS: want 0 < low ≤ high, gamma and power ≥ 0; have low %g, high %g, gamma %g, power %g", d.Low, d.High, d.Gamma, d.Power)
	}
	d.p = p
	d.rate = make([]float64, len(p.Layers))
	d.full = make([][]float32, len(p.Layers))
	d.param = make([]*graph.Param, len(p.Layers))
	params := p.Graph.ParamMap()
	for i, l := range p.Layers {
		if l.Param == nil || len(l.unit) != l.Units {
			return fmt.Errorf("DNS masks single weights: it needs granularity weight (layer %s has %d units for %d weights)", l.Name, l.Units, len(l.unit))
		}
		w := params[l.Param.Name]
		v := values[l.Param.Name]
		if w == nil || len(v) != w.Value.Len() {
			return fmt.Errorf("DNS: no weights before pruning for %s", l.Name)
		}
		copy(w.Value.Data, v)
		d.param[i], d.full[i] = w, make([]float32, len(v))
		mu, sigma := absMeanStd(v)
		// The plan's cut: the largest pruned |w| (no cut: below every one).
		cut := -1.0
		for e, x := range v {
			if !p.Plan.Keep[i][l.unit[e]] {
				cut = math.Max(cut, math.Abs(float64(x)))
			}
		}
		if sigma > 0 {
			d.rate[i] = (cut/d.Low - mu) / sigma
		} else {
			d.rate[i] = -1
		}
		if p.Masks[w.Name] == nil {
			mk := tensor.New(w.Value.Shape...)
			for e := range mk.Data {
				mk.Data[e] = 1
			}
			p.Masks[w.Name] = mk
		}
	}
	t.On(train.BeforeStep, func(*train.State) error {
		for i, w := range d.param {
			copy(d.full[i], w.Value.Data)
			zeroWhere(w.Value.Data, p.Masks[w.Name].Data)
		}
		return nil
	})
	t.On(train.AfterStep, func(st *train.State) error {
		for i, w := range d.param {
			// The step moved W⊙T; move W by the same amount, the masked
			// weights by their gradient step too.
			mk := p.Masks[w.Name].Data
			for e, x := range w.Value.Data {
				f := d.full[i][e]
				if mk[e] == 0 {
					w.Value.Data[e] = f + x
				} else {
					w.Value.Data[e] = x
				}
			}
		}
		prob := math.Pow(1+d.Gamma*float64(st.Step), -d.Power)
		if rand.New(rand.NewPCG(d.Seed, uint64(st.Step))).Float64() < prob {
			d.update()
		}
		return nil
	})
	return nil
}

// update recomputes each layer's thresholds and its mask.
func (d *Surgery) update() {
	for i, w := range d.param {
		l := d.p.Layers[i]
		mu, sigma := absMeanStd(w.Value.Data)
		th := math.Max(mu+d.rate[i]*sigma, 0)
		a, b := d.Low*th, d.High*th
		mk := d.p.Masks[w.Name].Data
		for e, x := range w.Value.Data {
			switch m := math.Abs(float64(x)); {
			case m < a:
				mk[e] = 0
			case m > b:
				mk[e] = 1
			}
			d.p.Plan.Keep[i][l.unit[e]] = mk[e] != 0
		}
	}
}

// Finish applies the final masks: the weights become W⊙T, and p's masks
// and plan say which are pruned.
func (d *Surgery) Finish() error {
	if d.p == nil {
		return fmt.Errorf("DNS: not attached")
	}
	return d.p.Masks.Apply(d.p.Graph)
}

// absMeanStd returns the mean and standard deviation of |x|.
func absMeanStd(x []float32) (mean, std float64) {
	if len(x) == 0 {
		return 0, 0
	}
	var s, s2 float64
	for _, v := range x {
		a := math.Abs(float64(v))
		s += a
		s2 += a * a
	}
	n := float64(len(x))
	mean = s / n
	return mean, math.Sqrt(math.Max(s2/n-mean*mean, 0))
}
