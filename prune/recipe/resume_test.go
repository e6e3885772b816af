package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/zoo"
)

// stopAt says where resumeRun cancels its context: at the end of the
// epochs-th training epoch of the run, or once a checkpoint satisfies
// ckpt (nil: never).
type stopAt struct {
	epochs int
	// midEpoch: stop after the first batch of the training that starts
	// after those epochs instead (a trainer always reports its first
	// batch).
	midEpoch bool
	ckpt     func(*Checkpoint) bool
}

// resumeRun prunes lenet5 (fresh, or from resume) with r, checkpointing
// to path, and cancels as stop says.
func resumeRun(t *testing.T, r Recipe, path string, resume *Checkpoint, stop stopAt) (*Report, error) {
	t.Helper()
	g := zoo.LeNet5(r.Seed)
	if resume != nil {
		var err error
		if g, err = resume.Graph(); err != nil {
			t.Fatal(err)
		}
	}
	trainSet, testSet, err := LoadData(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	epochs := 0
	env := Env{Model: g, Train: trainSet, Test: testSet, Threads: 2, Checkpoint: path, Resume: resume,
		Progress: func(p train.Progress) {
			if p.Phase != "train" {
				return
			}
			if stop.midEpoch && p.Batch == 1 && epochs == stop.epochs {
				cancel()
			}
			if p.Batch == p.Batches {
				if epochs++; epochs == stop.epochs && !stop.midEpoch {
					cancel()
				}
			}
		}}
	checkpointWritten = func(c *Checkpoint) {
		if stop.ckpt != nil && stop.ckpt(c) {
			cancel()
		}
	}
	defer func() { checkpointWritten = nil }()
	return Run(ctx, r, env)
}

// sameResult fails unless two reports hold the same models, bit for bit,
// and the same JSON but for the timings.
func sameResult(t *testing.T, a, b *Report) {
	t.Helper()
	for _, m := range [][2]*graph.Graph{{a.Masked, b.Masked}, {a.Slim, b.Slim}} {
		if (m[0] == nil) != (m[1] == nil) {
			t.Fatalf("one run has a model the other lacks")
		}
		if m[0] == nil {
			continue
		}
		for _, p := range m[0].Params {
			if q := m[1].Param(p.Name); q == nil || !slices.Equal(p.Value.Data, q.Value.Data) {
				t.Errorf("param %s differs between the uninterrupted and the resumed run", p.Name)
			}
		}
	}
	ja, jb := reportJSON(t, a), reportJSON(t, b)
	if ja != jb {
		t.Errorf("reports differ:\nuninterrupted %s\nresumed       %s", ja, jb)
	}
}

func reportJSON(t *testing.T, r *Report) string {
	t.Helper()
	c := *r
	c.Seconds = 0
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every schedule interrupted at a round boundary or inside a round's
// fine-tuning, then resumed from its checkpoint alone, ends with the
// uninterrupted run's models and report.
func TestInterruptAndResumeBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes lenet5 several times per case")
	}
	base := func() Recipe {
		r := Default()
		r.Model = "lenet5"
		r.Data = DataSpec{Name: "mnist", Limit: 384, Calib: 64}
		r.Target.Ratio = 0.5
		r.Finetune.Epochs = 2
		r.Finetune.Batch = 64
		r.Output.LatencyRuns = -1
		r.Output.Out = "never-written.onnx" // Run writes no file but its checkpoint
		return r
	}
	cases := []struct {
		name string
		edit func(*Recipe)
		stop stopAt
		done int // rounds the checkpoint holds when the run stops
		// inside: the checkpoint holds a training to continue
		inside bool
	}{
		{"iterative, inside round 2's fine-tuning", func(r *Recipe) { r.Schedule = ScheduleSpec{Kind: "iterative", Rounds: 3} }, stopAt{epochs: 3}, 1, true},
		{"iterative, inside an epoch of round 2's fine-tuning", func(r *Recipe) { r.Schedule = ScheduleSpec{Kind: "iterative", Rounds: 3} },
			stopAt{epochs: 2, midEpoch: true}, 1, true},
		{"oneshot, inside the first epoch", func(r *Recipe) {}, stopAt{midEpoch: true}, 0, true},
		{"agp, inside its first epoch", func(r *Recipe) { r.Schedule = ScheduleSpec{Kind: "agp", Rounds: 4, Every: 1} }, stopAt{midEpoch: true}, 0, true},
		{"iterative, after round 1", func(r *Recipe) { r.Schedule = ScheduleSpec{Kind: "iterative", Rounds: 3} },
			stopAt{ckpt: func(c *Checkpoint) bool { return c.Round == 1 }}, 1, false},
		{"iterative, weights, after round 2", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "iterative", Rounds: 3}
			r.Method.Granularity = "weight"
		}, stopAt{ckpt: func(c *Checkpoint) bool { return c.Round == 2 }}, 2, false},
		{"lottery with rewinding and control, inside round 2", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "lottery", Rounds: 2, RewindSteps: 3, Reinit: true}
			r.Method.Granularity = "weight"
		}, stopAt{epochs: 3}, 1, true},
		{"lottery with rewinding, inside the dense training before the rewind step", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "lottery", Rounds: 2, RewindSteps: 3}
			r.Method.Granularity = "weight"
		}, stopAt{midEpoch: true}, 0, true},
		{"lottery, inside an epoch of round 2", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "lottery", Rounds: 2}
			r.Method.Granularity = "weight"
		}, stopAt{epochs: 2, midEpoch: true}, 1, true},
		{"lottery with control, inside the control (restarted)", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "lottery", Rounds: 2, Reinit: true}
			r.Method.Granularity = "weight"
		}, stopAt{epochs: 5}, 2, false},
		{"lottery, inside the ticket", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "lottery", Rounds: 2}
			r.Method.Granularity = "weight"
		}, stopAt{epochs: 5}, 3, true},
		{"lottery to initialisation, after the control", func(r *Recipe) {
			r.Schedule = ScheduleSpec{Kind: "lottery", Rounds: 2, Reinit: true}
			r.Method.Granularity = "weight"
		}, stopAt{ckpt: func(c *Checkpoint) bool { return c.Round == 3 }}, 3, true}, // the ticket's training, at its start
		{"agp, inside its training", func(r *Recipe) { r.Schedule = ScheduleSpec{Kind: "agp", Rounds: 4} }, stopAt{epochs: 1}, 0, true},
		{"regularised, inside the regularised training", func(r *Recipe) {
			r.Regularize = &RegularizeSpec{Kind: "l1", Lambda: 1e-4, Epochs: 2}
			r.Finetune.Epochs = 1
		}, stopAt{epochs: 1}, 0, true},
		{"regularised, then oneshot", func(r *Recipe) {
			r.Regularize = &RegularizeSpec{Kind: "l1", Lambda: 1e-4, Epochs: 1}
		}, stopAt{epochs: 2}, 0, true},
		{"sensitivity, inside the analysis", func(r *Recipe) {
			r.Sensitivity = &SensitivitySpec{Ratios: []float64{0.25, 0.5}, Holdout: 200, Keep: 0.6}
			r.Finetune.Epochs = 1
		}, stopAt{ckpt: func(c *Checkpoint) bool { return len(c.Evals) == 3 }}, 0, false},
		{"sensitivity, inside the fine-tuning after it", func(r *Recipe) {
			r.Sensitivity = &SensitivitySpec{Ratios: []float64{0.25, 0.5}, Holdout: 200, Keep: 0.6}
		}, stopAt{epochs: 1}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.edit(&r)
			whole, err := resumeRun(t, r, "", nil, stopAt{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "run.ckpt")
			if _, err := resumeRun(t, r, path, nil, tc.stop); !errors.Is(err, context.Canceled) && !errors.Is(err, train.ErrInterrupted) {
				t.Fatalf("the interrupted run returned %v", err)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
				t.Errorf("side files left: %v", left)
			}
			c, err := ReadCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.stop.midEpoch && (c.Trainer == nil || c.Trainer.Batch != 1) {
				t.Fatalf("the run did not stop inside an epoch: %+v", c.Trainer)
			}
			if c.Round != tc.done || (c.Trainer != nil) != tc.inside {
				t.Fatalf("the run stopped with %d rounds done (inside a training: %v), want %d (%v)", c.Round, c.Trainer != nil, tc.done, tc.inside)
			}
			resumed, err := resumeRun(t, c.Recipe, path, c, stopAt{})
			if err != nil {
				t.Fatal(err)
			}
			sameResult(t, whole, resumed)
		})
	}
}

