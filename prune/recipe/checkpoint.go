package recipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/framedgob"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// A prune run checkpoints at round boundaries: before the schedule's first
// round (after any regularised training), after every round of an
// iterative or lottery schedule (and the lottery's control and ticket),
// after AGP's training, after every point of a sensitivity analysis; and
// inside trainings, after every epoch but the last and at the batch where
// an interrupt stops them: the regularised training before pruning, AGP's,
// the fine-tuning of a one-shot or iterative round, the lottery's
// trainings of the network (the trainer's state is kept,
// train.Trainer.Snapshot and the trainer's own checkpoint). A resumed run
// continues inside such a training where it stopped (after a crash: at the
// last epoch's end). The lottery's control (a re-initialised copy) and a
// one-shot fine-tuning after a sensitivity analysis are restarted from
// their start instead: every round is a pure function of the state at its
// start (the data order and augmentation of a training are functions of
// the seed, epoch and batch; criteria and allocation are deterministic),
// so either way the resumed run ends bit for bit where an uninterrupted
// one does.

// pruneCheckpointFormat frames a prune checkpoint; MaxBytes bounds what a
// corrupt header can make the reader allocate: two copies of the weights
// of the largest models.
var pruneCheckpointFormat = framedgob.Format{Magic: "SHRSPRCK", Version: 1, MaxBytes: 8 << 30}

// Checkpoint is a prune run stopped at a round boundary: everything Run
// needs, with the data the recipe names, to continue it exactly.
type Checkpoint struct {
	// Recipe is the run's recipe as it ran (flags applied, one ratio of a
	// sweep): it names the data set, its folder and limit.
	Recipe Recipe
	// Model is the model the run started from, as ONNX: the dense
	// reference of the report, and the graph the run prunes.
	Model []byte
	// Params are the weights at the boundary (masked), by param name.
	Params map[string][]float32
	// Round counts the schedule's finished rounds (one-shot: 1 once
	// pruned and recovered; lottery: the rounds, then the control, then
	// the ticket).
	Round int
	// Keep is the last pruning step's plan (prune.Plan.Keep): which units
	// of each layer stay; nil before the first step.
	Keep [][]bool
	// PrunerWarnings are the allocation warnings given so far
	// (prune.Pruner.Warnings), Warnings the report's.
	PrunerWarnings, Warnings []string
	// AccPruned is the test accuracy after the last pruning step, before
	// recovery (nil: not measured); RoundPruned, in a checkpoint inside a
	// round's fine-tuning, that round's.
	AccPruned, RoundPruned *float64
	// Lottery holds the lottery ticket's finished trainings, Rewind the
	// weights it rewinds to (nil until known), AccuracyReinit the
	// control's accuracy.
	Lottery        []TrainingRun
	Rewind         map[string][]float32
	AccuracyReinit *float64
	// Partial is the lottery training in progress (with Trainer): its
	// accuracies of the epochs done.
	Partial *TrainingRun
	// Regularizing says that Trainer is the regularised training before
	// pruning (recipe's regularize section), which the run resumes first.
	Regularizing bool
	// Trainer is the training in progress at the end of one of its
	// epochs (nil between rounds): AGP's, or the fine-tuning of round
	// Round+1. A resumed run continues inside it.
	Trainer *train.Checkpoint
	// Evals are the accuracies a sensitivity analysis measured so far, in
	// the order it measures them (the dense model first, then each layer
	// at each ratio of the grid).
	Evals []float64
}

// Graph decodes the model the checkpointed run started from.
func (c *Checkpoint) Graph() (*graph.Graph, error) {
	g, err := onnx.Decode(c.Model, "checkpoint")
	if err != nil {
		return nil, fmt.Errorf("checkpoint: its model: %w", err)
	}
	return g, nil
}

// WriteCheckpoint saves c atomically (a temp file renamed over path), so
// an interrupt during the write keeps the previous checkpoint whole.
func WriteCheckpoint(path string, c *Checkpoint) error {
	return pruneCheckpointFormat.Write(path, c)
}

// ErrNotPruneCheckpoint is returned (wrapped) by ReadCheckpoint for a
// file that is not a prune checkpoint; a training checkpoint says so.
var ErrNotPruneCheckpoint = errors.New("not a prune checkpoint")

// ReadCheckpoint loads a prune checkpoint, with errors that say whether
// the file is foreign (a training checkpoint is named as one), from
// another version, truncated or corrupt.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	var c Checkpoint
	if err := pruneCheckpointFormat.Read(path, &c); err != nil {
		var fe *framedgob.ForeignError
		if !errors.As(err, &fe) {
			return nil, err
		}
		if fe.Magic == "SHRSCKPT" {
			return nil, fmt.Errorf("checkpoint %s: %w: it is a training checkpoint (shears train --resume)", path, ErrNotPruneCheckpoint)
		}
		return nil, fmt.Errorf("checkpoint %s: %w (bad magic %q)", path, ErrNotPruneCheckpoint, fe.Magic)
	}
	return &c, nil
}

