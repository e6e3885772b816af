package prune

import (
	"fmt"
	"time"

	"github.com/shearsml/shears/graph"
)

// Cost measures what a pruned model costs, as a fraction of its dense
// model's cost: the resource a budget constrains. MACsCost and ParamsCost
// count; LatencyCost times with a function the caller supplies (on the
// inference path it deploys with).
type Cost interface {
	Name() string
	// Of returns pruned's cost divided by dense's.
	Of(dense, pruned *graph.Graph) (float64, error)
}

// Evaluator measures a candidate pruned model, higher is better (top-1
// accuracy on a hold-out set): what Sensitivity and search loops rank
// candidates by.
type Evaluator func(g *graph.Graph) (float64, error)

// MACsCost is the effective multiply-accumulates (those of non-zero
// weights, see Measure) over the dense model's MACs.
type MACsCost struct{}

func (MACsCost) Name() string { return "macs" }

func (MACsCost) Of(dense, pruned *graph.Graph) (float64, error) {
	m, err := Measure(dense, pruned, nil)
	if err != nil {
		return 0, err
	}
	return float64(m.EffectiveMACs) / float64(max(m.MACs, 1)), nil
}

// ParamsCost is the non-zero params over the dense model's params.
type ParamsCost struct{}

func (ParamsCost) Name() string { return "params" }

func (ParamsCost) Of(dense, pruned *graph.Graph) (float64, error) {
	m, err := Measure(dense, pruned, nil)
	if err != nil {
		return 0, err
	}
	return float64(m.Nonzero) / float64(max(m.Params, 1)), nil
}

// LatencyCost is a measured time over the dense model's: Measure times
// one model (say, the median of a few forward passes at the deployed batch
// size). The dense model's time is measured once and kept.
type LatencyCost struct {
	Measure func(g *graph.Graph) (time.Duration, error)
	dense   *graph.Graph
	base    time.Duration
}

func (*LatencyCost) Name() string { return "latency" }

func (c *LatencyCost) Of(dense, pruned *graph.Graph) (float64, error) {
	if c.Measure == nil {
		return 0, fmt.Errorf("prune: latency cost without a measuring function")
	}
	if c.dense != dense {
		t, err := c.Measure(dense)
		if err != nil {
			return 0, err
		}
		if t <= 0 {
			return 0, fmt.Errorf("prune: the dense model's measured latency is %v", t)
		}
		c.dense, c.base = dense, t
	}
	t, err := c.Measure(pruned)
	if err != nil {
		return 0, err
	}
	return float64(t) / float64(c.base), nil
}

// ParseCost returns a counted cost by name: macs or params.
func ParseCost(name string) (Cost, error) {
	switch name {
	case "macs":
		return MACsCost{}, nil
	case "params":
		return ParamsCost{}, nil
	}
	return nil, fmt.Errorf("unknown cost %q (macs, params)", name)
}

// PlanCost applies plan to a copy of dense (slimmed when the plan is
// structured, masked otherwise) and returns the copy's cost.
func PlanCost(c Cost, dense *graph.Graph, plan *Plan) (float64, error) {
	var m *graph.Graph
	var err error
	if plan.Structured() {
		if m, err = plan.Slim(dense); err != nil {
			return 0, err
		}
	} else {
		m = dense.Clone()
		if _, err := plan.Apply(m); err != nil {
			return 0, err
		}
	}
	return c.Of(dense, m)
}

// SensitivityBudget allocates per-layer ratios from sensitivity curves
// (Sensitivity) so that the pruned model's Cost is at most Keep of the
// dense model's (RatiosForBudget; Li et al. 2017 pick per-layer ratios
// from such curves by hand). Plan ignores its ratio argument and records
// the ratios it chose in Ratios.
type SensitivityBudget struct {
	Dense   *graph.Graph // the model the layers belong to, unpruned
	Base    float64      // its accuracy
	Curves  []Curve
	Keep    float64 // fraction of the dense cost to keep, in (0, 1]
	Cost    Cost
	RoundTo int // as Allocation.RoundTo

	Ratios []float64 // per layer, set by Plan
}

func (b *SensitivityBudget) Plan(layers []*Layer, _ float64) (*Plan, error) {
	cost := func(ratios []float64) (float64, error) {
		plan, err := UniformPlan(layers, ratios, b.RoundTo)
		if err != nil {
			return 0, err
		}
		return PlanCost(b.Cost, b.Dense, plan)
	}
	ratios, err := RatiosForBudget(layers, b.Base, b.Curves, b.Keep, cost)
	if err != nil {
		return nil, err
	}
	b.Ratios = ratios
	return UniformPlan(layers, ratios, b.RoundTo)
}
