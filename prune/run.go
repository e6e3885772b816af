package prune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/train"
)

// Env is what Run gets from its caller besides the recipe: the model and
// the data, already loaded, and where to report.
type Env struct {
	Model *graph.Graph // changed in place: it ends as the masked model
	// Train and Test are nil when no data was given; Run says when a step
	// needs them (a DataError).
	Train, Test *data.Dataset
	// Log receives notes and warnings, one line each (nil: dropped).
	Log func(string)
	// Progress receives training progress (nil: none).
	Progress func(train.Progress)
	// Threads for training (0: all cores).
	Threads int
}

// DataError says that a step needs data that was not given.
type DataError struct{ Msg string }

func (e *DataError) Error() string { return e.Msg }

// Report is the outcome of Run.
type Report struct {
	Model       string    `json:"model"`
	Criterion   string    `json:"criterion"`
	Granularity string    `json:"granularity"`
	Schedule    string    `json:"schedule"`
	Recovery    string    `json:"recovery"` // none, finetune or from_scratch
	Target      float64   `json:"target_ratio"`
	Achieved    float64   `json:"achieved_ratio"` // of the granularity's units (channels, weights, blocks)
	LayerRatios []float64 `json:"layer_ratios,omitempty"`
	Metrics     *Metrics  `json:"metrics"`
	Summary     []string  `json:"summary"`
	Warnings    []string  `json:"warnings,omitempty"`
	// Sensitivity analysis, when run.
	BaseAccuracy float64 `json:"-"`
	Curves       []Curve `json:"-"`
	// Lottery ticket: every training, with test accuracy per epoch.
	Lottery []TrainingRun `json:"lottery,omitempty"`

	Masked *graph.Graph `json:"-"` // nil when trained from scratch after slimming
	Slim   *graph.Graph `json:"-"` // nil for granularities that only mask
}

// run holds one Run's state.
type runner struct {
	ctx   context.Context
	r     Recipe
	env   Env
	cfg   train.Config
	rep   *Report
	train *data.Dataset // fine-tuning and calibration images
	hold  *data.Dataset // sensitivity hold-out
}

