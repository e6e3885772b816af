package train

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Optimizer updates trainable params from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr. grad returns a
	// param's gradient (nil to skip the param this step).
	Step(params []*graph.Param, grad func(name string) *tensor.Tensor, lr float32)
	// State returns the optimiser's buffers by name (for checkpoints).
	State() map[string][]float32
	// SetState restores buffers saved by State.
	SetState(map[string][]float32) error
	// Name identifies the optimiser in checkpoints ("sgd", "adam", "adamw").
	Name() string
}

// SGD is stochastic gradient descent with momentum, Nesterov momentum and
// L2 weight decay, with PyTorch's update rule:
//
//	g ← g + wd·w;  v ← μ·v + g;  w ← w − lr·(g + μ·v if Nesterov else v)
type SGD struct {
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
	velocity    map[string][]float32
}

func (o *SGD) Name() string { return "sgd" }

func (o *SGD) Step(params []*graph.Param, grad func(string) *tensor.Tensor, lr float32) {
	if o.velocity == nil {
		o.velocity = map[string][]float32{}
	}
	for _, p := range params {
		g := grad(p.Name)
		if !p.Trainable || g == nil {
			continue
		}
		w := p.Value.Data
		if o.Momentum == 0 {
			for i, gi := range g.Data {
				w[i] -= lr * (gi + o.WeightDecay*w[i])
			}
			continue
		}
		v := o.velocity[p.Name]
		if len(v) != len(w) {
			// A zero buffer makes the first step v = g, as PyTorch's
			// buffer initialised to the first gradient does.
			v = make([]float32, len(w))
			o.velocity[p.Name] = v
		}
		mu, wd := o.Momentum, o.WeightDecay
		for i, gi := range g.Data {
			gi += wd * w[i]
			vi := mu*v[i] + gi
			v[i] = vi
			if o.Nesterov {
				w[i] -= lr * (gi + mu*vi)
			} else {
				w[i] -= lr * vi
			}
		}
	}
}

func (o *SGD) State() map[string][]float32 { return o.velocity }

func (o *SGD) SetState(s map[string][]float32) error {
	o.velocity = s
	return nil
}

// Adam is Adam (Kingma & Ba) with L2 weight decay added to the gradient,
// or AdamW (Loshchilov & Hutter) when Decoupled is set, in which case the
// decay multiplies the weights directly.
type Adam struct {
	Beta1, Beta2, Eps float32
	WeightDecay       float32
	Decoupled         bool
	m, v              map[string][]float32
	t                 map[string]int
}

func (o *Adam) Name() string {
	if o.Decoupled {
		return "adamw"
	}
	return "adam"
}

func (o *Adam) Step(params []*graph.Param, grad func(string) *tensor.Tensor, lr float32) {
	if o.m == nil {
		o.m, o.v, o.t = map[string][]float32{}, map[string][]float32{}, map[string]int{}
	}
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 && b2 == 0 {
		b1, b2 = 0.9, 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	for _, p := range params {
		g := grad(p.Name)
		if !p.Trainable || g == nil {
			continue
		}
		w := p.Value.Data
		m, v := o.m[p.Name], o.v[p.Name]
		if len(m) != len(w) {
			m, v = make([]float32, len(w)), make([]float32, len(w))
			o.m[p.Name], o.v[p.Name] = m, v
			o.t[p.Name] = 0
		}
		o.t[p.Name]++
		t := float64(o.t[p.Name])
		c1 := float32(1 - math.Pow(float64(b1), t))
		c2 := float32(math.Sqrt(1 - math.Pow(float64(b2), t)))
		step := lr * c2 / c1
		for i, gi := range g.Data {
			if o.Decoupled {
				w[i] -= lr * o.WeightDecay * w[i]
			} else {
				gi += o.WeightDecay * w[i]
			}
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			w[i] -= step * m[i] / (float32(math.Sqrt(float64(v[i]))) + eps*c2)
		}
	}
}

func (o *Adam) State() map[string][]float32 {
	s := map[string][]float32{}
	for k, v := range o.m {
		s["m/"+k] = v
		s["v/"+k] = o.v[k]
		s["t/"+k] = []float32{float32(o.t[k])}
	}
	return s
}

func (o *Adam) SetState(s map[string][]float32) error {
	o.m, o.v, o.t = map[string][]float32{}, map[string][]float32{}, map[string]int{}
	for k, v := range s {
		switch {
		case len(k) > 2 && k[:2] == "m/":
			o.m[k[2:]] = v
		case len(k) > 2 && k[:2] == "v/":
			o.v[k[2:]] = v
		case len(k) > 2 && k[:2] == "t/" && len(v) == 1:
			o.t[k[2:]] = int(v[0])
		default:
			return fmt.Errorf("adam: unknown state entry %q", k)
		}
	}
	return nil
}

// NewOptimizer makes an optimiser by name: sgd, adam or adamw.
func NewOptimizer(name string, momentum float32, nesterov bool, weightDecay float32) (Optimizer, error) {
	switch name {
	case "sgd":
		return &SGD{Momentum: momentum, Nesterov: nesterov, WeightDecay: weightDecay}, nil
	case "adam":
		return &Adam{WeightDecay: weightDecay}, nil
	case "adamw":
		return &Adam{WeightDecay: weightDecay, Decoupled: true}, nil
	}
	return nil, fmt.Errorf("unknown optimizer %q (sgd, adam, adamw)", name)
}