// A checkpoint does not go with another recipe, a training checkpoint is
// named as one, and a run with nothing worth resuming writes none.
func TestResumeRefusesForeignState(t *testing.T) {
	r := Default()
	r.Model = "lenet5"
	r.Data = DataSpec{Name: "mnist", Limit: 64, Calib: 64}
	r.Finetune.Epochs = 1
	r.Output.LatencyRuns = -1
	r.Output.Out = "never-written.onnx"
	path := filepath.Join(t.TempDir(), "run.ckpt")
	if _, err := resumeRun(t, r, path, nil, stopAt{}); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	other := c.Recipe
	other.Target.Ratio = 0.25
	if _, err := resumeRun(t, other, path, c, stopAt{}); err == nil {
		t.Errorf("a checkpoint resumed with another recipe")
	}
	none := filepath.Join(t.TempDir(), "none.ckpt")
	r.Finetune.Epochs = 0
	if _, err := resumeRun(t, r, none, nil, stopAt{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(none); err == nil {
		t.Errorf("a one-shot run without training wrote a checkpoint")
	}
	tp := filepath.Join(t.TempDir(), "train.ckpt")
	if err := train.WriteCheckpoint(tp, &train.Checkpoint{Optimizer: "sgd"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheckpoint(tp); !errors.Is(err, ErrNotPruneCheckpoint) {
		t.Errorf("a training checkpoint read as a prune checkpoint: %v", err)
	}
}
