package train

import (
	"fmt"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
)

// Phase is a point in the training loop where callbacks run (see
// Trainer.On). Each phase says what its callbacks may touch; the order of
// the phases within one batch is BeforeStep, AfterBackward, AfterStep.
type Phase int

const (
	// StartOfEpoch runs before an epoch's first batch. Callbacks may
	// change the weights. A run resumed from a checkpoint in the middle of
	// an epoch does not run it again for that epoch: it ran before the
	// checkpoint was written.
	StartOfEpoch Phase = iota
	// BeforeStep runs before each batch's forward pass, with State.Batch
	// filled in. Callbacks may change the weights and the batch's tensors
	// (not replace them).
	BeforeStep
	// AfterBackward runs after the backward pass, before the optimiser
	// step. Callbacks may edit parameter gradients (State.Program.Grad):
	// mask them, add a regulariser's or a penalty's gradient. A callback
	// adding a penalty may add its value to State.Loss.Loss, which is
	// what progress reports and the epoch's mean loss count. Activation
	// gradients are gone by now (the trainer shares their buffers,
	// cpu.Program.ShareGradients), and the weights must not change yet.
	AfterBackward
	// AfterStep runs after each optimiser step. Callbacks may change the
	// weights (pruning masks zero pruned weights again, a schedule prunes
	// further) and read everything.
	AfterStep
	// EndOfEpoch runs after an epoch's last step, before its checkpoint
	// is written (so that a resumed run sees what the callbacks did).
	// Callbacks may touch everything the graph holds: zero filters (SFP),
	// update masks (DNS), change widths only if they also keep the
	// optimiser's buffers consistent.
	EndOfEpoch

	numPhases
)

var phaseNames = [numPhases]string{"start of epoch", "before step", "after backward", "after step", "end of epoch"}

func (p Phase) String() string {
	if p < 0 || p >= numPhases {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// State is what a callback sees. The trainer reuses one State for the
// whole run: read it during the call, do not keep it.
type State struct {
	Trainer *Trainer
	Graph   *graph.Graph // the model being trained (Trainer.Graph)
	Program *cpu.Program // its compiled training program

	Epoch, Epochs int // Epoch is 0-based
	Batches       int // batches per epoch
	// Step counts the optimiser steps taken so far in the run (resumed
	// runs count those before the checkpoint); from AfterStep on it
	// includes the current batch's.
	Step, TotalSteps int
	LR               float32 // learning rate of the current step

	// Batch and Loss are the current batch and its loss (Loss from
	// AfterBackward on); both are zero at StartOfEpoch and EndOfEpoch.
	Batch Batch
	Loss  LossValue
	// EpochLoss and EpochAccuracy are the running means of the epoch so
	// far (at EndOfEpoch: of the whole epoch).
	EpochLoss, EpochAccuracy float64
}

// Callback is a function run at a Phase. A callback's error stops training:
// Run returns it, wrapped with the phase and the position.
type Callback func(*State) error

// On registers f to run at phase p. Callbacks of one phase run in the
// order they were registered, so a callback registered after another sees
// its effects (masks registered after a regulariser zero what it added).
// Register callbacks before Run; they stay for later runs of t. Callbacks
// are not saved in checkpoints: register them again on the Trainer that
// resumes.
func (t *Trainer) On(p Phase, f Callback) {
	switch {
	case p < 0 || p >= numPhases:
		t.onErr = append(t.onErr, fmt.Errorf("train: callback registered for unknown %v", p))
	case f == nil:
		t.onErr = append(t.onErr, fmt.Errorf("train: nil callback registered for %v", p))
	default:
		t.callbacks[p] = append(t.callbacks[p], f)
	}
}

// run calls the callbacks of phase p in order and wraps the first error.
func (t *Trainer) run(p Phase, s *State) error {
	for _, f := range t.callbacks[p] {
		if err := f(s); err != nil {
			switch p {
			case StartOfEpoch, EndOfEpoch:
				return fmt.Errorf("train: %v callback, epoch %d: %w", p, s.Epoch+1, err)
			}
			return fmt.Errorf("train: %v callback, epoch %d, batch %d: %w", p, s.Epoch+1, s.Batch.Index+1, err)
		}
	}
	return nil
}