// Run prunes env.Model as the recipe says: analysis, optional
// regularised training, scoring, allocation, the schedule with its
// fine-tuning, slimming, and the metrics. Warnings (layers the analysis
// cannot prune, caps that bind, weights an N:M pattern does not fit) go to
// env.Log and the report; nothing is left unpruned silently.
func Run(ctx context.Context, r Recipe, env Env) (*Report, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	crit, _ := ParseCriterion(r.Method.Criterion)
	gran, _ := ParseGranularity(r.Method.Granularity)
	alloc, _ := r.Allocation()
	ru := &runner{ctx: ctx, r: r, env: env, train: env.Train,
		rep: &Report{Model: env.Model.Name, Criterion: crit.Name(), Granularity: gran.Name(), Schedule: r.Schedule.Kind, Target: r.Target.Ratio}}
	if err := ru.needData(crit); err != nil {
		return nil, err
	}
	cfg, err := train.Recipe(r.Finetune.Recipe)
	if err != nil {
		return nil, &FieldError{Path: "finetune.recipe", Err: err}
	}
	if r.Finetune.LR > 0 {
		cfg.LR = float32(r.Finetune.LR)
	}
	if r.Finetune.Batch > 0 {
		cfg.Batch = r.Finetune.Batch
	}
	cfg.Seed, cfg.Threads = r.Seed, env.Threads
	ru.cfg = cfg

	g := env.Model
	dense := g.Clone()
	d, aerr := Analyze(g)
	if aerr != nil && Structured(gran) {
		return nil, fmt.Errorf("dependency analysis: %w", aerr)
	}
	if d != nil && Structured(gran) {
		for _, why := range d.Unprunable() {
			if !onlyGraphEnds(why.Why) {
				ru.warn(why.String())
			}
		}
		if len(d.Groups()) == 0 {
			return nil, fmt.Errorf("no prunable channel group in %s", g.Name)
		}
	}
	if s := r.Sensitivity; s != nil && s.Split == "train" {
		k := min(s.holdout(), ru.train.N-1)
		ru.hold = ru.train.Slice(ru.train.N-k, ru.train.N)
		ru.train = ru.train.Limit(ru.train.N - k)
	}
	if ru.env.Test != nil {
		acc, err := ru.evaluate(g)
		if err != nil {
			return nil, err
		}
		ru.rep.Metrics = &Metrics{AccuracyBefore: &acc}
	}
	layers, warns, err := Layers(g, d, gran)
	if err != nil {
		return nil, err
	}
	if err := alloc.check(layers); err != nil {
		return nil, err
	}
	for _, w := range warns {
		ru.warn(w)
	}
	if nm, ok := gran.(NM); ok && r.Target.Ratio != 0 && math.Abs(r.Target.Ratio-(1-float64(nm.N)/float64(nm.M))) > 1e-9 {
		ru.warn(fmt.Sprintf("granularity %s fixes the sparsity at %g; ratio %g is not used", nm.Name(), 1-float64(nm.N)/float64(nm.M), r.Target.Ratio))
	}
	ru.log(fmt.Sprintf("pruning %s: criterion %s, granularity %s, %s, schedule %s", g.Name, crit.Name(), gran.Name(), r.Target.describe(), r.Schedule.Kind))
	if rg := r.Regularize; rg != nil {
		reg, _ := ParseRegularizer(rg.Kind, rg.Lambda)
		ru.log(fmt.Sprintf("training %d epochs with %s", rg.Epochs, reg.Name()))
		if err := ru.fit(g, rg.Epochs, func(t *train.Trainer) { AttachRegularizer(t, reg) }); err != nil {
			return nil, err
		}
	}
	cc := &Context{Graph: g, Dep: d, Seed: r.Seed, Reduction: r.Method.Reduction, Filters: gran.Name() == "filter"}
	if crit.Needs() != NeedsNothing {
		cc.Calib = ru.train.Limit(r.Data.Calib)
	}
	norm := r.Method.Normalize
	if norm == "" {
		norm = "none"
		if Structured(gran) && (alloc.Global || r.Sensitivity != nil) {
			norm = "mean"
		}
	}
	p := &Pruner{Graph: g, Layers: layers, Criterion: crit, Alloc: alloc, Normalize: norm, Ctx: cc, OnWarning: ru.warn}
	var accPruned *float64
	switch r.Schedule.Kind {
	case "oneshot":
		accPruned, err = ru.oneshot(p)
	case "iterative":
		accPruned, err = ru.iterative(p)
	case "agp":
		err = ru.agp(p)
	case "lottery":
		err = ru.lottery(p)
	}
	if err != nil {
		return nil, err
	}
	ru.rep.Achieved = p.Plan.Ratio()
	return ru.finish(dense, g, p, accPruned)
}

// onlyGraphEnds reports whether every cause of an unprunable group is a
// graph input or output, whose widths are fixed by design.
func onlyGraphEnds(why string) bool {
	for _, c := range strings.Split(why, "; ") {
		if !strings.HasPrefix(c, "graph input") && !strings.HasPrefix(c, "graph output") {
			return false
		}
	}
	return true
}

func (t TargetSpec) describe() string {
	s := fmt.Sprintf("ratio %g", t.Ratio)
	if t.Global {
		s += " (global)"
	}
	if len(t.LayerRatios) > 0 {
		s += ", layer ratios " + strings.Join(t.LayerRatios, " ")
	}
	return s
}

func (s *SensitivitySpec) holdout() int {
	if s.Holdout == 0 {
		return 1000
	}
	return s.Holdout
}

