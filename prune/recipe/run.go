package recipe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// Env is what Run gets from its caller besides the recipe: the model and
// the data, already loaded, and where to report.
type Env struct {
	Model *graph.Graph // changed in place: it ends as the masked model
	// Train and Test are nil when no data was given; Run says when a step
	// needs them (a DataError).
	Train, Test *data.Dataset
	// Calib, when set, holds the calibration images (data.calib's path,
	// LoadCalibration), labelled or not; otherwise they are the first
	// data.calib_images of Train.
	Calib *data.Dataset
	// Log receives notes and warnings, one line each (nil: dropped).
	Log func(string)
	// Progress receives training progress (nil: none).
	Progress func(train.Progress)
	// Threads for training (0: all cores).
	Threads int
	// Checkpoint, when set, is where the run's state is written
	// atomically at every round boundary (see Checkpoint), for a resume.
	Checkpoint string
	// Resume continues the run a checkpoint stopped: Model must be the
	// checkpoint's (Checkpoint.Graph) and the recipe its Recipe.
	Resume *Checkpoint
}

// DataError says that a step needs data that was not given. Fields
// names the recipe fields that would fix it (data.name, or
// finetune.epochs to fine-tune no more).
type DataError struct {
	Msg    string
	Fields []string
}

func (e *DataError) Error() string { return e.Msg }

// Session is one Run in progress as schedules and recoveries see it: the
// recipe, the data, the training configuration and the report being
// filled.
type Session struct {
	Ctx    context.Context
	Recipe Recipe
	Env    Env
	Config train.Config // fine-tuning: the recipe's training recipe with its lr, batch, seed and threads
	// Train holds the fine-tuning and calibration images: Env.Train
	// without the sensitivity hold-out Hold (split train), which is nil
	// otherwise.
	Train, Hold *data.Dataset
	Report      *Report
	Schedule    Schedule
	Recovery    Recovery

	dense *graph.Graph // the model as the run started
	model []byte       // dense as ONNX, for checkpoints (made on first use)
	// inFit, set by recover and AGP, makes the next Fit checkpoint inside;
	// fitResume is the training state that Fit continues.
	inFit     *fitCheckpoint
	fitResume *train.Checkpoint
}

