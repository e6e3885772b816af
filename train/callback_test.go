package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
)

// tinyRun is a two-class linear model on 32 vectors: two batches an epoch.
func tinyRun(epochs int) *Trainer {
	g := flatGraph(4)
	g.Outputs = []graph.ValueInfo{{Name: linear(g, "fc", "flat", 4, 2, rand.New(rand.NewPCG(1, 1)))}}
	ds := vectors(32, 4, 3, func(x []float32) uint8 {
		if x[0] > 0 {
			return 1
		}
		return 0
	})
	cfg := Config{Epochs: epochs, Batch: 16, LR: 0.1, Optimizer: "sgd", Momentum: 0.9, Schedule: "constant", Threads: 1, Seed: 2}
	return &Trainer{Graph: g, Config: cfg, Train: ds}
}

func sameWeights(t *testing.T, what string, a, b *graph.Graph) {
	t.Helper()
	for _, p := range a.Params {
		for i, v := range p.Value.Data {
			if w := b.Param(p.Name).Value.Data[i]; math.Float32bits(v) != math.Float32bits(w) {
				t.Fatalf("%s: %s[%d] is %v and %v", what, p.Name, i, v, w)
			}
		}
	}
}

// TestCallbackOrder checks that callbacks run at their phases, in
// registration order, and see the position of the run.
func TestCallbackOrder(t *testing.T) {
	tr := tinyRun(2)
	var got []string
	var lastEpochLoss float64
	for _, id := range []string{"a", "b"} {
		for p := StartOfEpoch; p < numPhases; p++ {
			tr.On(p, func(s *State) error {
				got = append(got, fmt.Sprintf("%s%s e%d b%d s%d", p, id, s.Epoch, s.Batch.Index, s.Step))
				if s.Graph != tr.Graph || s.Program != tr.Program() || s.Trainer != tr || s.Batches != 2 || s.TotalSteps != 4 || s.Epochs != 2 {
					t.Errorf("%v: state %+v", p, s)
				}
				if (p == AfterBackward || p == AfterStep) != (s.Loss.Loss > 0) {
					t.Errorf("%v: loss %v", p, s.Loss)
				}
				if (p == BeforeStep || p == AfterBackward || p == AfterStep) != (s.Batch.Inputs != nil) || s.LR != 0.1 && s.Batch.Inputs != nil {
					t.Errorf("%v: batch %+v, lr %g", p, s.Batch, s.LR)
				}
				if p == EndOfEpoch {
					lastEpochLoss = s.EpochLoss
				}
				return nil
			})
		}
	}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	both := func(p Phase, e, b, s int) {
		for _, id := range []string{"a", "b"} {
			want = append(want, fmt.Sprintf("%s%s e%d b%d s%d", p, id, e, b, s))
		}
	}
	step := 0
	for e := 0; e < 2; e++ {
		both(StartOfEpoch, e, 0, step)
		for b := 0; b < 2; b++ {
			both(BeforeStep, e, b, step)
			both(AfterBackward, e, b, step)
			step++
			both(AfterStep, e, b, step)
		}
		both(EndOfEpoch, e, 0, step)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("callbacks ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if lastEpochLoss != res.TrainLoss {
		t.Errorf("end of epoch saw loss %v, result %v", lastEpochLoss, res.TrainLoss)
	}
}

// TestCallbackErrorStops checks that a callback's error stops training at
// once, wrapped with its phase and position.
func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("enough")
	tr := tinyRun(3)
	later, steps := 0, 0
	tr.On(AfterBackward, func(s *State) error {
		if s.Step == 2 {
			return stop
		}
		return nil
	})
	tr.On(AfterBackward, func(*State) error { later++; return nil })
	tr.On(AfterStep, func(*State) error { steps++; return nil })
	_, err := tr.Run(context.Background())
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "after backward callback, epoch 2, batch 1") {
		t.Fatalf("error %v", err)
	}
	if later != 2 || steps != 2 {
		t.Errorf("after the error: %d later callbacks, %d steps; want 2 and 2", later, steps)
	}
	// The failing batch took no step: the weights are those of one epoch.
	one := tinyRun(1)
	if _, err := one.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "stopped in epoch 2 vs one epoch", one.Graph, tr.Graph)

	tr = tinyRun(3)
	tr.On(EndOfEpoch, func(s *State) error {
		if s.Epoch == 1 {
			return stop
		}
		return nil
	})
	if _, err := tr.Run(context.Background()); !errors.Is(err, stop) || !strings.Contains(err.Error(), "end of epoch callback, epoch 2") {
		t.Errorf("end of epoch: error %v", err)
	}

	tr = tinyRun(1)
	tr.On(Phase(9), func(*State) error { return nil })
	tr.On(AfterStep, nil)
	if _, err := tr.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "unknown phase(9)") || !strings.Contains(err.Error(), "nil callback registered for after step") {
		t.Errorf("bad registrations: %v", err)
	}
}