// needData reports the first step that needs data not given.
func (ru *runner) needData(crit Criterion) error {
	r := ru.r
	const pass = ": pass --data mnist|fashion-mnist (data: in a recipe)"
	switch {
	case ru.env.Train != nil:
		return nil
	case crit.Needs() != NeedsNothing:
		return &DataError{fmt.Sprintf("criterion %s needs %s%s", crit.Name(), crit.Needs(), pass)}
	case r.Regularize != nil:
		return &DataError{"regularised training needs data" + pass}
	case r.Sensitivity != nil:
		return &DataError{"sensitivity analysis needs data" + pass}
	case r.Schedule.Kind != "oneshot":
		return &DataError{fmt.Sprintf("schedule %s trains and needs data%s", r.Schedule.Kind, pass)}
	case r.Finetune.Epochs > 0:
		return &DataError{"fine-tuning needs data" + pass + ", or --finetune-epochs 0"}
	}
	return nil
}

func (ru *runner) log(s string) {
	if ru.env.Log != nil {
		ru.env.Log(s)
	}
}

func (ru *runner) warn(s string) {
	if !contains(ru.rep.Warnings, s) {
		ru.rep.Warnings = append(ru.rep.Warnings, s)
		ru.log("warning: " + s)
	}
}

func (ru *runner) evaluate(g *graph.Graph) (float64, error) {
	return train.Evaluate(ru.ctx, g, nil, ru.env.Test, 256, nil)
}

// fit trains g for epochs with hooks set by attach.
func (ru *runner) fit(g *graph.Graph, epochs int, attach func(*train.Trainer)) error {
	if epochs == 0 {
		return nil
	}
	cfg := ru.cfg
	cfg.Epochs = epochs
	ru.log(fmt.Sprintf("training %d epochs on %d images: %s, lr %g, batch %d", epochs, ru.train.N, cfg.Recipe, cfg.LR, cfg.Batch))
	t := &train.Trainer{Graph: g, Config: cfg, Train: ru.train, OnProgress: ru.env.Progress}
	if attach != nil {
		attach(t)
	}
	_, err := t.Run(ru.ctx)
	return err
}

// holdMasks returns an attach function that holds p's masks in training.
func holdMasks(p *Pruner, err *error) func(*train.Trainer) {
	return func(t *train.Trainer) {
		if e := p.Masks.Attach(t); e != nil {
			*err = e
		}
	}
}

func (ru *runner) accuracy(g *graph.Graph) (*float64, error) {
	if ru.env.Test == nil {
		return nil, nil
	}
	a, err := ru.evaluate(g)
	return &a, err
}

// oneshot prunes once (to the target, or to ratios from a sensitivity
// analysis) and fine-tunes with the masks held.
func (ru *runner) oneshot(p *Pruner) (*float64, error) {
	if ru.r.Sensitivity != nil {
		if err := ru.sensitivity(p); err != nil {
			return nil, err
		}
	} else if err := p.Step(ru.r.Target.Ratio); err != nil {
		return nil, err
	}
	acc, err := ru.accuracy(p.Graph)
	if err != nil || ru.r.Finetune.FromScratch {
		return acc, err
	}
	var aerr error
	if err := ru.fit(p.Graph, ru.r.Finetune.Epochs, holdMasks(p, &aerr)); err != nil {
		return nil, err
	}
	return acc, aerr
}

// iterative prunes in rounds to growing ratios, fine-tuning after each.
func (ru *runner) iterative(p *Pruner) (*float64, error) {
	rounds := ru.r.Schedule.Rounds
	if rounds == 0 {
		rounds = 3
	}
	var acc *float64
	for k, s := range IterativeTargets(ru.r.Target.Ratio, rounds) {
		if err := p.Step(s); err != nil {
			return nil, err
		}
		a, err := ru.accuracy(p.Graph)
		if err != nil {
			return nil, err
		}
		if k == rounds-1 {
			acc = a
		}
		var aerr error
		if err := ru.fit(p.Graph, ru.r.Finetune.Epochs, holdMasks(p, &aerr)); err != nil {
			return nil, err
		}
		if aerr != nil {
			return nil, aerr
		}
		// Han et al. report each round: accuracy pruned and retrained.
		line := fmt.Sprintf("round %d/%d: ratio %.4f", k+1, rounds, p.Plan.Ratio())
		if a != nil {
			after, err := ru.accuracy(p.Graph)
			if err != nil {
				return nil, err
			}
			line += fmt.Sprintf(", test top-1 pruned %.2f%%, fine-tuned %.2f%%", 100**a, 100**after)
		}
		ru.log(line)
	}
	return acc, nil
}