// Run prunes env.Model as the recipe says: analysis, optional
// regularised training, scoring, allocation, the schedule with its
// fine-tuning, slimming, and the metrics. Warnings (layers the analysis
// cannot prune, caps that bind, weights an N:M pattern does not fit) go to
// env.Log and the report; nothing is left unpruned silently.
func Run(ctx context.Context, r Recipe, env Env) (*Report, error) {
	start := time.Now()
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if env.Resume != nil {
		if err := checkResume(r, env.Resume); err != nil {
			return nil, err
		}
	}
	crit, _ := prune.ParseCriterion(r.Method.Criterion)
	gran, _ := prune.ParseGranularity(r.Method.Granularity)
	alloc, _ := r.Allocation()
	sched, _ := NewSchedule(&r)
	rec, err := NewRecovery(&r)
	if err != nil {
		return nil, err
	}
	s := &Session{Ctx: ctx, Recipe: r, Env: env, Train: env.Train, Schedule: sched, Recovery: rec,
		Report: &Report{Version: ReportVersion, Command: "prune", Model: env.Model.Name, Criterion: crit.Name(), Granularity: gran.Name(),
			Schedule: sched.Name(), Target: r.Target.Ratio, Global: r.Target.Global, FinetuneEpochs: r.Finetune.Epochs, Seed: r.Seed,
			Warnings: []string{}}}
	if c := env.Resume; c != nil {
		// Warnings keep their first-seen order: those given again below
		// are already there.
		s.Report.Warnings = append(s.Report.Warnings, c.Warnings...)
		s.model = c.Model
	}
	if err := s.needData(crit); err != nil {
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
	s.Config = cfg

	g := env.Model
	dense := g.Clone()
	s.dense = dense
	d, aerr := prune.Analyze(g)
	if aerr != nil && gran.Structured() {
		return nil, fmt.Errorf("dependency analysis: %w", aerr)
	}
	if d != nil && gran.Structured() {
		for _, why := range d.Unprunable() {
			if !onlyGraphEnds(why.Why) {
				s.Warn(why.String())
			}
		}
		if len(d.Groups()) == 0 {
			return nil, fmt.Errorf("no prunable channel group in %s", g.Name)
		}
	}
	if sp := r.Sensitivity; sp != nil && sp.Split == "train" {
		k := min(sp.holdout(), s.Train.N-1)
		s.Hold = s.Train.Slice(s.Train.N-k, s.Train.N)
		s.Train = s.Train.Limit(s.Train.N - k)
	}
	if s.Env.Test != nil {
		acc, err := s.Evaluate(g)
		if err != nil {
			return nil, err
		}
		s.Report.Metrics = &prune.Metrics{AccuracyBefore: &acc}
	}
	layers, warns, err := prune.Layers(g, d, gran)
	if err != nil {
		return nil, err
	}
	if err := alloc.Check(layers); err != nil {
		return nil, allocationFieldError(err)
	}
	for _, w := range warns {
		s.Warn(w)
	}
	if fixed, ok := gran.FixedRatio(); ok && r.Target.Ratio != 0 && math.Abs(r.Target.Ratio-fixed) > 1e-9 {
		s.Warn(fmt.Sprintf("granularity %s fixes the sparsity at %g; ratio %g is not used", gran.Name(), fixed, r.Target.Ratio))
	}
	s.Log(fmt.Sprintf("pruning %s: criterion %s, granularity %s, %s, schedule %s", g.Name, crit.Name(), gran.Name(), r.Target.describe(), sched.Name()))
	if rg := r.Regularize; rg != nil && (!s.resuming() || s.Env.Resume.Regularizing) {
		reg, _ := prune.ParseRegularizer(rg.Kind, rg.Lambda)
		var resume *train.Checkpoint
		if c := s.Env.Resume; c != nil {
			// Stopped inside this training: it continues, and from its
			// end on the run is a fresh one.
			if err := setParamValues(g, c.Params); err != nil {
				return nil, err
			}
			resume = c.Trainer
			s.Env.Resume = nil
		}
		s.Log(fmt.Sprintf("training %d epochs with %s", rg.Epochs, reg.Name()))
		s.inFit = &fitCheckpoint{p: &prune.Pruner{Graph: g}, at: func() (boundary, bool) { return boundary{regularizing: true}, true }}
		if err := s.fitFrom(g, rg.Epochs, resume, func(t *train.Trainer) { prune.AttachRegularizer(t, reg) }); err != nil {
			return nil, err
		}
	}
	cc := &prune.Context{Graph: g, Dep: d, Seed: r.Seed, Reduction: r.Method.Reduction, Filters: gran.Name() == "filter"}
	if crit.Needs() != prune.NeedsNothing {
		if env.Calib != nil {
			cc.Calib = env.Calib
		} else {
			cc.Calib = s.Train.Limit(r.Data.Calib)
		}
	}
	norm := r.Method.Normalize
	if norm == "" {
		norm = "none"
		if gran.Structured() && (alloc.Global || r.Sensitivity != nil) {
			norm = "mean"
		}
	}
	p := &prune.Pruner{Graph: g, Layers: layers, Criterion: crit, Alloc: alloc, Normalize: norm, Ctx: cc, OnWarning: s.Warn}
	if s.resuming() {
		if err := s.restore(p); err != nil {
			return nil, err
		}
	} else if err := s.checkpoint(p, boundary{}); err != nil {
		return nil, err
	}
	accPruned, err := sched.Prune(s, p)
	if err != nil {
		return nil, err
	}
	s.Report.Achieved = p.Plan.Ratio()
	rep, err := s.finish(dense, g, p, accPruned)
	if err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// allocationFieldError names the recipe field of an allocation error.
func allocationFieldError(err error) error {
	var ae *prune.AllocationError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Field {
	case "LayerRatios":
		return &FieldError{Path: fmt.Sprintf("target.layer_ratios.%d", ae.Index), Err: ae.Err}
	case "MaxLayerRatio":
		return &FieldError{Path: "target.max_layer_ratio", Err: ae.Err}
	}
	return &FieldError{Path: "target.ratio", Err: ae.Err}
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
func (s *Session) needData(crit prune.Criterion) error {
	r := s.Recipe
	const pass = ": pass --data mnist|fashion-mnist (data: in a recipe)"
	data := []string{"data.name"}
	if c := s.Env.Calib; c != nil && crit.Needs() == prune.NeedsLabels && !c.Labelled() {
		return &DataError{fmt.Sprintf("criterion %s needs labelled images: the calibration images of %s have no labels (use class subfolders, or a criterion that needs none)", crit.Name(), c.Name), []string{"data.calib"}}
	}
	switch {
	case s.Env.Train != nil:
		return nil
	case crit.Needs() != prune.NeedsNothing && s.Env.Calib == nil:
		return &DataError{fmt.Sprintf("criterion %s needs %s%s", crit.Name(), crit.Needs(), pass), data}
	case r.Finetune.Reconstruct:
		return &DataError{"reconstruction needs calibration images" + pass, data}
	case r.Regularize != nil:
		return &DataError{"regularised training needs data" + pass, data}
	case r.Sensitivity != nil:
		return &DataError{"sensitivity analysis needs data" + pass, data}
	case s.Schedule.Gradual():
		return &DataError{fmt.Sprintf("schedule %s trains and needs data%s", s.Schedule.Name(), pass), data}
	case r.Finetune.Epochs > 0:
		return &DataError{"fine-tuning needs data" + pass + ", or --finetune-epochs 0", []string{"data.name", "finetune.epochs"}}
	}
	return nil
}

// Log sends a note to Env.Log.
func (s *Session) Log(line string) {
	if s.Env.Log != nil {
		s.Env.Log(line)
	}
}

// Warn records a warning in the report, once, and logs it.
func (s *Session) Warn(w string) {
	if !slices.Contains(s.Report.Warnings, w) {
		s.Report.Warnings = append(s.Report.Warnings, w)
		s.Log("warning: " + w)
	}
}

// Evaluate returns g's top-1 accuracy on the test split.
func (s *Session) Evaluate(g *graph.Graph) (float64, error) {
	return train.Evaluate(s.Ctx, g, nil, s.Env.Test, 256, nil)
}

// Accuracy is Evaluate, nil without a test split.
func (s *Session) Accuracy(g *graph.Graph) (*float64, error) {
	if s.Env.Test == nil {
		return nil, nil
	}
	a, err := s.Evaluate(g)
	return &a, err
}

// Fit trains g for epochs on Train with the fine-tuning configuration and
// the hooks that attach sets (nil: none); 0 epochs do nothing.
func (s *Session) Fit(g *graph.Graph, epochs int, attach func(*train.Trainer)) error {
	return s.fitFrom(g, epochs, nil, attach)
}

// fitFrom is Fit continuing the training a checkpoint stopped (resume
// nil: from the start); g must hold the weights of that moment.
func (s *Session) fitFrom(g *graph.Graph, epochs int, resume *train.Checkpoint, attach func(*train.Trainer)) error {
	// What recover, AGP or fitTracked set up is for this training only.
	inside, pending := s.inFit, s.fitResume
	s.inFit, s.fitResume = nil, nil
	if epochs == 0 {
		return nil
	}
	cfg := s.Config
	cfg.Epochs = epochs
	s.Log(fmt.Sprintf("training %d epochs on %d images: %s, lr %g, batch %d", epochs, s.Train.N, cfg.Recipe, cfg.LR, cfg.Batch))
	if resume == nil {
		resume = pending
	}
	t := &train.Trainer{Graph: g, Config: cfg, Train: s.Train, OnProgress: s.Env.Progress, Resume: resume}
	var err error
	if lr, ok := s.Recovery.(lossRecovery); ok {
		if t.Loss, err = lr.TrainLoss(s); err != nil {
			return err
		}
	}
	if attach != nil {
		attach(t)
	}
	finish := s.fitCheckpoints(t, inside)
	_, err = t.Run(s.Ctx)
	return finish(err)
}

// HoldMasks returns an attach function for Fit that holds p's masks in
// training (prune.Masks.Attach); an error attaching them goes to *err.
func (s *Session) HoldMasks(p *prune.Pruner, err *error) func(*train.Trainer) {
	return func(t *train.Trainer) {
		if e := p.Masks.Attach(t); e != nil {
			*err = e
		}
	}
}

// StepsPerEpoch is the number of optimiser steps in one epoch of Fit.
func (s *Session) StepsPerEpoch() int {
	b := s.Config.Batch
	return (s.Train.N + b - 1) / b
}

// Metrics returns the report's metrics, made when not yet there.
func (s *Session) Metrics() *prune.Metrics {
	if s.Report.Metrics == nil {
		s.Report.Metrics = &prune.Metrics{}
	}
	return s.Report.Metrics
}

// sensitivity runs the analysis and prunes each layer at the ratio that
// meets the budget.
func (s *Session) sensitivity(p *prune.Pruner, sp *SensitivitySpec) error {
	if err := prune.Score(p.Ctx, p.Criterion, p.Layers, p.Normalize); err != nil {
		return err
	}
	hold := s.Hold
	if hold == nil {
		if s.Env.Test == nil {
			return &DataError{"sensitivity analysis needs test data", []string{"data.name"}}
		}
		hold = s.Env.Test.Limit(sp.holdout())
	}
	// Each point measured is checkpointed; a resumed analysis takes the
	// points measured before from the checkpoint, in the order asked.
	var evals []float64
	if s.resuming() {
		evals = slices.Clone(s.Env.Resume.Evals)
	}
	asked := 0
	eval := prune.Evaluator(func(m *graph.Graph) (float64, error) {
		if asked++; asked <= len(evals) {
			return evals[asked-1], nil
		}
		acc, err := train.Evaluate(s.Ctx, m, nil, hold, 256, nil)
		if err != nil {
			return 0, err
		}
		evals = append(evals, acc)
		return acc, s.checkpoint(p, boundary{evals: evals})
	})
	grid := sp.Ratios
	if len(grid) == 0 {
		grid = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
	}
	base, curves, err := prune.Sensitivity(p.Graph, p.Layers, grid, eval)
	if err != nil {
		return err
	}
	s.Report.BaseAccuracy, s.Report.Curves = base, curves
	budget := sp.Budget
	if budget == "" {
		budget = "macs"
	}
	cost, err := prune.ParseCost(budget)
	if err != nil {
		return &FieldError{Path: "sensitivity.budget", Err: err}
	}
	alloc := &prune.SensitivityBudget{Dense: p.Graph, Base: base, Curves: curves, Keep: sp.Keep, Cost: cost, RoundTo: s.Recipe.Target.RoundTo}
	plan, err := alloc.Plan(p.Layers, 0)
	if err != nil {
		return &FieldError{Path: "sensitivity.keep", Err: err}
	}
	s.Report.LayerRatios = alloc.Ratios
	m, err := plan.Apply(p.Graph)
	if err != nil {
		return err
	}
	p.Masks, p.Plan = m, plan
	return nil
}

// finish slims, recovers, and measures.
func (s *Session) finish(dense, g *graph.Graph, p *prune.Pruner, accPruned *float64) (*Report, error) {
	rep := s.Report
	rep.Masked = g
	if p.Plan.Structured() {
		slim, err := p.Plan.Slim(g)
		if err != nil {
			return nil, err
		}
		rep.Slim = slim
		rep.Summary = prune.Summary(dense, slim)
	} else {
		_, total := p.Masks.Sparsity(g)
		rep.Summary = []string{fmt.Sprintf("%s pruned at granularity %s: %s", g.Name, rep.Granularity, total)}
	}
	rep.Recovery = s.Recovery.Name()
	accFinal, err := s.Recovery.Finish(s, p)
	if err != nil {
		return nil, err
	}
	// Trained from scratch after slimming, the masked model is no output;
	// its counts are still the pruned structure's.
	m, err := prune.Measure(dense, g, rep.Slim)
	if err != nil {
		return nil, err
	}
	if prev := rep.Metrics; prev != nil {
		m.AccuracyBefore, m.AccuracyReinit = prev.AccuracyBefore, prev.AccuracyReinit
	}
	m.AccuracyPruned, m.AccuracyFinetuned = accPruned, accFinal
	if err := s.latency(m, dense, rep); err != nil {
		return nil, err
	}
	rep.Metrics = m
	return rep, nil
}

func (s *Session) latency(m *prune.Metrics, dense *graph.Graph, rep *Report) error {
	runs := s.Recipe.Output.LatencyRuns
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
		// prune.Latencies compiles each model as shears run does
		// (CompileInference folds BatchNorm and fuses itself).
		names, gs = append(names, c.name), append(gs, c.g)
	}
	m.LatencyMS = map[string]map[string]float64{}
	for _, name := range names {
		m.LatencyMS[name] = map[string]float64{}
	}
	for _, b := range []int{1, 64} {
		ts, err := prune.Latencies(s.Ctx, gs, b, runs)
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
