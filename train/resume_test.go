package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/zoo"
)

// TestResumeIsBitIdentical interrupts a run mid-epoch, resumes it from the
// checkpoint, and checks that the weights equal an uninterrupted run's.
func TestResumeIsBitIdentical(t *testing.T) {
	cfg := Recipes["dense-fashion"]
	cfg.Epochs, cfg.Batch, cfg.Seed, cfg.Threads = 2, 8, 4, 2
	trainSet := mnist(t, data.Train, 80) // 10 batches per epoch

	full := zoo.VGGS(2)
	if _, err := (&Trainer{Graph: full, Config: cfg, Train: trainSet}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	ckpt := filepath.Join(t.TempDir(), "run.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	first := &Trainer{Graph: zoo.VGGS(2), Config: cfg, Train: trainSet, Checkpoint: ckpt, EncodeModel: onnx.Encode}
	first.On(AfterStep, func(*State) error {
		if steps++; steps == 13 {
			cancel() // in the second epoch, batch 3
		}
		return nil
	})
	if _, err := first.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want an interruption, got %v", err)
	}
	state, err := ReadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if state.Epoch != 1 || state.Batch != 3 || state.Step != 13 {
		t.Fatalf("checkpoint at epoch %d batch %d step %d, want 1, 3, 13", state.Epoch, state.Batch, state.Step)
	}
	g, err := onnx.Decode(state.Model, ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Trainer{Graph: g, Config: state.Config, Train: trainSet, Resume: state}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range full.Params {
		q := g.Param(p.Name)
		if q == nil {
			t.Fatalf("resumed model lacks %s", p.Name)
		}
		for i, v := range p.Value.Data {
			if math.Float32bits(v) != math.Float32bits(q.Value.Data[i]) {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", p.Name, i, v, q.Value.Data[i])
			}
		}
	}
}
