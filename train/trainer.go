package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// Progress is reported during training and evaluation.
type Progress struct {
	Phase      string // "train" or "eval"
	Epoch      int    // 0-based
	Epochs     int
	Batch      int // batches done in this epoch
	Batches    int
	Step       int // optimiser steps so far
	TotalSteps int
	Loss       float64 // running mean loss of the epoch
	Accuracy   float64 // running top-1 of the epoch
	LR         float32
	Elapsed    time.Duration
}

// Result summarises a finished run.
type Result struct {
	TestAccuracy  float64
	TrainLoss     float64 // mean loss of the last epoch
	TrainAccuracy float64
	// ImagesPerSecond is the steady training throughput: evaluation and
	// the run's first step (which allocates every buffer and faults its
	// pages in) excluded, as benchmarks exclude warm-up steps.
	ImagesPerSecond float64
	Seconds         float64 // wall time of the whole run
	Epochs          int
	Steps           int
}

// ErrInterrupted is returned (wrapped) when the context is cancelled; a
// checkpoint at the exact position has been written when one was asked for.
var ErrInterrupted = errors.New("training interrupted")

// Trainer runs the epoch loop over a graph.
type Trainer struct {
	Graph  *graph.Graph
	Config Config
	Train  *data.Dataset
	Test   *data.Dataset // may be nil: no evaluation
	// Checkpoint, when set, is written atomically after every epoch and on
	// interrupt. A checkpoint is only written while the loss is finite, so
	// after a NaN the last good one stays.
	Checkpoint string
	// Resume continues from this checkpoint state (see ReadCheckpoint).
	Resume *Checkpoint
	// OnProgress is called every few steps and at the end of each epoch.
	OnProgress func(Progress)
	// Loss is what training minimises (nil: CrossEntropy, which needs a
	// model with one output). A model with more than one input needs a
	// Loss that is also an InputFeeder.
	Loss Loss
	// EncodeModel serialises the graph for checkpoints (onnx.Encode).
	EncodeModel func(*graph.Graph) ([]byte, error)
	// ParamFilter selects the params the optimiser updates (nil: all
	// trainable ones).
	ParamFilter func(*graph.Param) bool
	// Source is recorded in checkpoints.
	Source Source

	callbacks [numPhases][]Callback // see On
	onErr     []error               // bad On calls, reported by Run

	prog *cpu.Program
	opt  Optimizer
}

// Program returns the compiled program (after Run started).
func (t *Trainer) Program() *cpu.Program { return t.prog }

