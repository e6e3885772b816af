package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

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
	// AfterStep runs after every optimiser step (pruning masks re-apply
	// zeros here).
	AfterStep func()
	// EncodeModel serialises the graph for checkpoints (onnx.Encode).
	EncodeModel func(*graph.Graph) ([]byte, error)
	// ParamFilter selects the params the optimiser updates (nil: all
	// trainable ones).
	ParamFilter func(*graph.Param) bool
	// GradHook may edit gradients before the step (masking, regularisers).
	// It sees parameter gradients (prog.Grad); activation gradients share
	// buffers during training (graph.Program.ShareGradients) and are gone.
	GradHook func(prog *graph.Program)
	// Source is recorded in checkpoints.
	Source Source

	prog *graph.Program
	opt  Optimizer
}

// Program returns the compiled program (after Run started).
func (t *Trainer) Program() *graph.Program { return t.prog }

// Run trains for Config.Epochs and evaluates on Test.
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	cfg := t.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if t.Train == nil || t.Train.N == 0 {
		return nil, fmt.Errorf("train: no training data")
	}
	prog, err := graph.Compile(t.Graph)
	if err != nil {
		return nil, err
	}
	prog.Threads = cfg.Threads
	prog.Seed = cfg.Seed
	// Hooks read parameter gradients only, so activation gradients can
	// share buffers (about half the gradient memory).
	prog.ShareGradients(true)
	t.prog = prog
	if len(t.Graph.Inputs) != 1 || len(t.Graph.Outputs) != 1 {
		return nil, fmt.Errorf("train: model must have one input and one output, has %d and %d", len(t.Graph.Inputs), len(t.Graph.Outputs))
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
	var grad *tensor.Tensor
	save := func(epoch, batch int) error {
		if t.Checkpoint == "" || t.EncodeModel == nil {
			return nil
		}
		model, err := t.EncodeModel(t.Graph)
		if err != nil {
			return err
		}
		return WriteCheckpoint(t.Checkpoint, &Checkpoint{Model: model, Optimizer: opt.Name(), OptState: opt.State(),
			Epoch: epoch, Batch: batch, Step: step, Seed: cfg.Seed, Config: cfg, Loss: epLoss, Correct: epCorrect, Seen: epSeen, Source: t.Source})
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
		for bi := first; bi < batches; bi++ {
			if err := ctx.Err(); err != nil {
				if serr := save(epoch, bi); serr != nil {
					return nil, fmt.Errorf("%w; saving checkpoint failed: %v", ErrInterrupted, serr)
				}
				return nil, fmt.Errorf("%w at epoch %d, batch %d", ErrInterrupted, epoch+1, bi)
			}
			b := loader.Batch(epoch, bi)
			t0 := time.Now()
			outs, err := prog.Forward(true, b.X)
			if err != nil {
				return nil, err
			}
			logits := outs[0]
			if grad == nil || !tensor.SameShape(grad.Shape, logits.Shape) {
				grad = tensor.New(logits.Shape...)
			}
			loss, correct, err := SoftmaxCrossEntropy(logits, b.Labels, grad)
			if err != nil {
				return nil, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("train: loss is %v at epoch %d, batch %d (learning rate %g too high?); stopped, the last checkpoint is kept", loss, epoch+1, bi+1, sched.LR(step, total))
			}
			if err := prog.Backward(grad); err != nil {
				return nil, err
			}
			if t.GradHook != nil {
				t.GradHook(prog)
			}
			lr := sched.LR(step, total)
			opt.Step(params, prog.Grad, lr)
			if t.AfterStep != nil {
				t.AfterStep()
			}
			if step > startStep || total-startStep == 1 {
				trainTime += time.Since(t0)
				trainImages += len(b.Labels)
			}
			step++
			epLoss += loss * float64(len(b.Labels))
			epCorrect += correct
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
		acc, err := Evaluate(ctx, t.Graph, prog, t.Test, cfg.Batch, t.OnProgress)
		if err != nil {
			return nil, err
		}
		res.TestAccuracy = acc
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Evaluate returns the top-1 accuracy of g on ds in inference mode. prog
// may be nil (a program is compiled).
func Evaluate(ctx context.Context, g *graph.Graph, prog *graph.Program, ds *data.Dataset, batch int, progress func(Progress)) (float64, error) {
	if prog == nil {
		var err error
		if prog, err = graph.Compile(g); err != nil {
			return 0, err
		}
		prog.Threads = parallel.Threads()
	}
	loader, err := data.NewLoader(ds, batch, false, data.Augment{}, 0)
	if err != nil {
		return 0, err
	}
	correct, seen := 0, 0
	start := time.Now()
	for b := range loader.Epoch(0) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("%w during evaluation", ErrInterrupted)
		}
		outs, err := prog.Forward(false, b.X)
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
