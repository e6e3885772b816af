package recipe

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// trainedTiny is the tiny MLP trained on set: a teacher worth learning
// from.
func trainedTiny(t *testing.T, set *data.Dataset) *graph.Graph {
	t.Helper()
	cfg, err := train.Recipe("finetune")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Epochs, cfg.Batch, cfg.Threads = 30, 8, 1
	g := tinyMLP()
	res, err := (&train.Trainer{Graph: g, Config: cfg, Train: set, Test: set}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy < 0.85 {
		t.Fatalf("the dense tiny MLP reaches %.2f only", res.TestAccuracy)
	}
	return g
}

// learnedBase is a recipe on the tiny MLP with one epoch of fine-tuning.
func learnedBase() Recipe {
	r := Default()
	r.Model, r.Output.Out, r.Output.LatencyRuns = "tiny", "x.onnx", 0
	r.Method = MethodSpec{Criterion: "l1", Granularity: "weight"}
	r.Target = TargetSpec{Ratio: 0.5, Global: true}
	r.Finetune = FinetuneSpec{Epochs: 2, Recipe: "finetune", Batch: 8}
	return r
}

// TestDistillRecovery: distillation recovers after a one-shot and an
// iterative schedule and inside AGP's training, with the masks held and
// the report naming it.
func TestDistillRecovery(t *testing.T) {
	set := testutil.BrighterPixelSet(t, 48)
	dense := trainedTiny(t, set)
	for _, kind := range []string{"oneshot", "iterative", "agp"} {
		r := learnedBase()
		r.Schedule = ScheduleSpec{Kind: kind, Rounds: 2}
		r.Finetune.Distill, r.Finetune.DistillTemperature = true, 2
		rep, err := Run(context.Background(), r, Env{Model: dense.Clone(), Train: set, Test: set, Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		m := rep.Metrics
		if rep.Recovery != "distill" || m.AccuracyFinetuned == nil || m.Nonzero >= m.Params {
			t.Errorf("%s: recovery %s, metrics %+v", kind, rep.Recovery, m)
		}
		// AGP on 12 steps sets its final sparsity after training: no
		// recovery to measure there.
		if kind != "agp" && *m.AccuracyFinetuned < *m.AccuracyBefore-0.1 {
			t.Errorf("%s: distilled from a %.2f teacher, the pruned model reaches %.2f", kind, *m.AccuracyBefore, *m.AccuracyFinetuned)
		}
	}
}

func TestDistillBadSettings(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Recipe)
		want string
	}{
		{func(r *Recipe) { r.Finetune.DistillAlpha = 0.5 }, "finetune.distill: distill_alpha and distill_temperature need distill: true"},
		{func(r *Recipe) { r.Finetune.Distill, r.Finetune.DistillAlpha = true, 2 }, "finetune.distill_alpha: distillation alpha must be in [0, 1], have 2"},
		{func(r *Recipe) { r.Finetune.Distill, r.Finetune.DistillTemperature = true, -1 }, "finetune.distill_temperature:"},
		{func(r *Recipe) { r.Finetune.Distill, r.Finetune.Epochs = true, 0 }, "finetune.epochs: distillation trains"},
		{func(r *Recipe) { r.Finetune.Distill, r.Finetune.FromScratch = true, true }, "does not go with from_scratch"},
		{func(r *Recipe) { r.Finetune.Distill, r.Finetune.Reconstruct = true, true }, "finetune.reconstruct: choose reconstruction or distillation"},
	} {
		r := learnedBase()
		tc.edit(&r)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestSFPAndDNSRun: both schedules train, end at their target and say
// so in the report; SFP slims.
func TestSFPAndDNSRun(t *testing.T) {
	set := testutil.BrighterPixelSet(t, 48)
	dense := trainedTiny(t, set)
	r := learnedBase()
	r.Schedule.Kind = "sfp"
	r.Method = MethodSpec{Criterion: "l2", Granularity: "filter"}
	r.Target = TargetSpec{Ratio: 0.34}
	rep, err := Run(context.Background(), r, Env{Model: dense.Clone(), Train: set, Test: set, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Slim == nil || rep.Slim.Param("fc1.weight").Value.Shape[0] != 2 || rep.Metrics.AccuracyPruned == nil {
		t.Errorf("sfp: slim %v, metrics %+v", rep.Slim, rep.Metrics)
	}
	r = learnedBase()
	r.Schedule.Kind = "dns"
	r.Finetune.Epochs = 3
	rep, err = Run(context.Background(), r, Env{Model: dense.Clone(), Train: set, Test: set, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Metrics
	if m.Nonzero >= m.Params || m.AccuracyFinetuned == nil {
		t.Errorf("dns: %+v", m)
	}
	short := false
	for _, w := range rep.Warnings {
		short = short || strings.Contains(w, "DNS reached sparsity")
	}
	if short != (rep.Achieved < 0.495) {
		t.Errorf("dns: achieved %g, warnings %q", rep.Achieved, rep.Warnings)
	}
}

// TestLearnedGranularityErrors: a schedule with a granularity it cannot
// use is a one-line error naming the field.
func TestLearnedGranularityErrors(t *testing.T) {
	for _, tc := range []struct{ kind, gran, want string }{
		{"sfp", "weight", "method.granularity: schedule sfp zeroes whole filters: granularity weight is not supported (filter or channel)"},
		{"dns", "filter", "method.granularity: schedule dns masks single weights: granularity filter is not supported (weight)"},
		{"dns", "block1x4", "granularity block1x4 is not supported"},
	} {
		r := learnedBase()
		r.Schedule.Kind, r.Method.Granularity = tc.kind, tc.gran
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s at %s: %v, want %q", tc.kind, tc.gran, err, tc.want)
		}
	}
}

// TestMorphNetRun: MorphNet trains with its penalty, meets the cost
// target, retrains and slims; a λ that makes the loss diverge stops with
// a message naming schedule.lambda.
func TestMorphNetRun(t *testing.T) {
	set := testutil.BrighterPixelSet(t, 48)
	dense := trainedTiny(t, set)
	r := learnedBase()
	r.Method = MethodSpec{Criterion: "l1", Granularity: "filter"}
	r.Schedule = ScheduleSpec{Kind: "morphnet", Lambda: 1e-3, RegEpochs: 2}
	r.Target = TargetSpec{Ratio: 0.3}
	rep, err := Run(context.Background(), r, Env{Model: dense.Clone(), Train: set, Test: set, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Metrics
	if rep.Slim == nil || m.AccuracyFinetuned == nil || float64(m.EffectiveMACs) > 0.7*float64(m.MACs) {
		t.Errorf("morphnet: slim %v, metrics %+v", rep.Slim != nil, m)
	}
	r.Schedule.Lambda = 1e30
	_, err = Run(context.Background(), r, Env{Model: dense.Clone(), Train: set, Test: set, Threads: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "schedule.lambda: the penalty at λ = 1e+30 made training diverge") || strings.Contains(err.Error(), "\n") {
		t.Errorf("λ 1e30: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Recipe)
		want string
	}{
		{func(r *Recipe) { r.Method.Granularity = "weight" }, "method.granularity: schedule morphnet shrinks whole channels: granularity weight is not supported"},
		{func(r *Recipe) { r.Schedule.Cost = "latency" }, "schedule.cost: want macs or params"},
		{func(r *Recipe) { r.Schedule.Lambda = math.Inf(1) }, "schedule.lambda: must be a finite number"},
	} {
		r := learnedBase()
		r.Method.Granularity = "filter"
		r.Schedule.Kind = "morphnet"
		tc.edit(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestSparseVDRun: the schedule trains the rewritten model, the result
// is the deterministic model (one input, no log-variances) with a
// sparsity short of the hoped-for ratio said in a warning; the training
// copy saves and reloads with its log-variances trainable.
func TestSparseVDRun(t *testing.T) {
	set := testutil.BrighterPixelSet(t, 48)
	dense := trainedTiny(t, set)
	r := learnedBase()
	r.Schedule.Kind = "sparsevd"
	r.Target = TargetSpec{Ratio: 0.99}
	rep, err := Run(context.Background(), r, Env{Model: dense.Clone(), Train: set, Test: set, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Masked
	if len(g.Inputs) != 1 || len(g.Params) != len(dense.Params) || rep.Metrics.AccuracyFinetuned == nil {
		t.Errorf("sparsevd result: %d inputs, %d params (dense %d), metrics %+v", len(g.Inputs), len(g.Params), len(dense.Params), rep.Metrics)
	}
	short := false
	for _, w := range rep.Warnings {
		short = short || strings.HasPrefix(w, "sparse VD reached sparsity")
	}
	if !short {
		t.Errorf("no shortfall warning for a 99%% target on 6+6 weights in 2 epochs: %q (achieved %g)", rep.Warnings, rep.Achieved)
	}
	vd, err := prune.NewSparseVD(dense, nil)
	if err != nil {
		t.Fatal(err)
	}
	vd.Reset()
	b, err := onnx.Encode(vd.Train)
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Decode(b, "vd")
	if err != nil {
		t.Fatal(err)
	}
	if p := back.Param("fc1.weight.log_sigma2"); p == nil || !p.Trainable || p.Value.Data[0] != -10 {
		t.Errorf("reloaded log-variance %+v", p)
	}
	r.Method.Granularity = "filter"
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "method.granularity: schedule sparsevd learns single weights' dropout rates: granularity filter is not supported (weight)") {
		t.Errorf("sparsevd at filter: %v", err)
	}
}