// agp trains for the fine-tuning epochs while AGP raises the sparsity.
func (ru *runner) agp(p *Pruner) error {
	s := ru.r.Schedule
	n := s.Rounds
	if n == 0 {
		n = 10
	}
	steps := ru.stepsPerEpoch() * ru.r.Finetune.Epochs
	every := s.Every
	if every == 0 {
		every = max(1, (steps*3/4-s.Start)/n)
	}
	a := AGP{Initial: s.Initial, Final: ru.r.Target.Ratio, Start: s.Start, N: n, Every: every}
	if err := a.Validate(); err != nil {
		return err
	}
	if a.Start+a.N*a.Every > steps {
		ru.warn(fmt.Sprintf("AGP: the schedule ends at step %d but training has %d steps; the final sparsity is set after training", a.Start+a.N*a.Every, steps))
	}
	if err := p.Step(a.At(0)); err != nil {
		return err
	}
	var errf func() error
	var aerr error
	err := ru.fit(p.Graph, ru.r.Finetune.Epochs, func(t *train.Trainer) {
		aerr = p.Masks.Attach(t)
		errf = a.Attach(t, p)
	})
	if err != nil {
		return err
	}
	if aerr != nil {
		return aerr
	}
	if err := errf(); err != nil {
		return err
	}
	if p.Plan.Ratio() < a.Final-1e-9 {
		return p.Step(a.Final)
	}
	return nil
}

func (ru *runner) stepsPerEpoch() int {
	b := ru.cfg.Batch
	return (ru.train.N + b - 1) / b
}

func (ru *runner) metrics() *Metrics {
	if ru.rep.Metrics == nil {
		ru.rep.Metrics = &Metrics{}
	}
	return ru.rep.Metrics
}

// sensitivity runs the analysis and prunes each layer at the ratio that
// meets the budget.
func (ru *runner) sensitivity(p *Pruner) error {
	s := ru.r.Sensitivity
	if err := Score(p.Ctx, p.Criterion, p.Layers, p.Normalize); err != nil {
		return err
	}
	hold := ru.hold
	if hold == nil {
		if ru.env.Test == nil {
			return &DataError{"sensitivity analysis needs test data"}
		}
		hold = ru.env.Test.Limit(s.holdout())
	}
	eval := func(m *graph.Graph) (float64, error) { return train.Evaluate(ru.ctx, m, nil, hold, 256, nil) }
	grid := s.Ratios
	if len(grid) == 0 {
		grid = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
	}
	base, curves, err := Sensitivity(p.Graph, p.Layers, grid, eval)
	if err != nil {
		return err
	}
	ru.rep.BaseAccuracy, ru.rep.Curves = base, curves
	dense := p.Graph
	_, td, err := graph.Stats(dense)
	if err != nil {
		return err
	}
	cost := func(ratios []float64) (float64, error) {
		plan, err := UniformPlan(p.Layers, ratios, p.Alloc.RoundTo)
		if err != nil {
			return 0, err
		}
		var m *graph.Graph
		if plan.structured() {
			if m, err = plan.Slim(dense); err != nil {
				return 0, err
			}
		} else {
			m = dense.Clone()
			if _, err := plan.Apply(m); err != nil {
				return 0, err
			}
		}
		met, err := Measure(dense, m, nil)
		if err != nil {
			return 0, err
		}
		if s.Budget == "params" {
			return float64(met.Nonzero) / float64(td.Params), nil
		}
		return float64(met.EffectiveMACs) / float64(td.MACs), nil
	}
	ratios, err := RatiosForBudget(p.Layers, base, curves, s.Keep, cost)
	if err != nil {
		return err
	}
	ru.rep.LayerRatios = ratios
	plan, err := UniformPlan(p.Layers, ratios, p.Alloc.RoundTo)
	if err != nil {
		return err
	}
	m, err := plan.Apply(p.Graph)
	if err != nil {
		return err
	}
	p.Masks, p.Plan = m, plan
	return nil
}

