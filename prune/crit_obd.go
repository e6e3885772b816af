package prune

import (
	"fmt"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
)

// OBD is Optimal Brain Damage (LeCun et al. 1990): a weight's saliency is
// ½·H_qq·w_q², the loss increase of removing it under a diagonal
// quadratic model of the loss, with the diagonal Hessian estimated by the
// empirical Fisher F_qq = E[(∂L/∂w_q)²] over labelled calibration images.
// The Fisher is estimated from mini-batch gradients (Context.Batch images
// each, 16 when 0): B·ḡ_q², which at a trained model (mean gradient near
// zero) estimates the per-image second moment. On channels, a channel's
// score sums its weights'. It changes no weights (see OBS for the update).
type OBD struct{}

func (OBD) Name() string           { return "obd" }
func (OBD) Needs() Requirement     { return NeedsLabels }
func (OBD) Fits(Granularity) error { return nil } // every granularity

func (o OBD) Score(c *Context, layers []*Layer) error {
	fisher := map[string][]float64{}
	batches := 0
	cc := *c
	if cc.Batch <= 0 {
		cc.Batch = 16
	}
	params := c.Graph.ParamMap()
	err := cc.batches(true, func(prog *cpu.Program, n int) error {
		batches++
		for _, p := range c.Graph.Params {
			if !p.Trainable {
				continue
			}
			g := prog.Grad(p.Name)
			if g == nil {
				continue
			}
			f := fisher[p.Name]
			if f == nil {
				f = make([]float64, len(g.Data))
				fisher[p.Name] = f
			}
			for i, v := range g.Data {
				f[i] += float64(n) * float64(v) * float64(v)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", o.Name(), err)
	}
	return c.scoreWeights(layers, func(p *graph.Param) ([]float64, error) {
		f := fisher[p.Name]
		if f == nil {
			return nil, fmt.Errorf("%s: no gradient reaches %s", o.Name(), p.Name)
		}
		w := params[p.Name].Value.Data
		e := make([]float64, len(f))
		for i, v := range f {
			e[i] = 0.5 * v / float64(batches) * float64(w[i]) * float64(w[i])
		}
		return e, nil
	})
}
