package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
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

// A Snapshot taken at the end of an epoch is the checkpoint Run writes
// after it, and outside a run it is an error.
func TestSnapshotIsTheEpochCheckpoint(t *testing.T) {
	cfg := Recipes["dense-mnist"]
	cfg.Epochs, cfg.Batch, cfg.Seed, cfg.Threads = 2, 16, 3, 2
	trainSet := mnist(t, data.Train, 64)
	ckpt := filepath.Join(t.TempDir(), "run.ckpt")
	tr := &Trainer{Graph: zoo.LeNet5(3), Config: cfg, Train: trainSet, Checkpoint: ckpt, EncodeModel: onnx.Encode}
	var snaps []*Checkpoint
	tr.On(EndOfEpoch, func(st *State) error {
		c, err := tr.Snapshot(st)
		snaps = append(snaps, c)
		return err
	})
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	written, err := ReadCheckpoint(ckpt) // after the last epoch
	if err != nil {
		t.Fatal(err)
	}
	last := snaps[len(snaps)-1]
	if len(snaps) != 2 || !reflect.DeepEqual(last, written) {
		t.Errorf("%d snapshots; the last differs from the checkpoint written after it:\n%+v\n%+v", len(snaps), last.Config, written.Config)
	}
	if _, err := (&Trainer{}).Snapshot(&State{}); err == nil {
		t.Errorf("a snapshot outside a run")
	}
}
