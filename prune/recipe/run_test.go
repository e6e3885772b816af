package recipe

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/tensor"
)

// tinyMLP is 2 → 3 → 2 with fixed weights (prune's test model of that
// name).
func tinyMLP() *graph.Graph {
	g := &graph.Graph{Name: "tiny", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 1, 1, 2}}}, Meta: map[string]string{}}
	param := func(name string, v []float32, shape ...int) string {
		t, err := tensor.FromData(v, shape...)
		if err != nil {
			panic(err)
		}
		g.AddParam(name, t, true)
		return name
	}
	op := func(name, op string, attrs graph.Attrs, inputs ...string) string {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{name}, Attrs: attrs})
		return name
	}
	x := op("flatten", "Flatten", graph.Attrs{"axis": 1}, "x")
	h := op("fc1", "Gemm", graph.Attrs{"transB": 1}, x, param("fc1.weight", []float32{1, -2, 0.5, 0.5, -3, 0}, 3, 2), param("fc1.bias", make([]float32, 3), 3))
	h = op("relu", "Relu", nil, h)
	y := op("fc2", "Gemm", graph.Attrs{"transB": 1}, h, param("fc2.weight", []float32{1, 1, 1, 0, 2, -1}, 2, 3), param("fc2.bias", make([]float32, 2), 2))
	g.Outputs = []graph.ValueInfo{{Name: y}}
	graph.LabelAxes(g)
	return g
}

func TestRunSchedules(t *testing.T) {
	set := testutil.BrighterPixelSet(t, 48)
	base := func() Recipe {
		r := Default()
		r.Model, r.Output.Out, r.Output.LatencyRuns = "tiny", "x.onnx", 0
		r.Method = MethodSpec{Criterion: "l1", Granularity: "weight"}
		r.Target = TargetSpec{Ratio: 0.5, Global: true}
		r.Finetune = FinetuneSpec{Epochs: 1, Recipe: "finetune", Batch: 8}
		return r
	}
	env := func() Env { return Env{Model: tinyMLP(), Train: set, Test: set, Threads: 1} }
	for _, kind := range []string{"oneshot", "iterative", "agp", "lottery"} {
		r := base()
		r.Schedule = ScheduleSpec{Kind: kind, Rounds: 2}
		if kind == "lottery" {
			r.Schedule.Reinit, r.Schedule.RewindSteps = true, 2
		}
		rep, err := Run(context.Background(), r, env())
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		m := rep.Metrics
		if rep.Slim != nil || m.AccuracyBefore == nil || m.AccuracyFinetuned == nil || m.Nonzero >= m.Params {
			t.Errorf("%s: %+v", kind, m)
		}
		if math.Abs(rep.Achieved-0.5) > 0.1 {
			t.Errorf("%s: achieved %g", kind, rep.Achieved)
		}
		if (m.AccuracyReinit != nil) != (kind == "lottery") {
			t.Errorf("%s: reinit accuracy %v", kind, m.AccuracyReinit)
		}
		if kind != "lottery" {
			if rep.Lottery != nil {
				t.Errorf("%s: lottery runs %+v", kind, rep.Lottery)
			}
			continue
		}
		// Two rounds (dense, round 2), the control and the ticket, one
		// accuracy per epoch each; the ticket's last one is the report's.
		var names []string
		for _, run := range rep.Lottery {
			names = append(names, fmt.Sprintf("%s@%.2f/%d", run.Name, run.Remaining, len(run.EpochAccuracy)))
		}
		if got := strings.Join(names, " "); !regexp.MustCompile(`^dense@1\.00/1 round 2@0\.(6\d|7\d)/1 control@0\.(4\d|5\d)/1 ticket@0\.(4\d|5\d)/1$`).MatchString(got) {
			t.Errorf("lottery runs: %s", got)
		}
		if last := rep.Lottery[len(rep.Lottery)-1]; last.EpochAccuracy[0] != *m.AccuracyFinetuned {
			t.Errorf("ticket accuracy %g, report %g", last.EpochAccuracy[0], *m.AccuracyFinetuned)
		}
		var img bytes.Buffer
		if err := LotteryPlot(&img, "tiny", rep.Lottery); err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(&img); err != nil {
			t.Errorf("lottery plot: %v", err)
		}
	}
	// Structured, trained from scratch: only the slimmed model comes out.
	r := base()
	r.Method = MethodSpec{Criterion: "l1", Granularity: "filter"}
	r.Target = TargetSpec{Ratio: 0.4}
	r.Finetune.FromScratch = true
	rep, err := Run(context.Background(), r, env())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Slim == nil || rep.Masked != nil || rep.Recovery != "from_scratch" || rep.Slim.Param("fc1.weight").Value.Shape[0] != 2 {
		t.Errorf("from scratch: slim %v, masked %v, recovery %s", rep.Slim != nil, rep.Masked != nil, rep.Recovery)
	}
	// Data that is missing is named.
	r = base()
	r.Method.Criterion = "taylor"
	e := env()
	e.Train, e.Test = nil, nil
	if _, err := Run(context.Background(), r, e); !IsDataError(err) || !strings.Contains(err.Error(), "criterion taylor needs labelled data") {
		t.Errorf("taylor without data: %v", err)
	}
	r = base()
	if _, err := Run(context.Background(), r, e); !IsDataError(err) || !strings.Contains(err.Error(), "fine-tuning needs data") {
		t.Errorf("fine-tuning without data: %v", err)
	}
	r.Finetune.Epochs = 0
	if _, err := Run(context.Background(), r, e); err != nil {
		t.Errorf("data-free pruning: %v", err)
	}
}

func TestCurvesCSVAndPlot(t *testing.T) {
	curves := []prune.Curve{
		{Layer: "conv1", Ratios: []float64{0.25, 0.5}, Accuracy: []float64{0.9, 0.7}},
		{Layer: "conv2", Ratios: []float64{0.25, 0.5}, Accuracy: []float64{0.95, 0.93}},
	}
	var csv, img bytes.Buffer
	if err := WriteCurves(&csv, 0.96, curves); err != nil {
		t.Fatal(err)
	}
	want := "layer,ratio,accuracy,drop\nconv1,0.25,0.900000,0.060000\nconv1,0.5,0.700000,0.260000\nconv2,0.25,0.950000,0.010000\nconv2,0.5,0.930000,0.030000\n"
	if csv.String() != want {
		t.Errorf("csv %q, want %q", csv.String(), want)
	}
	if err := PlotCurves(&img, "lenet5", 0.96, curves); err != nil {
		t.Fatal(err)
	}
	if im, err := png.Decode(&img); err != nil || im.Bounds().Dx() < 100 {
		t.Errorf("plot: %v", err)
	}
	bad := []prune.Curve{{Layer: "x", Ratios: []float64{0.5}}}
	if err := PlotCurves(&img, "bad", 1, bad); err == nil || !strings.Contains(err.Error(), "2 x values and 1 y values") {
		t.Errorf("mismatched series: %v", err)
	}
}
