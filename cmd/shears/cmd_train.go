package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/report"
	"github.com/shearsml/shears/train"
)

// defaultMaxMemory is --max-memory's default: what a laptop can spare.
const defaultMaxMemory = 8 << 30

func maxMemoryFlag(fs *flag.FlagSet) *sizeFlag {
	m := sizeFlag(defaultMaxMemory)
	fs.Var(&m, "max-memory", "refuse to run a model whose activations need more than this (8GiB, 512MiB, ...)")
	return &m
}

// checkMemory refuses to run prog at batch when the activations it would
// allocate (twice that when training: a gradient per value) pass limit.
func checkMemory(prog *cpu.Program, batch int, training bool, limit int64) error {
	need, err := prog.ActivationBytes(batch)
	if err != nil {
		return err
	}
	what := "activations"
	if training && need < 1<<62 {
		need, what = 2*need, "activations and their gradients"
	}
	if need > limit {
		return fmt.Errorf("model %s needs about %s for its %s at batch %d, more than --max-memory %s: lower the batch or raise --max-memory",
			prog.Graph.Name, formatBytes(need), what, batch, formatBytes(limit))
	}
	return nil
}

// capBatch caps a batch size by the data set: a loader's buffers are
// sized by the batch, and a batch larger than the data holds all of it.
func capBatch(batch, n int, flagName string, notes *[]string) int {
	if n > 0 && batch > n {
		*notes = append(*notes, fmt.Sprintf("note: --%s %d is larger than the %d images: batches of %d", flagName, batch, n, n))
		return n
	}
	return batch
}

var trainHelp = helpText{
	usage: "shears train --model MODEL --data DATA --out OUT.onnx [flags]\n       shears train --resume OUT.onnx.ckpt --out OUT.onnx",
	examples: []string{
		"shears train --model lenet5 --out lenet5.onnx",
		"shears train --model vgg-s --data fashion-mnist --epochs 5 --lr 0.05 --out vgg.onnx",
	},
	notes: "MODEL is a zoo name or an ONNX file. Hyper-parameters default to the training recipe's\n" +
		"(the model's, else dense-mnist). An interrupted run (Ctrl-C, SIGTERM) writes its checkpoint\n" +
		"and resumes with --resume and nothing else.",
	groups: []flagGroup{
		{"model and data", []string{"model", "data", "data-dir", "limit", "seed"}},
		{"preprocessing", preprocessFlagNames},
		{"hyper-parameters", []string{"recipe", "epochs", "batch", "lr", "optimizer", "weight-decay", "schedule", "warmup"}},
		{"outputs and resuming", []string{"out", "sparse-initializers", "checkpoint", "resume", "json", "quiet"}},
		{"machine", []string{"threads", "max-memory"}},
	},
}

// resumeConflicts refuses flags that contradict the checkpoint being
// resumed: it holds the data and the settings, and a different value would
// not continue the same run (--epochs may extend it). A checkpoint of an
// older shears records no data set: --data and --limit then say it.
func resumeConflicts(c *train.Checkpoint, set map[string]bool, df dataFlags, recipe string, batch int, lr float64,
	opt string, wd float64, sched string, warmup int, seed uint64) error {
	cfg := c.Config
	type pair struct {
		flag      string
		typed, is any
	}
	pairs := []pair{{"recipe", recipe, cfg.Recipe}, {"batch", batch, cfg.Batch}, {"lr", float32(lr), cfg.LR},
		{"optimizer", opt, cfg.Optimizer}, {"weight-decay", float32(wd), cfg.WeightDecay}, {"schedule", sched, cfg.Schedule},
		{"warmup", warmup, cfg.Warmup}, {"seed", seed, cfg.Seed}}
	if c.Source.Data != "" {
		pairs = append(pairs, pair{"data", df.name, c.Source.Data}, pair{"data-dir", df.dir, c.Source.DataDir}, pair{"limit", df.limit, c.Source.Limit})
	}
	for _, p := range pairs {
		if set[p.flag] && p.typed != p.is {
			return usagef("--%s %v contradicts the checkpoint, which holds %v: a resumed run continues with its checkpoint's settings", p.flag, p.typed, p.is)
		}
	}
	return nil
}