// TestPenaltyInLoss checks doc.go's penalty pattern: a value added to
// State.Loss after backward is what the run reports.
func TestPenaltyInLoss(t *testing.T) {
	plain := tinyRun(2)
	res0, err := plain.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr := tinyRun(2)
	tr.On(AfterBackward, func(s *State) error {
		s.Loss.Loss++
		return nil
	})
	res1, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := res1.TrainLoss - res0.TrainLoss; math.Abs(d-1) > 1e-12 {
		t.Errorf("a penalty of 1 raised the loss by %v", d)
	}
	sameWeights(t, "a penalty without gradient", plain.Graph, tr.Graph)
}

// TestResumeWithEpochCallbacks checks that a run resumed mid-epoch whose
// callbacks change the weights at epoch ends gives the weights of an
// uninterrupted run, and that the resumed epoch does not start twice.
func TestResumeWithEpochCallbacks(t *testing.T) {
	var starts []int
	attach := func(tr *Trainer) {
		tr.On(StartOfEpoch, func(s *State) error { starts = append(starts, s.Epoch); return nil })
		tr.On(EndOfEpoch, func(s *State) error {
			// Zero the weight that grew most, as a filter-pruning
			// schedule would at an epoch's end.
			w := s.Graph.Param("fc.weight").Value.Data
			best := 0
			for i, v := range w {
				if math.Abs(float64(v)) > math.Abs(float64(w[best])) {
					best = i
				}
			}
			w[best] = 0
			return nil
		})
	}
	full := tinyRun(3)
	attach(full)
	if _, err := full.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(starts) != "[0 1 2]" {
		t.Fatalf("uninterrupted run started epochs %v", starts)
	}

	// Interrupted at an epoch's end (before the next epoch starts) and in
	// the middle of an epoch.
	for _, at := range []int{2, 3} {
		ckpt := filepath.Join(t.TempDir(), "run.ckpt")
		ctx, cancel := context.WithCancel(context.Background())
		first := tinyRun(3)
		first.Checkpoint, first.EncodeModel = ckpt, onnx.Encode
		attach(first)
		first.On(AfterStep, func(s *State) error {
			if s.Step == at {
				cancel()
			}
			return nil
		})
		starts = nil
		if _, err := first.Run(ctx); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("want an interruption, got %v", err)
		}
		state, err := ReadCheckpoint(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		g, err := onnx.Decode(state.Model, ckpt)
		if err != nil {
			t.Fatal(err)
		}
		resumed := &Trainer{Graph: g, Config: state.Config, Train: first.Train, Resume: state}
		attach(resumed)
		if _, err := resumed.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(starts) != "[0 1 2]" {
			t.Errorf("interrupted after step %d and resumed: the runs started epochs %v, want [0 1 2]", at, starts)
		}
		sameWeights(t, fmt.Sprintf("uninterrupted vs interrupted after step %d", at), full.Graph, g)
	}
}
