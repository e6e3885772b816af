package prune

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
)

// Taylor is the first-order Taylor estimate of the loss change when a unit
// is removed. On channels it is Molchanov et al. 2017 ("Pruning
// Convolutional Neural Networks for Resource Efficient Inference"): for
// each calibration sample, |(1/M) Σ a·∂L/∂a| over the M activations of the
// channel (the value ActivationValue names), averaged over samples. On
// weights it is |w·∂L/∂w| with the gradient of the mean loss over the
// calibration set (Molchanov et al. 2019, "Importance Estimation for
// Neural Network Pruning", use its square; the order is the same). Needs
// labelled data: gradients run in inference mode (BatchNorm with running
// statistics).
type Taylor struct{}

func (Taylor) Name() string           { return "taylor" }
func (Taylor) Needs() Requirement     { return NeedsLabels }
func (Taylor) Fits(Granularity) error { return nil } // every granularity

func (Taylor) Score(c *Context, layers []*Layer) error {
	if len(layers) > 0 && layers[0].Group != nil {
		return c.activationStats("taylor", layers, true, func(a, g []float32, n int) float64 {
			var s float64
			for k, v := range a {
				s += float64(v) * float64(g[k])
			}
			// g is the gradient of the batch mean: ×n for the sample's own.
			return math.Abs(s) * float64(n) / float64(len(a))
		})
	}
	return c.gradTimesWeight("taylor", layers, false)
}

// SNIP is connection sensitivity (Lee et al. 2019, "SNIP: Single-shot
// Network Pruning based on Connection Sensitivity"): |∂L/∂w · w| on one
// calibration batch, normalised to sum to 1 over all weights, computed
// before training — on a freshly initialised zoo model — so that the
// sparse network is then trained from the start. On channels, a channel's
// score sums its weights' sensitivities. Needs labelled data.
type SNIP struct{}

func (SNIP) Name() string           { return "snip" }
func (SNIP) Needs() Requirement     { return NeedsLabels }
func (SNIP) Fits(Granularity) error { return nil } // every granularity

func (SNIP) Score(c *Context, layers []*Layer) error {
	return c.gradTimesWeight("snip", layers, true)
}

// gradTimesWeight scores |w·g| with g the gradient of the mean loss over
// the calibration set (one batch only when oneBatch), normalised to sum 1
// over all scored weights when oneBatch (SNIP).
func (c *Context) gradTimesWeight(name string, layers []*Layer, oneBatch bool) error {
	grads := map[string][]float64{}
	var names []string
	if layers[0].Group == nil {
		for _, l := range layers {
			names = append(names, l.Param.Name)
		}
	} else {
		for _, l := range layers {
			for _, s := range scoredSlices(c.Graph, l.Group, c.Filters) {
				names = append(names, s.Param)
			}
		}
	}
	for _, n := range names {
		grads[n] = nil
	}
	seen, done := 0, false
	err := c.batches(true, func(prog *cpu.Program, n int) error {
		if done {
			return nil
		}
		seen += n
		for p := range grads {
			g := prog.Grad(p)
			if g == nil {
				return fmt.Errorf("criterion %s: no gradient for %s", name, p)
			}
			if grads[p] == nil {
				grads[p] = make([]float64, g.Len())
			}
			for i, v := range g.Data {
				grads[p][i] += float64(v) * float64(n)
			}
		}
		done = oneBatch
		return nil
	})
	if err != nil {
		return err
	}
	var total float64
	params := c.Graph.ParamMap()
	scores := map[string][]float64{}
	for p, g := range grads {
		w := params[p].Value.Data
		e := make([]float64, len(g))
		for i := range g {
			e[i] = math.Abs(g[i] / float64(seen) * float64(w[i]))
			total += e[i]
		}
		scores[p] = e
	}
	if oneBatch && total > 0 {
		for _, e := range scores {
			for i := range e {
				e[i] /= total
			}
		}
	}
	return c.scoreWeights(layers, func(p *graph.Param) ([]float64, error) { return scores[p.Name], nil })
}