// Run trains for Config.Epochs and evaluates on Test.
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	cfg := t.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := errors.Join(t.onErr...); err != nil {
		return nil, err
	}
	if t.Train == nil || t.Train.N == 0 {
		return nil, fmt.Errorf("train: no training data")
	}
	prog, err := cpu.Compile(t.Graph)
	if err != nil {
		return nil, err
	}
	prog.Threads = cfg.Threads
	prog.Seed = cfg.Seed
	// Callbacks read parameter gradients only, so activation gradients can
	// share buffers (about half the gradient memory).
	prog.ShareGradients(true)
	t.prog = prog
	loss, feeder, err := t.lossFor(t.Graph)
	if err != nil {
		return nil, err
	}
	opt, err := NewOptimizer(cfg.Optimizer, cfg.Momentum, cfg.Nesterov, cfg.WeightDecay)
	if err != nil {
		return nil, err
	}
	t.opt = opt
	loader, err := data.NewLoader(t.Train, cfg.Batch, true, cfg.Augment, cfg.Seed)
	if err != nil {
		return nil, err
	}
	batches := loader.Len()
	total := batches * cfg.Epochs
	sched, err := NewSchedule(cfg.Schedule, cfg.LR, max(cfg.StepEvery, 1), cfg.Warmup)
	if err != nil {
		return nil, err
	}
	startEpoch, startBatch, step := 0, 0, 0
	var epLoss float64
	var epCorrect, epSeen int
	if r := t.Resume; r != nil {
		if r.Optimizer != opt.Name() {
			return nil, fmt.Errorf("train: checkpoint was made with optimizer %s, this run uses %s", r.Optimizer, opt.Name())
		}
		if err := opt.SetState(r.OptState); err != nil {
			return nil, err
		}
		startEpoch, startBatch, step = r.Epoch, r.Batch, r.Step
		epLoss, epCorrect, epSeen = r.Loss, r.Correct, r.Seen
	}
	params := t.Graph.Params
	if t.ParamFilter != nil {
		params = nil
		for _, p := range t.Graph.Params {
			if t.ParamFilter(p) {
				params = append(params, p)
			}
		}
	}
	res := &Result{Epochs: cfg.Epochs}
	start := time.Now()
	var trainTime time.Duration
	var trainImages int
	save := func(epoch, batch int) error {
		if t.Checkpoint == "" || t.EncodeModel == nil {
			return nil
		}
		model, err := t.EncodeModel(t.Graph)
		if err != nil {
			return err
		}
		c := t.checkpointAt(cfg, epoch, batch, step)
		c.Model, c.Loss, c.Correct, c.Seen = model, epLoss, epCorrect, epSeen
		return WriteCheckpoint(t.Checkpoint, c)
	}
	// One State, one input list and one gradient per output serve the
	// whole run, so a step allocates nothing here.
	st := &State{Trainer: t, Graph: t.Graph, Program: prog, Epochs: cfg.Epochs, Batches: batches, TotalSteps: total}
	inputs := make([]*tensor.Tensor, 1, len(t.Graph.Inputs))
	grads := make([]*tensor.Tensor, len(t.Graph.Outputs))
	epochMeans := func() {
		st.EpochLoss = epLoss / float64(max(epSeen, 1))
		st.EpochAccuracy = float64(epCorrect) / float64(max(epSeen, 1))
	}
	lastReport := time.Time{}
	startStep := step
	for epoch := startEpoch; epoch < cfg.Epochs; epoch++ {
		first := 0
		if epoch == startEpoch {
			first = startBatch
		} else {
			epLoss, epCorrect, epSeen = 0, 0, 0
		}
		st.Epoch = epoch
		for bi := first; bi < batches; bi++ {
			if err := ctx.Err(); err != nil {
				if serr := save(epoch, bi); serr != nil {
					return nil, fmt.Errorf("%w; saving checkpoint failed: %v", ErrInterrupted, serr)
				}
				return nil, fmt.Errorf("%w at epoch %d, batch %d", ErrInterrupted, epoch+1, bi)
			}
			if bi == 0 {
				// After the interrupt check, so that a run interrupted
				// here starts this epoch when it resumes, and only then.
				st.Step, st.Batch, st.Loss = step, Batch{}, LossValue{}
				epochMeans()
				if err := t.run(StartOfEpoch, st); err != nil {
					return nil, err
				}
			}
			b := loader.Batch(epoch, bi)
			t0 := time.Now()
			lr := sched.LR(step, total)
			inputs[0] = b.X
			batch := Batch{Epoch: epoch, Index: bi, Inputs: inputs[:1], Labels: b.Labels}
			if feeder != nil {
				if batch.Inputs, err = feedInputs(feeder, batch, len(t.Graph.Inputs)); err != nil {
					return nil, err
				}
			}
			st.Step, st.LR, st.Batch, st.Loss = step, lr, batch, LossValue{}
			if err := t.run(BeforeStep, st); err != nil {
				return nil, err
			}
			outs, err := prog.Forward(true, batch.Inputs...)
			if err != nil {
				return nil, err
			}
			for k, o := range outs {
				if grads[k] == nil || !tensor.SameShape(grads[k].Shape, o.Shape) {
					grads[k] = tensor.New(o.Shape...)
				} else {
					clear(grads[k].Data)
				}
			}
			lv, err := loss.Loss(outs, batch, grads)
			if err != nil {
				return nil, err
			}
			if math.IsNaN(lv.Loss) || math.IsInf(lv.Loss, 0) {
				return nil, fmt.Errorf("train: loss is %v at epoch %d, batch %d (learning rate %g too high?); stopped, the last checkpoint is kept", lv.Loss, epoch+1, bi+1, lr)
			}
			if err := prog.Backward(grads...); err != nil {
				return nil, err
			}
			st.Loss = lv
			if err := t.run(AfterBackward, st); err != nil {
				return nil, err
			}
			opt.Step(params, prog.Grad, lr)
			st.Step = step + 1
			if err := t.run(AfterStep, st); err != nil {
				return nil, err
			}
			if step > startStep || total-startStep == 1 {
				trainTime += time.Since(t0)
				trainImages += len(b.Labels)
			}
			step++
			epLoss += st.Loss.Loss * float64(len(b.Labels))
			epCorrect += st.Loss.Correct
			epSeen += len(b.Labels)
			if t.OnProgress != nil && (time.Since(lastReport) > 200*time.Millisecond || bi == batches-1) {
				lastReport = time.Now()
				t.OnProgress(Progress{Phase: "train", Epoch: epoch, Epochs: cfg.Epochs, Batch: bi + 1, Batches: batches,
					Step: step, TotalSteps: total, Loss: epLoss / float64(epSeen), Accuracy: float64(epCorrect) / float64(epSeen),
					LR: lr, Elapsed: time.Since(start)})
			}
		}
		res.TrainLoss = epLoss / float64(max(epSeen, 1))
		res.TrainAccuracy = float64(epCorrect) / float64(max(epSeen, 1))
		st.Step, st.Batch, st.Loss = step, Batch{}, LossValue{}
		epochMeans()
		if err := t.run(EndOfEpoch, st); err != nil {
			return nil, err
		}
		epLoss, epCorrect, epSeen = 0, 0, 0
		if err := save(epoch+1, 0); err != nil {
			return nil, err
		}
	}
	res.Steps = step
	if trainTime > 0 {
		res.ImagesPerSecond = float64(trainImages) / trainTime.Seconds()
	}
	if t.Test != nil {
		acc, err := evaluate(ctx, prog, t.Test, cfg.Batch, t.OnProgress, feeder)
		if err != nil {
			return nil, err
		}
		res.TestAccuracy = acc
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// lossFor returns the trainer's loss, and its InputFeeder if it has one,
// after checking that together they can train g.
func (t *Trainer) lossFor(g *graph.Graph) (Loss, InputFeeder, error) {
	loss := t.Loss
	if loss == nil {
		if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
			return nil, nil, fmt.Errorf("train: model has %d inputs and %d outputs; the default cross-entropy loss trains a model with one of each (set Trainer.Loss to train others)", len(g.Inputs), len(g.Outputs))
		}
		return CrossEntropy{}, nil, nil
	}
	if len(g.Inputs) == 0 || len(g.Outputs) == 0 {
		return nil, nil, fmt.Errorf("train: model has %d inputs and %d outputs, needs at least one of each", len(g.Inputs), len(g.Outputs))
	}
	feeder, _ := loss.(InputFeeder)
	if len(g.Inputs) > 1 && feeder == nil {
		return nil, nil, fmt.Errorf("train: model has %d inputs, but its loss (%T) gives only the images: the loss must implement train.InputFeeder to say what the others are", len(g.Inputs), loss)
	}
	return loss, feeder, nil
}

