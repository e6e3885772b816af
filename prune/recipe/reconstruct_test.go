package recipe

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
)

func TestReconstructRecovery(t *testing.T) {
	set := testutil.BrighterPixelSet(t, 48)
	r := Default()
	r.Model, r.Output.Out, r.Output.LatencyRuns = "tiny", "x.onnx", 0
	r.Method = MethodSpec{Criterion: "l1", Granularity: "filter"}
	r.Target = TargetSpec{Ratio: 0.4}
	r.Finetune = FinetuneSpec{Reconstruct: true, Recipe: "finetune"}
	if got := r.RecoveryName(); got != "reconstruct" {
		t.Fatalf("recovery %q, want reconstruct", got)
	}
	dense := tinyMLP()
	rep, err := Run(context.Background(), r, Env{Model: tinyMLP(), Train: set, Test: set, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovery != "reconstruct" || rep.Metrics.AccuracyFinetuned == nil {
		t.Fatalf("recovery %s, accuracy after %v", rep.Recovery, rep.Metrics.AccuracyFinetuned)
	}
	// fc2 lost one input and was refit: its kept weights moved, and the
	// slimmed model carries them.
	before, after := dense.Param("fc2.weight").Value.Data, rep.Masked.Param("fc2.weight").Value.Data
	if slices.Equal(before, after) {
		t.Fatal("fc2 was not refit")
	}
	slim := rep.Slim.Param("fc2.weight").Value
	if slim.Shape[1] != 2 {
		t.Fatalf("slim fc2 %v", slim.Shape)
	}
	var kept []float32
	for _, v := range after {
		if v != 0 {
			kept = append(kept, v)
		}
	}
	if !slices.Equal(kept, slim.Data) {
		t.Fatalf("slim fc2 %v, refit masked %v", slim.Data, after)
	}
	// Without data: a DataError naming reconstruction.
	if _, err := Run(context.Background(), r, Env{Model: tinyMLP(), Threads: 1}); !IsDataError(err) || !strings.Contains(err.Error(), "reconstruction needs calibration images") {
		t.Fatalf("reconstruction without data: %v", err)
	}
	// With from_scratch: a field error.
	r.Finetune.FromScratch = true
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "finetune.reconstruct") {
		t.Fatalf("reconstruct with from_scratch: %v", err)
	}
}
