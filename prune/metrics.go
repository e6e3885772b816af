package prune

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Metrics are ShrinkBench's measures of a pruned model (Blalock et al.
// 2020, "What is the State of Neural Network Pruning?") plus measured
// time. Params and MACs are those of graph.Stats: trainable elements, and
// multiply-accumulates of Conv, Gemm and MatMul for one image.
type Metrics struct {
	Params        int     `json:"params"`         // dense model before pruning
	Nonzero       int     `json:"nonzero_params"` // non-zero params after pruning (masked model)
	Compression   float64 `json:"compression"`    // Params / Nonzero
	MACs          int     `json:"macs"`           // dense model before pruning
	EffectiveMACs int     `json:"effective_macs"` // MACs of non-zero weights after pruning
	Speedup       float64 `json:"speedup"`        // theoretical: MACs / EffectiveMACs
	// Slimmed model (structured granularities only).
	SlimParams int `json:"slim_params,omitempty"`
	SlimMACs   int `json:"slim_macs,omitempty"`
	// Top-1 accuracy on the test images, when data was given.
	AccuracyBefore    *float64 `json:"accuracy_before,omitempty"`
	AccuracyPruned    *float64 `json:"accuracy_pruned,omitempty"`
	AccuracyFinetuned *float64 `json:"accuracy_finetuned,omitempty"`
	AccuracyReinit    *float64 `json:"accuracy_reinit,omitempty"` // lottery ticket's random re-initialisation control
	// Median forward time in milliseconds, per model ("dense", "masked",
	// "slim") and batch size ("1", "64"), BatchNorm folded as deployed, the
	// models timed taking turns.
	LatencyMS map[string]map[string]float64 `json:"latency_ms,omitempty"`
	Layers    []LayerMetrics                `json:"layers"`
}

// LayerMetrics is one conv or linear layer's row of the per-layer table.
type LayerMetrics struct {
	Name          string  `json:"name"`
	Op            string  `json:"op"`
	Params        int     `json:"params"`
	Nonzero       int     `json:"nonzero_params"`
	Sparsity      float64 `json:"sparsity"`
	MACs          int     `json:"macs"`
	EffectiveMACs int     `json:"effective_macs"`
	SlimParams    int     `json:"slim_params,omitempty"`
	SlimMACs      int     `json:"slim_macs,omitempty"`
}

// Measure compares a dense model with its masked version and, when slim
// is not nil, its slimmed one.
func Measure(dense, masked, slim *graph.Graph) (*Metrics, error) {
	_, td, err := graph.Stats(dense)
	if err != nil {
		return nil, err
	}
	rows, tm, err := graph.Stats(masked)
	if err != nil {
		return nil, err
	}
	m := &Metrics{Params: td.Params, Nonzero: tm.Nonzero, MACs: td.MACs}
	slimRows := map[string]graph.NodeStats{}
	if slim != nil {
		rs, ts, err := graph.Stats(slim)
		if err != nil {
			return nil, err
		}
		m.SlimParams, m.SlimMACs = ts.Params, ts.MACs
		for _, r := range rs {
			slimRows[r.Name] = r
		}
	}
	params := masked.ParamMap()
	for i, r := range rows {
		if r.MACs == 0 && r.Params == 0 {
			continue
		}
		n := masked.Nodes[i]
		eff := r.MACs
		if len(n.Inputs) > 1 {
			if w := params[n.Inputs[1]]; w != nil {
				eff = int(float64(r.MACs) * float64(nonzero(w.Value.Data)) / float64(max(w.Value.Len(), 1)))
			}
		}
		m.EffectiveMACs += eff
		if r.MACs == 0 {
			continue // BatchNorm and the like: counted in the totals only
		}
		lm := LayerMetrics{Name: r.Name, Op: r.Op, Params: r.Params, Nonzero: r.Nonzero, MACs: r.MACs, EffectiveMACs: eff}
		if r.Params > 0 {
			lm.Sparsity = 1 - float64(r.Nonzero)/float64(r.Params)
		}
		if s, ok := slimRows[r.Name]; ok {
			lm.SlimParams, lm.SlimMACs = s.Params, s.MACs
		}
		m.Layers = append(m.Layers, lm)
	}
	if m.Nonzero > 0 {
		m.Compression = float64(m.Params) / float64(m.Nonzero)
	}
	if m.EffectiveMACs > 0 {
		m.Speedup = float64(m.MACs) / float64(m.EffectiveMACs)
	}
	return m, nil
}

func nonzero(x []float32) int {
	n := 0
	for _, v := range x {
		if v != 0 {
			n++
		}
	}
	return n
}

// Lines prints the metrics as a few human-readable lines.
func (m *Metrics) Lines() []string {
	lines := []string{
		fmt.Sprintf("params %d, nonzero %d (compression %.2f×); MACs %d, effective %d (theoretical speedup %.2f×)",
			m.Params, m.Nonzero, m.Compression, m.MACs, m.EffectiveMACs, m.Speedup),
	}
	if m.SlimParams > 0 {
		lines = append(lines, fmt.Sprintf("slimmed: params %d (%s), MACs %d (%s)", m.SlimParams, percent(m.Params, m.SlimParams), m.SlimMACs, percent(m.MACs, m.SlimMACs)))
	}
	acc := ""
	for _, a := range []struct {
		name string
		v    *float64
	}{{"before", m.AccuracyBefore}, {"pruned", m.AccuracyPruned}, {"fine-tuned", m.AccuracyFinetuned}, {"random re-init", m.AccuracyReinit}} {
		if a.v != nil {
			acc += fmt.Sprintf(", %s %.2f%%", a.name, 100**a.v)
		}
	}
	if acc != "" {
		lines = append(lines, "top-1"+acc[1:])
	}
	for _, model := range []string{"dense", "masked", "slim"} {
		if l, ok := m.LatencyMS[model]; ok {
			lines = append(lines, fmt.Sprintf("latency %s (BatchNorm folded): %.3f ms at batch 1, %.3f ms at batch 64", model, l["1"], l["64"]))
		}
	}
	return lines
}

// Latencies times several models side by side: after one warm-up pass
// each, the models take turns, one forward pass at a time, so that all see
// the same machine conditions (a shared machine's load changes from second
// to second); it returns each model's median over runs passes.
func Latencies(gs []*graph.Graph, batch, runs int) ([]time.Duration, error) {
	progs := make([]*cpu.Program, len(gs))
	inputs := make([][]*tensor.Tensor, len(gs))
	for k, g := range gs {
		var err error
		if progs[k], err = cpu.Compile(g); err != nil {
			return nil, err
		}
		inputs[k] = graph.RandomInputs(g, batch, rand.New(rand.NewPCG(1, 2)))
		if _, err := progs[k].Forward(false, inputs[k]...); err != nil {
			return nil, err
		}
	}
	times := make([][]time.Duration, len(gs))
	for range runs {
		for k, p := range progs {
			t0 := time.Now()
			if _, err := p.Forward(false, inputs[k]...); err != nil {
				return nil, err
			}
			times[k] = append(times[k], time.Since(t0))
		}
	}
	med := make([]time.Duration, len(gs))
	for k, ts := range times {
		if len(ts) > 0 {
			slices.Sort(ts)
			med[k] = ts[len(ts)/2]
		}
	}
	return med, nil
}