func cmdTrain(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("train")
	shapes := inputShapesVar(fs)
	model := fs.String("model", "", "zoo model name or model file (.onnx)")
	var df dataFlags
	df.register(fs, "train on the first N training images (0: all)")
	recipe := fs.String("recipe", "", "training recipe: dense-mnist, dense-fashion, finetune (default: the model's)")
	epochs := fs.Int("epochs", 0, "epochs (default: the recipe's)")
	batch := fs.Int("batch", 0, "batch size (default: the recipe's)")
	var lr, wd float64
	floatVar(fs, &lr, "lr", 0, "base learning rate (default: the recipe's)")
	opt := fs.String("optimizer", "", "sgd, adam or adamw (default: the recipe's)")
	floatVar(fs, &wd, "weight-decay", 0, "weight decay (default: the recipe's)")
	sched := fs.String("schedule", "", "learning-rate schedule: cosine, step, constant (default: the recipe's)")
	warmup := fs.Int("warmup", 0, "linear warm-up steps (default: the recipe's)")
	seed := fs.Uint64("seed", 1, "random seed (weights, data order, augmentation)")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	maxMem := maxMemoryFlag(fs)
	out := fs.String("out", "", "write the trained model here (ONNX)")
	ckpt := fs.String("checkpoint", "", "checkpoint file written after every epoch and on interrupt (default: OUT.ckpt)")
	resume := fs.String("resume", "", "resume from this checkpoint (it holds the model, data and settings)")
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	sparse := fs.Bool("sparse-initializers", false, sparseUsage)
	quiet := fs.Bool("quiet", false, "no progress output")
	p, err := parseArgs(fs, args, s, trainHelp)
	if err != nil {
		return err
	}
	set := p.set
	if len(p.pos) == 1 && !set["model"] && !set["resume"] {
		*model, set["model"] = p.pos[0], true
	} else if len(p.pos) > 0 {
		return usagef("unexpected arguments %v", p.pos)
	}
	if set["resume"] && set["model"] {
		return usagef("--model with --resume: the checkpoint holds the model; resume with --resume FILE --out OUT")
	}
	if set["resume"] && set["input-shape"] {
		return usagef("--input-shape with --resume: the checkpoint holds the model with its input shapes")
	}
	switch {
	case !set["model"] && !set["resume"]:
		return usagef("--model is required (a zoo model name or a model file)")
	case set["model"] && *model == "":
		return usagef("--model is empty")
	case set["resume"] && *resume == "":
		return usagef("--resume is empty")
	case *out == "":
		return usagef("--out is required: where to write the trained model")
	}
	if err := checkInts(set, intMin{"epochs", *epochs, 0}, intMin{"batch", *batch, 1}, intMin{"warmup", *warmup, 0},
		intMin{"threads", *threads, 0}, intMin{"limit", df.limit, 0}); err != nil {
		return err
	}
	if set["lr"] && (lr <= 0 || lr > 1000) {
		return usagef("--lr must be in (0, 1000], have %g", lr)
	}
	if set["weight-decay"] && wd < 0 {
		return usagef("--weight-decay must be ≥ 0, have %g", wd)
	}
	if *ckpt == "" {
		*ckpt = *out + ".ckpt"
	}
	outs := []output{{"--out", *out}, {"--checkpoint", *ckpt}}
	if err := checkOutputs(outs, false); err != nil {
		return err
	}
	if set["resume"] && sameFile(*resume, *out) {
		return usagef("--resume and --out name the same file %s", *out)
	}
	if err := checkNotInputs(outs, output{"--model", *model}); err != nil {
		return err
	}

	parallel.SetThreads(*threads)

	var g *graph.Graph
	var state *train.Checkpoint
	recipeName, defaultData, modelLR := *recipe, "", float32(0)
	if set["resume"] {
		if state, err = train.ReadCheckpoint(*resume); err != nil {
			return err
		}
		if g, err = onnx.Decode(state.Model, *resume); err != nil {
			return err
		}
		if err := resumeConflicts(state, set, df, *recipe, *batch, lr, *opt, wd, *sched, *warmup, *seed); err != nil {
			return err
		}
		if state.Source.Data != "" {
			// The preprocessing flags are not in the checkpoint: those
			// typed now apply.
			df.name, df.dir, df.limit = state.Source.Data, state.Source.DataDir, state.Source.Limit
		}
	} else {
		g0, zm, err := loadModel(*model, *seed, *shapes)
		if err != nil {
			return err
		}
		g = g0
		if zm != nil {
			defaultData = zm.Dataset
			if recipeName == "" {
				recipeName = zm.Recipe
			}
			modelLR = zm.LR
		}
	}
	var cfg train.Config
	if state != nil {
		cfg = state.Config
	} else {
		if recipeName == "" {
			recipeName = "dense-mnist"
		}
		if cfg, err = train.Recipe(recipeName); err != nil {
			return usagef("--recipe: %v", err)
		}
		if modelLR > 0 && !set["recipe"] {
			cfg.LR = modelLR
		}
		cfg.Seed = *seed
	}
	if set["epochs"] {
		cfg.Epochs = *epochs
	}
	if set["batch"] {
		cfg.Batch = *batch
	}
	if set["lr"] {
		cfg.LR = float32(lr)
	}
	if set["optimizer"] {
		cfg.Optimizer = *opt
	}
	if set["weight-decay"] {
		cfg.WeightDecay = float32(wd)
	}
	if set["schedule"] {
		cfg.Schedule = *sched
	}
	if set["warmup"] {
		cfg.Warmup = *warmup
	}
	cfg.Threads = parallel.Threads()
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if df.name == "" {
		df.name = defaultData
	}
	if df.name == "" {
		return usagef("--data is required for a model file (mnist, fashion-mnist, cifar10:DIR, imagefolder:DIR, ...)")
	}
	warn := func(line string) { fmt.Fprintln(s.err, line) }
	trainSet, err := df.load(data.Train, warn)
	if err != nil {
		return err
	}
	if !trainSet.Labelled() {
		return fmt.Errorf("%s: training needs labelled images", trainSet.Name)
	}
	trainSet = trainSet.Limit(df.limit)
	testSet, err := df.load(data.Test, warn)
	if err != nil {
		return err
	}
	prog, err := train.CheckImageModel(g, trainSet)
	if err != nil {
		return fitHint(err, g, trainSet, "training images")
	}
	var notes []string
	cfg.Batch = capBatch(cfg.Batch, trainSet.N, "batch", &notes)
	if err := checkMemory(prog, cfg.Batch, true, int64(*maxMem)); err != nil {
		return err
	}
	for _, n := range notes { // notes are not progress: --quiet keeps them
		fmt.Fprintln(s.err, n)
	}
	// Refused only now that the model and data are known to be good: the
	// checkpoint's run may be worth resuming.
	if err := checkStaleCheckpoint(*ckpt, *resume, "train"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before training started")
	}
	pb := newProgress(*quiet, s.err)
	src := train.Source{Model: *model, Data: df.name, DataDir: df.dir, Limit: df.limit}
	if state != nil {
		src = state.Source
	}
	tr := &train.Trainer{Graph: g, Config: cfg, Train: trainSet, Test: testSet, Checkpoint: *ckpt, Resume: state,
		OnProgress: pb.update, EncodeModel: onnx.Encode, Source: src}
	if !*quiet {
		fmt.Fprintf(s.err, "training %s on %s (%d images): %s, %d epochs, batch %d, lr %g, %d threads\n",
			g.Name, trainSet.Name, trainSet.N, cfg.Recipe, cfg.Epochs, cfg.Batch, cfg.LR, cfg.Threads)
	}
	start := time.Now()
	res, err := tr.Run(ctx)
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			if _, serr := os.Stat(*ckpt); serr == nil {
				return fmt.Errorf("%v; checkpoint written to %s: continue with shears train --resume %s --out %s", err, *ckpt, *ckpt, *out)
			}
		}
		return err
	}
	g.Meta["shears.trained"] = fmt.Sprintf("%s on %s, %d epochs, seed %d, test accuracy %.4f", cfg.Recipe, trainSet.Name, cfg.Epochs, cfg.Seed, res.TestAccuracy)
	if err := saveModel(*out, g, *sparse); err != nil {
		return err
	}
	os.Remove(*ckpt) // the finished model supersedes the checkpoint
	_, total, err := graph.Stats(g)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: test accuracy %.2f%% (%d test images), train loss %.4f, %.0f images/s, %.1fs; wrote %s\n",
		g.Name, 100*res.TestAccuracy, testSet.N, res.TrainLoss, res.ImagesPerSecond, time.Since(start).Seconds(), *out)
	if *jsonOut {
		return printJSON(s, report.Train{Header: report.NewHeader("train", cfg.Threads), Model: g.Name, Data: trainSet.Name,
			TrainImages: trainSet.N, Limit: df.limit, Epochs: cfg.Epochs, Batch: cfg.Batch, LR: cfg.LR, Seed: cfg.Seed, Threads: cfg.Threads,
			TestAccuracy: res.TestAccuracy, TrainLoss: res.TrainLoss, TrainAccuracy: res.TrainAccuracy,
			ImagesPerSecond: res.ImagesPerSecond, Seconds: time.Since(start).Seconds(),
			Params: total.Params, MACs: total.MACs, Out: *out, Resumed: *resume, Notes: notes})
	}
	return nil
}

// intMin is an integer flag's value and lower bound.
type intMin struct {
	name   string
	v, min int
}

// checkInts checks the lower bounds of the integer flags the user typed
// (an untyped flag's zero value may mean "the recipe's").
func checkInts(set map[string]bool, flags ...intMin) error {
	for _, f := range flags {
		if set[f.name] {
			if err := atLeast(f.name, f.v, f.min); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameFile reports whether two paths name one existing file.
func sameFile(a, b string) bool {
	sa, ea := os.Stat(a)
	sb, eb := os.Stat(b)
	return ea == nil && eb == nil && os.SameFile(sa, sb)
}

func printJSON(s streams, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, string(b))
	return nil
}