// paramValues copies g's param values by name.
func paramValues(g *graph.Graph) map[string][]float32 {
	m := make(map[string][]float32, len(g.Params))
	for _, p := range g.Params {
		m[p.Name] = slices.Clone(p.Value.Data)
	}
	return m
}

// setParamValues sets g's params to values, which must hold every one of
// them at its size.
func setParamValues(g *graph.Graph, values map[string][]float32) error {
	for _, p := range g.Params {
		v, ok := values[p.Name]
		if !ok || len(v) != p.Value.Len() {
			return fmt.Errorf("checkpoint: no weights of the right size for param %s", p.Name)
		}
		copy(p.Value.Data, v)
	}
	return nil
}

// resuming reports whether the session continues a checkpoint.
func (s *Session) resuming() bool { return s.Env.Resume != nil }

// resumedRound is the number of rounds the resumed checkpoint finished
// (0 for a fresh run).
func (s *Session) resumedRound() int {
	if s.Env.Resume == nil {
		return 0
	}
	return s.Env.Resume.Round
}

// checkResume checks that the checkpoint goes with the recipe being run.
func checkResume(r Recipe, c *Checkpoint) error {
	if !reflect.DeepEqual(r, c.Recipe) {
		return fmt.Errorf("checkpoint: it was written by another recipe; resume with the checkpoint's own (Checkpoint.Recipe)")
	}
	if len(c.Model) == 0 || c.Params == nil {
		return fmt.Errorf("checkpoint: holds no model")
	}
	return nil
}

// restore puts the checkpoint's state into the session, the pruner and
// its graph: weights, the last plan and its masks, the report so far.
func (s *Session) restore(p *prune.Pruner) error {
	c := s.Env.Resume
	if err := setParamValues(p.Graph, c.Params); err != nil {
		return err
	}
	p.Warnings = slices.Clone(c.PrunerWarnings)
	if c.Keep != nil {
		if len(c.Keep) != len(p.Layers) {
			return fmt.Errorf("checkpoint: its plan has %d layers, the model %d", len(c.Keep), len(p.Layers))
		}
		for i, l := range p.Layers {
			if len(c.Keep[i]) != l.Units {
				return fmt.Errorf("checkpoint: its plan has %d units for %s, the model %d", len(c.Keep[i]), l.Name, l.Units)
			}
		}
		p.Plan = &prune.Plan{Layers: p.Layers, Keep: c.Keep}
		m, err := p.Plan.Apply(p.Graph)
		if err != nil {
			return fmt.Errorf("checkpoint: its masks: %w", err)
		}
		p.Masks = m
	}
	s.Report.Lottery = slices.Clone(c.Lottery)
	if c.AccuracyReinit != nil {
		s.Metrics().AccuracyReinit = c.AccuracyReinit
	}
	return nil
}

// boundary is the schedule-specific part of a checkpoint.
type boundary struct {
	round                  int
	accPruned, roundPruned *float64
	rewind                 *graph.Graph
	evals                  []float64
	trainer                *train.Checkpoint
	partial                *TrainingRun
	regularizing           bool
}

// checkpoint writes the run's state at a round boundary to
// Env.Checkpoint (nothing when it is empty).
func (s *Session) checkpoint(p *prune.Pruner, b boundary) error {
	if s.Env.Checkpoint == "" || !s.checkpoints() {
		return nil
	}
	if s.model == nil {
		m, err := onnx.Encode(s.dense)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		s.model = m
	}
	c := &Checkpoint{Recipe: s.Recipe, Model: s.model, Params: paramValues(p.Graph), Round: b.round,
		PrunerWarnings: p.Warnings, Warnings: s.Report.Warnings, AccPruned: b.accPruned, Lottery: s.Report.Lottery, Evals: b.evals, Trainer: b.trainer, RoundPruned: b.roundPruned, Partial: b.partial, Regularizing: b.regularizing}
	if p.Plan != nil {
		c.Keep = p.Plan.Keep
	}
	if b.rewind != nil {
		c.Rewind = paramValues(b.rewind)
	}
	if m := s.Report.Metrics; m != nil {
		c.AccuracyReinit = m.AccuracyReinit
	}
	if err := WriteCheckpoint(s.Env.Checkpoint, c); err != nil {
		return err
	}
	if checkpointWritten != nil {
		checkpointWritten(c)
	}
	return nil
}