// feedInputs completes b.Inputs (the images) with the feeder's inputs, for
// a model of n inputs.
func feedInputs(f InputFeeder, b Batch, n int) ([]*tensor.Tensor, error) {
	extra, err := f.ExtraInputs(b)
	if err != nil {
		return nil, fmt.Errorf("train: inputs of batch %d: %w", b.Index+1, err)
	}
	if len(extra) != n-1 {
		return nil, fmt.Errorf("train: the model has %d inputs besides the images, the loss gave %d", n-1, len(extra))
	}
	for k, x := range extra {
		if x == nil {
			return nil, fmt.Errorf("train: the loss gave no tensor for input %d", k+2)
		}
	}
	return append(b.Inputs[:1], extra...), nil
}

// Evaluate returns the top-1 accuracy of g on ds in inference mode. prog
// may be nil (a program is compiled). g must have one input; output 0
// holds the logits.
func Evaluate(ctx context.Context, g *graph.Graph, prog *cpu.Program, ds *data.Dataset, batch int, progress func(Progress)) (float64, error) {
	if prog == nil {
		if g == nil {
			return 0, fmt.Errorf("evaluate: no model")
		}
		var err error
		if prog, err = cpu.Compile(g); err != nil {
			return 0, err
		}
		prog.Threads = parallel.Threads()
	}
	if n := len(prog.Graph.Inputs); n != 1 {
		return 0, fmt.Errorf("evaluate: model has %d inputs; Evaluate feeds the images only (Trainer.Run evaluates through its loss's InputFeeder)", n)
	}
	return evaluate(ctx, prog, ds, batch, progress, nil)
}

// evaluate is Evaluate with the other inputs of the model from feeder.
func evaluate(ctx context.Context, prog *cpu.Program, ds *data.Dataset, batch int, progress func(Progress), feeder InputFeeder) (float64, error) {
	loader, err := data.NewLoader(ds, batch, false, data.Augment{}, 0)
	if err != nil {
		return 0, err
	}
	correct, seen := 0, 0
	start := time.Now()
	inputs := make([]*tensor.Tensor, 1, len(prog.Graph.Inputs))
	for b := range loader.Epoch(0) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("%w during evaluation", ErrInterrupted)
		}
		inputs[0] = b.X
		in := inputs[:1]
		if feeder != nil {
			if in, err = feedInputs(feeder, Batch{Epoch: -1, Index: b.Index, Inputs: in, Labels: b.Labels}, len(prog.Graph.Inputs)); err != nil {
				return 0, err
			}
		}
		outs, err := prog.Forward(false, in...)
		if err != nil {
			return 0, err
		}
		_, c, err := SoftmaxCrossEntropy(outs[0], b.Labels, nil)
		if err != nil {
			return 0, err
		}
		correct += c
		seen += len(b.Labels)
		if progress != nil {
			progress(Progress{Phase: "eval", Batch: b.Index + 1, Batches: loader.Len(), Accuracy: float64(correct) / float64(seen), Elapsed: time.Since(start)})
		}
	}
	if seen == 0 {
		return 0, fmt.Errorf("evaluate: empty data set")
	}
	return float64(correct) / float64(seen), nil
}
