package train

import (
	"errors"
	"fmt"
	"slices"

	"github.com/shearsml/shears/internal/framedgob"
)

// checkpointFormat frames every checkpoint file: the magic, then a version
// that lets future readers refuse or convert old files; MaxBytes bounds
// what a (possibly corrupt) header can make the reader allocate.
var checkpointFormat = framedgob.Format{Magic: "SHRSCKPT", Version: 1, MaxBytes: 8 << 30}

// Checkpoint is everything needed to resume training exactly: the model
// (as ONNX bytes, so a pruned model with changed widths restores as it is),
// the optimiser buffers, and the position in the run. Data order and
// augmentation are pure functions of (seed, epoch, batch), so the position
// is the whole RNG state.
type Checkpoint struct {
	Model     []byte
	Optimizer string
	OptState  map[string][]float32
	Epoch     int // epoch in progress (0-based)
	Batch     int // next batch within Epoch
	Step      int // optimiser steps taken
	Seed      uint64
	Config    Config
	// Loss and Correct are the running sums of the epoch in progress so
	// that resumed epochs report the same figures.
	Loss    float64
	Correct int
	Seen    int
	// Source is what the run trains on, so that a resume needs nothing
	// but the checkpoint (empty in checkpoints of older versions).
	Source Source
}

// Source records a training run's model and data as the user gave them.
type Source struct {
	Model   string // zoo name or model file the run started from
	Data    string // data set name
	DataDir string // its folder ("" for the default)
	Limit   int    // first N training images (0: all)
}

// WriteCheckpoint saves c atomically: a temp file in the same directory,
// synced, then renamed over path, so an interrupted write never leaves a
// truncated checkpoint and the previous one survives.
func WriteCheckpoint(path string, c *Checkpoint) error {
	return checkpointFormat.Write(path, c)
}

// ReadCheckpoint loads a checkpoint, with errors that say whether the file
// is foreign, from a newer version, truncated or corrupt.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	var c Checkpoint
	if err := checkpointFormat.Read(path, &c); err != nil {
		var fe *framedgob.ForeignError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("checkpoint %s: not a shears checkpoint (bad magic %q)", path, fe.Magic)
		}
		return nil, err
	}
	return &c, nil
}

// Snapshot returns, from a callback at EndOfEpoch, the checkpoint Run
// writes after that epoch: for a caller that keeps a training's state
// inside its own checkpoint (a prune run holds its fine-tuning's) rather
// than in Trainer.Checkpoint's file. Its Model is empty unless
// EncodeModel is set; resume it with Resume on a Trainer whose graph
// holds the weights of that moment.
func (t *Trainer) Snapshot(st *State) (*Checkpoint, error) {
	if t.opt == nil || st == nil || st.Trainer != t {
		return nil, fmt.Errorf("train: Snapshot outside this trainer's Run")
	}
	c := t.checkpointAt(t.Config, st.Epoch+1, 0, st.Step)
	// A copy: the optimiser keeps updating its buffers.
	state := map[string][]float32{}
	for k, v := range c.OptState {
		state[k] = slices.Clone(v)
	}
	c.OptState = state
	if t.EncodeModel != nil {
		m, err := t.EncodeModel(t.Graph)
		if err != nil {
			return nil, err
		}
		c.Model = m
	}
	return c, nil
}

// checkpointAt is the checkpoint of a run of cfg at (epoch, batch) after
// step optimiser steps, without the model and the epoch's running sums:
// what Run's checkpoints and Snapshot share.
func (t *Trainer) checkpointAt(cfg Config, epoch, batch, step int) *Checkpoint {
	return &Checkpoint{Optimizer: t.opt.Name(), OptState: t.opt.State(), Epoch: epoch, Batch: batch, Step: step,
		Seed: cfg.Seed, Config: cfg, Source: t.Source}
}