// finish slims, recovers from scratch when asked, and measures.
func (ru *runner) finish(dense, g *graph.Graph, p *Pruner, accPruned *float64) (*Report, error) {
	rep := ru.rep
	rep.Masked = g
	if p.Plan.structured() {
		slim, err := p.Plan.Slim(g)
		if err != nil {
			return nil, err
		}
		rep.Slim = slim
		rep.Summary = Summary(dense, slim)
	} else {
		_, total := p.Masks.Sparsity(g)
		rep.Summary = []string{fmt.Sprintf("%s pruned at granularity %s: %s", g.Name, rep.Granularity, total)}
	}
	var accFinal *float64
	var err error
	rep.Recovery = "none"
	switch {
	case ru.r.Finetune.FromScratch:
		rep.Recovery = "from_scratch"
	case ru.r.Finetune.Epochs > 0:
		rep.Recovery = "finetune"
	}
	if ru.r.Finetune.FromScratch {
		accFinal, err = ru.fromScratch(g, p)
	} else if ru.r.Finetune.Epochs > 0 || ru.r.Schedule.Kind != "oneshot" {
		accFinal, err = ru.accuracy(g)
	}
	if err != nil {
		return nil, err
	}
	// Trained from scratch after slimming, the masked model is no output;
	// its counts are still the pruned structure's.
	m, err := Measure(dense, g, rep.Slim)
	if err != nil {
		return nil, err
	}
	if prev := rep.Metrics; prev != nil {
		m.AccuracyBefore, m.AccuracyReinit = prev.AccuracyBefore, prev.AccuracyReinit
	}
	m.AccuracyPruned, m.AccuracyFinetuned = accPruned, accFinal
	if err := ru.latency(m, dense, rep); err != nil {
		return nil, err
	}
	rep.Metrics = m
	return rep, nil
}

// fromScratch re-initialises the pruned architecture and trains it:
// the slimmed graph for structured granularities (the masked model is then
// not an output), the masked one with its masks held otherwise.
func (ru *runner) fromScratch(g *graph.Graph, p *Pruner) (*float64, error) {
	if ru.rep.Slim != nil {
		Reinit(ru.rep.Slim, ru.r.Seed+1)
		ru.rep.Masked = nil
		if err := ru.fit(ru.rep.Slim, ru.r.Finetune.Epochs, nil); err != nil {
			return nil, err
		}
		return ru.accuracy(ru.rep.Slim)
	}
	Reinit(g, ru.r.Seed+1)
	var aerr error
	if err := ru.fit(g, ru.r.Finetune.Epochs, holdMasks(p, &aerr)); err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	return ru.accuracy(g)
}

func (ru *runner) latency(m *Metrics, dense *graph.Graph, rep *Report) error {
	runs := ru.r.Output.LatencyRuns
	if runs <= 0 {
		return nil
	}
	var names []string
	var gs []*graph.Graph
	for _, c := range []struct {
		name string
		g    *graph.Graph
	}{{"dense", dense}, {"masked", rep.Masked}, {"slim", rep.Slim}} {
		if c.g == nil {
			continue
		}
		names, gs = append(names, c.name), append(gs, c.g)
	}
	m.LatencyMS = map[string]map[string]float64{}
	for _, name := range names {
		m.LatencyMS[name] = map[string]float64{}
	}
	for _, b := range []int{1, 64} {
		ts, err := Latencies(ru.ctx, gs, b, runs)
		if err != nil {
			return fmt.Errorf("latency at batch %d: %w", b, err)
		}
		for k, t := range ts {
			m.LatencyMS[names[k]][fmt.Sprint(b)] = float64(t.Microseconds()) / 1000
		}
	}
	return nil
}

// IsDataError reports whether err says data is missing.
func IsDataError(err error) bool {
	var de *DataError
	return errors.As(err, &de)
}
