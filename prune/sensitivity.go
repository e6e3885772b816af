package prune

import (
	"fmt"
	"regexp"

	"github.com/shearsml/shears/graph"
)

// Curve is one layer's sensitivity: accuracy with only that layer pruned
// at each ratio.
type Curve struct {
	Layer    string
	Ratios   []float64
	Accuracy []float64
}

// Sensitivity prunes one layer at a time (its units scored already, see
// Score) at each ratio of a grid, on a copy of g, and measures accuracy
// with eval, as Li et al. 2017 ("Pruning Filters for Efficient ConvNets",
// §4.2) do to find the layers that tolerate pruning. It returns the
// accuracy of g itself and one curve per layer (skipped layers have none).
func Sensitivity(g *graph.Graph, layers []*Layer, ratios []float64, eval Evaluator) (base float64, curves []Curve, err error) {
	for _, r := range ratios {
		if err := CheckRatio("sensitivity ratio", r); err != nil {
			return 0, nil, err
		}
	}
	if base, err = eval(g); err != nil {
		return 0, nil, err
	}
	for i, l := range layers {
		if l.Skip != "" || l.sets != nil {
			continue
		}
		c := Curve{Layer: l.Name}
		for _, r := range ratios {
			p, err := onlyLayer(layers, i, r)
			if err != nil {
				return 0, nil, err
			}
			m := g.Clone()
			if _, err := p.Apply(m); err != nil {
				return 0, nil, err
			}
			acc, err := eval(m)
			if err != nil {
				return 0, nil, err
			}
			c.Ratios = append(c.Ratios, r)
			c.Accuracy = append(c.Accuracy, acc)
		}
		curves = append(curves, c)
	}
	return base, curves, nil
}

// onlyLayer plans pruning ratio r of layer i and nothing else.
func onlyLayer(layers []*Layer, i int, r float64) (*Plan, error) {
	p := &Plan{Layers: layers, Keep: make([][]bool, len(layers))}
	for k, l := range layers {
		p.Keep[k] = make([]bool, l.Units)
		fillTrue(p.Keep[k])
	}
	l := layers[i]
	n := int(float64(l.Units)*r + 1e-9)
	keepBest(l, p.Keep[i], l.Units-n)
	return p, p.choose()
}

// ratiosAt returns, for a tolerated accuracy drop tol, each layer's
// largest ratio on the grid such that it and every smaller one lose at
// most tol; layers without a curve get 0.
func ratiosAt(layers []*Layer, base float64, curves []Curve, tol float64) []float64 {
	byName := map[string]Curve{}
	for _, c := range curves {
		byName[c.Layer] = c
	}
	out := make([]float64, len(layers))
	for i, l := range layers {
		c := byName[l.Name]
		for k, r := range c.Ratios {
			if base-c.Accuracy[k] > tol {
				break
			}
			out[i] = r
		}
	}
	return out
}

// RatiosForBudget derives per-layer ratios from sensitivity curves that
// meet a budget: for a tolerated accuracy drop τ every layer takes its
// largest ratio that loses at most τ (ratiosAt), and τ is bisected to the
// smallest value whose ratios bring cost down to target. cost returns the
// resource left (MACs or params, as a fraction of the dense model's) for
// per-layer ratios. An unreachable budget is an error that says how far
// the grid goes.
func RatiosForBudget(layers []*Layer, base float64, curves []Curve, target float64, cost func([]float64) (float64, error)) ([]float64, error) {
	lo, hi := 0.0, base+1e-9
	best := ratiosAt(layers, base, curves, hi)
	c, err := cost(best)
	if err != nil {
		return nil, err
	}
	if c > target {
		return nil, fmt.Errorf("budget %.4g of the dense model cannot be met with the sensitivity grid: pruning every layer to its largest ratio leaves %.4g", target, c)
	}
	for range 30 {
		mid := (lo + hi) / 2
		r := ratiosAt(layers, base, curves, mid)
		c, err := cost(r)
		if err != nil {
			return nil, err
		}
		if c <= target {
			hi, best = mid, r
		} else {
			lo = mid
		}
	}
	return best, nil
}

// UniformPlan plans each layer at its own ratio (from RatiosForBudget).
func UniformPlan(layers []*Layer, ratios []float64, roundTo int) (*Plan, error) {
	var a Allocation
	a.RoundTo = roundTo
	for i, l := range layers {
		lr, err := NewLayerRatio("^"+regexp.QuoteMeta(l.Name)+"$", ratios[i])
		if err != nil {
			return nil, err
		}
		a.LayerRatios = append(a.LayerRatios, lr)
	}
	return a.Allocate(layers)
}
