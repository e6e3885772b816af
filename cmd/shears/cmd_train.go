package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/train"
)

// dataFlags are shared by train and eval.
type dataFlags struct {
	name  string
	dir   string
	limit int
}

func (d *dataFlags) register(fs *flag.FlagSet, limitHelp string) {
	fs.StringVar(&d.name, "data", "", "data set: mnist or fashion-mnist (default: the model's)")
	fs.StringVar(&d.dir, "data-dir", "", "directory with the IDX files (mnist: embedded; fashion-mnist: /usr/share/datasets/fashion-mnist)")
	fs.IntVar(&d.limit, "limit", 0, limitHelp)
}

func (d *dataFlags) load(split data.Split) (*data.Dataset, error) {
	ds, err := data.Load(d.name, d.dir, split)
	if err != nil {
		return nil, err
	}
	if d.limit < 0 {
		return nil, usagef("--limit must be ≥ 0, have %d", d.limit)
	}
	return ds.Limit(d.limit), nil
}

// checkImageModel verifies that a model takes N×1×28×28 and gives N×10,
// the contract for training and evaluating on the built-in data sets.
func checkImageModel(g *graph.Graph, ds *data.Dataset) error {
	prog, err := checkImageInput(g, ds)
	if err != nil {
		return err
	}
	shapes, err := prog.InferShapes(1)
	if err != nil {
		return err
	}
	out := shapes[g.Outputs[0].Name]
	if len(out) != 2 || out[1] != ds.Classes {
		return &outputError{fmt.Sprintf("model output %q has shape %v; %s needs N×%d class scores", g.Outputs[0].Name, out, ds.Name, ds.Classes)}
	}
	return nil
}

// outputError says that a model reads the data set's images but does not
// give its class scores (a segmentation or detection head).
type outputError struct{ msg string }

func (e *outputError) Error() string { return e.msg }

// checkImageInput verifies that a model has one input, N×1×28×28 as the
// data set's images, and one output, and compiles it.
func checkImageInput(g *graph.Graph, ds *data.Dataset) (*cpu.Program, error) {
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, fmt.Errorf("model %q has %d inputs and %d outputs; train and eval need one of each", g.Name, len(g.Inputs), len(g.Outputs))
	}
	prog, err := cpu.Compile(g)
	if err != nil {
		return nil, err
	}
	in := g.Inputs[0].Shape
	if len(in) != 4 || (in[1] != ds.C && in[1] >= 0) || (in[2] != ds.H && in[2] >= 0) || (in[3] != ds.W && in[3] >= 0) {
		return nil, fmt.Errorf("model input %q is %v; %s images are N×%d×%d×%d", g.Inputs[0].Name, in, ds.Name, ds.C, ds.H, ds.W)
	}
	return prog, nil
}

func cmdTrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	model := fs.String("model", "", "zoo model name or model file (.onnx)")
	var df dataFlags
	df.register(fs, "train on the first N training images (0: all)")
	recipe := fs.String("recipe", "", "training recipe: dense-mnist, dense-fashion, finetune (default: the model's)")
	epochs := fs.Int("epochs", -1, "epochs (default: the recipe's)")
	batch := fs.Int("batch", 0, "batch size (default: the recipe's)")
	lr := fs.Float64("lr", -1, "base learning rate (default: the recipe's)")
	opt := fs.String("optimizer", "", "sgd, adam or adamw (default: the recipe's)")
	wd := fs.Float64("weight-decay", -1, "weight decay (default: the recipe's)")
	sched := fs.String("schedule", "", "learning-rate schedule: cosine, step, constant (default: the recipe's)")
	warmup := fs.Int("warmup", 0, "linear warm-up steps")
	seed := fs.Uint64("seed", 1, "random seed (weights, data order, augmentation)")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	out := fs.String("out", "", "write the trained model here (ONNX)")
	ckpt := fs.String("checkpoint", "", "checkpoint file written after every epoch and on interrupt (default: OUT.ckpt)")
	resume := fs.String("resume", "", "resume from this checkpoint")
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *model == "" && len(pos) == 1 {
		*model = pos[0]
	} else if len(pos) > 0 {
		return usagef("unexpected arguments %v", pos)
	}
	if *model == "" && *resume == "" {
		return usagef("--model is required (a zoo model name or a model file)")
	}
	if *out == "" {
		return usagef("--out is required: where to write the trained model")
	}
	if *threads < 0 {
		return usagef("--threads must be ≥ 0")
	}
	parallel.SetThreads(*threads)

	var g *graph.Graph
	var state *train.Checkpoint
	recipeName, defaultData, modelLR := *recipe, "", float32(0)
	if *resume != "" {
		if state, err = train.ReadCheckpoint(*resume); err != nil {
			return err
		}
		if g, err = onnx.Decode(state.Model, *resume); err != nil {
			return err
		}
	} else {
		g0, zm, err := loadModel(*model, *seed)
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
	if recipeName == "" {
		recipeName = "dense-mnist"
	}
	cfg, err := train.Recipe(recipeName)
	if err != nil {
		return usageError{err}
	}
	if modelLR > 0 && *recipe == "" {
		cfg.LR = modelLR
	}
	if state != nil {
		cfg = state.Config
	}
	if *epochs >= 0 {
		cfg.Epochs = *epochs
	}
	if *batch > 0 {
		cfg.Batch = *batch
	}
	if *lr >= 0 {
		cfg.LR = float32(*lr)
	}
	if *opt != "" {
		cfg.Optimizer = *opt
	}
	if *wd >= 0 {
		cfg.WeightDecay = float32(*wd)
	}
	if *sched != "" {
		cfg.Schedule = *sched
	}
	if *warmup > 0 {
		cfg.Warmup = *warmup
	}
	if state == nil {
		cfg.Seed = *seed
	}
	cfg.Threads = parallel.Threads()
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if df.name == "" {
		df.name = defaultData
	}
	if df.name == "" {
		return usagef("--data is required for a model file (mnist or fashion-mnist)")
	}
	trainSet, err := df.load(data.Train)
	if err != nil {
		return err
	}
	testSet, err := data.Load(df.name, df.dir, data.Test)
	if err != nil {
		return err
	}
	if err := checkImageModel(g, trainSet); err != nil {
		return err
	}
	if *ckpt == "" {
		*ckpt = *out + ".ckpt"
	}
	pb := newProgress(*quiet)
	tr := &train.Trainer{Graph: g, Config: cfg, Train: trainSet, Test: testSet, Checkpoint: *ckpt, Resume: state,
		OnProgress: pb.update, EncodeModel: onnx.Encode}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "training %s on %s (%d images): %s, %d epochs, batch %d, lr %g, %d threads\n",
			g.Name, trainSet.Name, trainSet.N, cfg.Recipe, cfg.Epochs, cfg.Batch, cfg.LR, cfg.Threads)
	}
	start := time.Now()
	res, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	g.Meta["shears.trained"] = fmt.Sprintf("%s on %s, %d epochs, seed %d, test accuracy %.4f", cfg.Recipe, trainSet.Name, cfg.Epochs, cfg.Seed, res.TestAccuracy)
	if err := saveModel(*out, g); err != nil {
		return err
	}
	os.Remove(*ckpt) // the finished model supersedes the checkpoint
	_, total, err := graph.Stats(g)
	if err != nil {
		return err
	}
	fmt.Printf("%s: test accuracy %.2f%% (%d test images), train loss %.4f, %.0f images/s, %.1fs; wrote %s\n",
		g.Name, 100*res.TestAccuracy, testSet.N, res.TrainLoss, res.ImagesPerSecond, time.Since(start).Seconds(), *out)
	if *jsonOut {
		return printJSON(map[string]any{"command": "train", "model": g.Name, "data": trainSet.Name, "train_images": trainSet.N,
			"epochs": cfg.Epochs, "batch": cfg.Batch, "lr": cfg.LR, "seed": cfg.Seed, "threads": cfg.Threads,
			"test_accuracy": res.TestAccuracy, "train_loss": res.TrainLoss, "train_accuracy": res.TrainAccuracy,
			"images_per_second": res.ImagesPerSecond, "seconds": time.Since(start).Seconds(),
			"params": total.Params, "macs": total.MACs, "out": *out})
	}
	return nil
}

func printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
