package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/prune"
)

// halfThenAll is a test schedule: two one-shot steps, half the target and
// then the target, with recovery after each. It shows that a schedule is
// one type and one registry entry.
type halfThenAll struct{ ratio float64 }

func (halfThenAll) Name() string             { return "half-then-all" }
func (halfThenAll) Gradual() bool            { return true }
func (halfThenAll) Validate(r *Recipe) error { return validateGradual(r, "half-then-all") }

func (h halfThenAll) Prune(s *Session, p *prune.Pruner) (*float64, error) {
	for _, r := range []float64{h.ratio / 2, h.ratio} {
		if err := p.Step(r); err != nil {
			return nil, err
		}
		if err := s.Recovery.Step(s, p); err != nil {
			return nil, err
		}
	}
	return s.Accuracy(p.Graph)
}

// countingRecovery fine-tunes like FineTune and counts its calls.
type countingRecovery struct {
	FineTune
	steps, finishes *int
}

func (c countingRecovery) Step(s *Session, p *prune.Pruner) error {
	*c.steps++
	return c.FineTune.Step(s, p)
}

func (c countingRecovery) Finish(s *Session, p *prune.Pruner) (*float64, error) {
	*c.finishes++
	return c.FineTune.Finish(s, p)
}

func TestRegistriesAddOneType(t *testing.T) {
	Schedules["half-then-all"] = func(r *Recipe) Schedule { return halfThenAll{r.Target.Ratio} }
	steps, finishes := 0, 0
	prev := Recoveries["finetune"]
	Recoveries["finetune"] = func(r *Recipe) Recovery {
		return countingRecovery{FineTune{r.Finetune.Epochs}, &steps, &finishes}
	}
	defer func() {
		delete(Schedules, "half-then-all")
		Recoveries["finetune"] = prev
	}()
	r, err := Parse([]byte("model: tiny\nmethod: {granularity: weight}\nschedule: {kind: half-then-all}\ntarget: {ratio: 0.5}\nfinetune: {epochs: 1, batch: 8}\noutput: {out: x.onnx, latency_runs: -1}\n"), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set := testutil.BrighterPixelSet(t, 32)
	rep, err := Run(context.Background(), r, Env{Model: tinyMLP(), Train: set, Test: set, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Schedule != "half-then-all" || rep.Recovery != "finetune" || steps != 2 || finishes != 1 {
		t.Errorf("schedule %s, recovery %s: %d steps, %d finishes", rep.Schedule, rep.Recovery, steps, finishes)
	}
	if rep.Achieved < 0.45 || rep.Metrics.AccuracyPruned == nil || rep.Metrics.AccuracyFinetuned == nil {
		t.Errorf("achieved %g, metrics %+v", rep.Achieved, rep.Metrics)
	}
	// Gradual: the 2:4 pattern's fixed sparsity rules it out.
	_, err = Parse([]byte("model: tiny\nmethod: {granularity: '2:4'}\nschedule: {kind: half-then-all}\noutput: {out: x.onnx}\n"), "r.yaml")
	if err == nil || !strings.Contains(err.Error(), "schedule.kind") || !strings.Contains(err.Error(), "fixes the sparsity") {
		t.Errorf("2:4 with a gradual schedule: %v", err)
	}
	// An unknown schedule lists the registered ones.
	_, err = Parse([]byte("model: tiny\nschedule: {kind: cubic}\noutput: {out: x.onnx}\n"), "r.yaml")
	if err == nil || !strings.Contains(err.Error(), strings.Join(ScheduleNames(), ", ")) || !strings.Contains(err.Error(), "half-then-all") {
		t.Errorf("unknown schedule: %v", err)
	}
}

func TestRecoveryNames(t *testing.T) {
	for _, tc := range []struct {
		f    FinetuneSpec
		want string
	}{{FinetuneSpec{Epochs: 0}, "none"}, {FinetuneSpec{Epochs: 3}, "finetune"}, {FinetuneSpec{Epochs: 3, FromScratch: true}, "from_scratch"}, {FinetuneSpec{Epochs: 3, Distill: true}, "distill"}, {FinetuneSpec{Epochs: 1, Reconstruct: true}, "reconstruct"}} {
		r := Default()
		r.Finetune = tc.f
		rec, err := NewRecovery(&r)
		if err != nil || r.RecoveryName() != tc.want || rec.Name() != tc.want {
			t.Errorf("%+v: %s, %v", tc.f, r.RecoveryName(), err)
		}
	}
	if got := RecoveryNames(); !slices.Equal(got, []string{"distill", "finetune", "from_scratch", "none", "reconstruct"}) {
		t.Errorf("recoveries %v", got)
	}
}

// TestReportJSON checks the report's JSON keys: the ones `shears prune
// --json` prints today, plus the version.
func TestReportJSON(t *testing.T) {
	r := Default()
	r.Model, r.Output.Out, r.Output.LatencyRuns = "tiny", "x.onnx", 0
	r.Method = MethodSpec{Criterion: "l1", Granularity: "weight"}
	r.Target = TargetSpec{Ratio: 0.5, Global: true}
	r.Finetune = FinetuneSpec{Epochs: 0, Recipe: "finetune"}
	rep, err := Run(context.Background(), r, Env{Model: tinyMLP(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"achieved_ratio", "command", "criterion", "finetune_epochs", "global", "granularity", "metrics", "model",
		"recovery", "schedule", "seconds", "seed", "summary", "target_ratio", "version", "warnings"}
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	if m["version"] != float64(ReportVersion) || m["command"] != "prune" || m["global"] != true || m["recovery"] != "none" {
		t.Errorf("report %s", b)
	}
	if w, ok := m["warnings"].([]any); !ok || len(w) != 0 {
		t.Errorf("warnings %v: want an empty list", m["warnings"])
	}
	rep.Outputs = map[string]string{"masked": "x.onnx"}
	b, _ = json.Marshal(NewSweepReport([]*Report{rep}))
	if !strings.Contains(string(b), `"runs":[{"version":1,"command":"prune"`) || !strings.Contains(string(b), `"outputs":{"masked":"x.onnx"}`) {
		t.Errorf("sweep %s", b)
	}
}

// TestRunErrorsNameFields checks that settings found bad only once the
// model is known are named as recipe fields, not as flags.
func TestRunErrorsNameFields(t *testing.T) {
	base := func() Recipe {
		r := Default()
		r.Model, r.Output.Out, r.Output.LatencyRuns = "tiny", "x.onnx", 0
		r.Finetune.Epochs = 0
		return r
	}
	for _, tc := range []struct {
		mod  func(r *Recipe)
		path string
		msg  string
	}{
		{func(r *Recipe) { r.Target = TargetSpec{Ratio: 0.5, LayerRatios: []string{"fc1=0.5", "conv9=0.3"}} }, "target.layer_ratios.1", `"conv9" matches no layer`},
		{func(r *Recipe) { r.Target = TargetSpec{Ratio: 0.9, Global: true, MaxLayerRatio: 0.5} }, "target.ratio", "cannot be met"},
	} {
		r := base()
		tc.mod(&r)
		_, err := Run(context.Background(), r, Env{Model: tinyMLP(), Threads: 1})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.path, err)
		}
	}
	r := base()
	r.Finetune.Epochs = 2
	_, err := Run(context.Background(), r, Env{Model: tinyMLP(), Threads: 1})
	var de *DataError
	if !errors.As(err, &de) || !slices.Equal(de.Fields, []string{"data.name", "finetune.epochs"}) {
		t.Errorf("fine-tuning without data: %v (%+v)", err, de)
	}
}

func TestNonFiniteRefused(t *testing.T) {
	for _, tc := range []struct{ yaml, path string }{
		{"finetune: {lr: .nan}", "finetune.lr"},
		{"regularize: {kind: l1, lambda: .inf, epochs: 1}", "regularize.lambda"},
		{"target: {ratio: .nan}", "target.ratio"},
		{"sensitivity: {keep: -.inf}", "sensitivity.keep"},
	} {
		_, err := Parse([]byte("model: lenet5\noutput: {out: x.onnx}\n"+tc.yaml+"\n"), "r.yaml")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || fe.Line != 3 || !strings.Contains(err.Error(), "finite") {
			t.Errorf("%s: %v", tc.yaml, err)
		}
	}
}

func TestWriteLayers(t *testing.T) {
	m := &prune.Metrics{Layers: []prune.LayerMetrics{{Name: "conv1", Op: "Conv", Params: 500, Nonzero: 250, Sparsity: 0.5, MACs: 1000, EffectiveMACs: 500, SlimParams: 250, SlimMACs: 500}}}
	var b strings.Builder
	if err := WriteLayers(&b, m); err != nil {
		t.Fatal(err)
	}
	want := "layer,op,params,nonzero,sparsity,macs,effective_macs,slim_params,slim_macs\nconv1,Conv,500,250,0.500000,1000,500,250,500\n"
	if b.String() != want {
		t.Errorf("csv %q, want %q", b.String(), want)
	}
}

func TestLoadData(t *testing.T) {
	tr, te, err := LoadData(DataSpec{Name: "mnist", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 10 || te.N != 10 || tr.Name != "mnist" {
		t.Errorf("train %d, test %d images", tr.N, te.N)
	}
	if tr, te, err := LoadData(DataSpec{}); tr != nil || te != nil || err != nil {
		t.Errorf("no data: %v %v %v", tr, te, err)
	}
	var fe *FieldError
	if _, _, err := LoadData(DataSpec{Name: "cifar"}); !errors.As(err, &fe) || fe.Path != "data.name" {
		t.Errorf("unknown data set: %v", err)
	}
}