// recover runs the recovery after the pruning step of round b.round+1.
// With inside, a fine-tuning checkpoints inside (b with the trainer's
// state, see fitCheckpoints), and resumeInside says that a resumed run is
// to continue inside it from the checkpoint's.
func (s *Session) recover(p *prune.Pruner, b boundary, inside, resumeInside bool) error {
	switch s.Recovery.(type) {
	case FineTune, *Distill:
	default:
		inside = false
	}
	if inside {
		s.inFit = &fitCheckpoint{p: p, at: func() (boundary, bool) { return b, true }}
		if resumeInside {
			s.fitResume = s.Env.Resume.Trainer
		}
		defer func() { s.inFit, s.fitResume = nil, nil }()
	}
	return s.Recovery.Step(s, p)
}

// fitCheckpoint is what a training checkpoints inside a round: p's state
// and the boundary at returns, the trainer's added; at says false when
// the moment cannot be resumed from (a measurement of it failed).
type fitCheckpoint struct {
	p  *prune.Pruner
	at func() (boundary, bool)
}

// insideRound reports whether the resumed checkpoint stopped inside the
// fine-tuning of the round after its Round (for OneShot and Iterative).
func (s *Session) insideRound(k int) bool {
	return s.resuming() && s.Env.Resume.Round == k && s.Env.Resume.Trainer != nil
}

// fitCheckpoints makes t checkpoint inside its training when the session
// is inside a round's (s.inFit, set by recover and AGP): after every epoch
// but the last (train.Trainer.Snapshot), and at the exact batch when the
// training is interrupted (the trainer's own checkpoint, written to a side
// file next to Env.Checkpoint and moved into the run's). Call the
// returned function with Run's error: it writes the interrupt's checkpoint
// and removes the side file.
func (s *Session) fitCheckpoints(t *train.Trainer, f *fitCheckpoint) (finish func(error) error) {
	if f == nil || s.Env.Checkpoint == "" || !s.checkpoints() {
		return func(err error) error { return err }
	}
	t.On(train.EndOfEpoch, func(st *train.State) error {
		if st.Epoch+1 == st.Epochs {
			return nil // the round's boundary follows
		}
		b, ok := f.at()
		if !ok {
			return nil
		}
		snap, err := t.Snapshot(st)
		if err != nil {
			return err
		}
		b.trainer = snap
		return s.checkpoint(f.p, b)
	})
	dir, base := filepath.Split(s.Env.Checkpoint)
	side, err := os.CreateTemp(filepath.Clean(dir+"."), "."+base+".training*")
	if err != nil {
		return func(err error) error { return err } // the epochs' checkpoints still stand
	}
	side.Close()
	t.Checkpoint = side.Name()
	// The run's checkpoint holds the weights: the trainer's keeps its
	// optimiser state and position only.
	t.EncodeModel = func(*graph.Graph) ([]byte, error) { return nil, nil }
	stepped := 0 // optimiser steps taken, as the trainer counts them
	if t.Resume != nil {
		stepped = t.Resume.Step
	}
	t.On(train.AfterStep, func(st *train.State) error {
		stepped = st.Step
		return nil
	})
	return func(err error) error {
		defer os.Remove(t.Checkpoint)
		if !errors.Is(err, train.ErrInterrupted) {
			return err
		}
		// Only a trainer's checkpoint of this very moment goes with the
		// weights now in the graph; else the last one written stands.
		tc, rerr := train.ReadCheckpoint(t.Checkpoint)
		b, ok := f.at()
		if rerr != nil || tc.Step != stepped || !ok {
			return err
		}
		b.trainer = tc
		if cerr := s.checkpoint(f.p, b); cerr != nil {
			return fmt.Errorf("%w; saving checkpoint failed: %v", err, cerr)
		}
		return err
	}
}

// checkpoints is Recipe.Checkpoints of the session's recipe.
func (s *Session) checkpoints() bool { return s.Recipe.Checkpoints() }

// Checkpoints reports whether a run of r writes checkpoints (given
// Env.Checkpoint): when it has work worth resuming, training or a
// sensitivity analysis. A one-shot run without either is quicker to run
// again than to checkpoint (the checkpoint holds the model twice).
func (r *Recipe) Checkpoints() bool {
	sched, err := NewSchedule(r)
	gradual := err == nil && sched.Gradual()
	return r.Regularize != nil || r.Sensitivity != nil || gradual || r.Finetune.Epochs > 0
}

// checkpointWritten, when set (by tests), hears every checkpoint written,
// so that a test can interrupt a run at a chosen boundary.
var checkpointWritten func(*Checkpoint)
