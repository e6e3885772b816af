package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/prune/recipe"
)

// flagOf names the flag that sets a recipe field, for errors in flags.
var flagOf = map[string]string{
	"model": "MODEL", "threads": "--threads", "data.limit": "--limit", "data.calib": "--calib",
	"method.criterion": "--criterion", "method.granularity": "--granularity", "method.reduction": "--reduction",
	"method.normalize": "--normalize", "target.ratio": "--ratio", "target.max_layer_ratio": "--max-layer-ratio",
	"target.round_to": "--round-to", "schedule.kind": "--schedule", "schedule.rounds": "--rounds",
	"schedule.rewind_steps": "--rewind-steps", "finetune.epochs": "--finetune-epochs", "finetune.recipe": "--finetune-recipe",
	"finetune.from_scratch": "--from-scratch", "output.out": "--out", "output.masked_out": "--masked-out",
	"regularize": "--regularize", "regularize.epochs": "--reg-epochs", "sensitivity.keep": "--sensitivity-keep",
	"sensitivity.budget": "--sensitivity-budget", "sensitivity.split": "--holdout-split",
}

// recipeArg finds --recipe among the arguments before the flags are
// parsed, so that flags given with a recipe override it.
func recipeArg(args []string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "recipe="); ok {
			return v
		}
		if a == "recipe" && i+1 < len(args) && strings.HasPrefix(args[i], "-") {
			return args[i+1]
		}
	}
	return ""
}

type ratioList []string

func (l *ratioList) String() string     { return strings.Join(*l, ",") }
func (l *ratioList) Set(s string) error { *l = append(*l, s); return nil }

func cmdPrune(ctx context.Context, args []string) error {
	r := recipe.Default()
	recipeFile := recipeArg(args)
	if recipeFile != "" {
		b, err := os.ReadFile(recipeFile)
		if err != nil {
			return err
		}
		if r, err = recipe.Parse(b, recipeFile); err != nil {
			return usageError{err}
		}
	}
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	fs.String("recipe", recipeFile, "YAML recipe with every setting (flags given too override it)")
	fs.StringVar(&r.Method.Criterion, "criterion", r.Method.Criterion, "random, l1, l2, bn, apoz, mean-act, taylor, snip, fpgm, lamp")
	fs.StringVar(&r.Method.Granularity, "granularity", r.Method.Granularity, "filter, channel (slim), weight, shape, N:M such as 2:4, blockAxB such as block1x4 (mask)")
	fs.StringVar(&r.Method.Reduction, "reduction", r.Method.Reduction, "combine a channel's scores across coupled layers: sum, mean, max")
	fs.StringVar(&r.Method.Normalize, "normalize", r.Method.Normalize, "per-layer score normalisation: none, mean, max, sum, gaussian (default: mean for global channels)")
	fs.Float64Var(&r.Target.Ratio, "ratio", r.Target.Ratio, "fraction of units to remove, in [0, 1): channels, or weights")
	fs.BoolVar(&r.Target.Global, "global", r.Target.Global, "rank all layers' units together instead of the same ratio per layer")
	fs.Float64Var(&r.Target.MaxLayerRatio, "max-layer-ratio", r.Target.MaxLayerRatio, "with --global: remove at most this fraction of any layer")
	fs.IntVar(&r.Target.RoundTo, "round-to", r.Target.RoundTo, "keep a multiple of N channels per layer")
	lrs := (*ratioList)(&r.Target.LayerRatios)
	fs.Var(lrs, "layer-ratio", "'REGEX=R': ratio for the layers whose names match (repeatable; first match wins; 0 leaves them alone)")
	fs.StringVar(&r.Schedule.Kind, "schedule", r.Schedule.Kind, "oneshot, iterative, agp, lottery")
	fs.IntVar(&r.Schedule.Rounds, "rounds", r.Schedule.Rounds, "rounds of iterative and lottery schedules, AGP pruning steps (default 3, AGP 10)")
	fs.IntVar(&r.Schedule.RewindSteps, "rewind-steps", r.Schedule.RewindSteps, "lottery: rewind to the weights after N steps (0: to initialisation)")
	fs.BoolVar(&r.Schedule.Reinit, "reinit-control", r.Schedule.Reinit, "lottery: also train a random re-initialisation under the same mask")
	fs.IntVar(&r.Finetune.Epochs, "finetune-epochs", r.Finetune.Epochs, "fine-tuning epochs (per round for iterative and lottery)")
	fs.StringVar(&r.Finetune.Recipe, "finetune-recipe", r.Finetune.Recipe, "training recipe for fine-tuning")
	fs.Float64Var(&r.Finetune.LR, "lr", r.Finetune.LR, "fine-tuning learning rate (default: the recipe's)")
	fs.IntVar(&r.Finetune.Batch, "batch", r.Finetune.Batch, "fine-tuning batch size (default: the recipe's)")
	fs.BoolVar(&r.Finetune.FromScratch, "from-scratch", r.Finetune.FromScratch, "re-initialise the pruned architecture and train it instead of fine-tuning")
	reg := fs.String("regularize", "", "train first with a sparsity regulariser: l1, bn-l1, group-lasso-filter|channel|shape")
	lambda := fs.Float64("lambda", 1e-4, "regulariser strength")
	regEpochs := fs.Int("reg-epochs", 10, "epochs of regularised training")
	sensKeep := fs.Float64("sensitivity-keep", 0, "run a sensitivity analysis and keep this fraction of the MACs (or params)")
	sensBudget := fs.String("sensitivity-budget", "macs", "what --sensitivity-keep counts: macs or params")
	sensCSV := fs.String("sensitivity-csv", "", "write the sensitivity curves here (CSV)")
	sensPlot := fs.String("sensitivity-plot", "", "plot the sensitivity curves here (PNG)")
	holdout := fs.Int("holdout", 1000, "images the sensitivity analysis measures accuracy on")
	holdSplit := fs.String("holdout-split", "test", "test: the first --holdout test images; train: the last training images (left out of fine-tuning)")
	fs.StringVar(&r.Data.Name, "data", r.Data.Name, "data set: mnist or fashion-mnist (needed by data criteria and fine-tuning)")
	fs.StringVar(&r.Data.Dir, "data-dir", r.Data.Dir, "directory with the IDX files")
	fs.IntVar(&r.Data.Limit, "limit", r.Data.Limit, "use the first N training and test images (0: all)")
	fs.IntVar(&r.Data.Calib, "calib", r.Data.Calib, "calibration images for data criteria (the first of the training split)")
	fs.Uint64Var(&r.Seed, "seed", r.Seed, "random seed (zoo weights, random criterion, data order)")
	fs.IntVar(&r.Threads, "threads", r.Threads, "worker threads (default: all cores)")
	fs.StringVar(&r.Output.Out, "out", r.Output.Out, "write the pruned model here: slimmed for filter/channel, masked otherwise")
	fs.StringVar(&r.Output.MaskedOut, "masked-out", r.Output.MaskedOut, "also write the masked model here (filter/channel)")
	fs.StringVar(&r.Output.LayersCSV, "layers-csv", r.Output.LayersCSV, "write the per-layer metrics here (CSV)")
	fs.StringVar(&r.Output.Plot, "plot", r.Output.Plot, "lottery schedule: plot test accuracy per epoch of dense, ticket and control here (PNG)")
	fs.IntVar(&r.Output.LatencyRuns, "latency-runs", r.Output.LatencyRuns, "timed forward passes per model and batch size (0: no timing)")
	fs.BoolVar(&r.Output.JSON, "json", r.Output.JSON, "print a JSON report as the last line")
	quiet := fs.Bool("quiet", false, "no progress output")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: shears prune MODEL --criterion C --granularity G --ratio R [flags] --out OUT.onnx\n"+
			"       shears prune --recipe R.yaml [flags that override it]\n\nMODEL is a zoo name or a model file.\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1:
		r.Model = pos[0]
	case len(pos) > 1:
		return usagef("want one model (zoo name or file), have %d arguments", len(pos))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["ratio"] {
		r.Target.Ratios = nil // --ratio replaces a recipe's list of ratios
	}
	if set["regularize"] {
		r.Regularize = &recipe.RegularizeSpec{Kind: *reg, Lambda: *lambda, Epochs: *regEpochs}
	}
	if set["sensitivity-keep"] {
		r.Sensitivity = &recipe.SensitivitySpec{Keep: *sensKeep, Budget: *sensBudget, CSV: *sensCSV, Plot: *sensPlot,
			Holdout: *holdout, Split: *holdSplit}
	} else if set["sensitivity-csv"] || set["sensitivity-plot"] {
		return usagef("--sensitivity-csv and --sensitivity-plot go with --sensitivity-keep")
	}
	if r.Model == "" {
		return usagef("want a model: shears prune MODEL --criterion C --granularity G --ratio R --out OUT (or --recipe R.yaml)")
	}
	if err := r.Validate(); err != nil {
		return usageError{flagError(err, recipeFile)}
	}
	if r.Threads > 0 {
		parallel.SetThreads(r.Threads)
	}
	var reports []map[string]any
	sweep := r.Sweep()
	for _, rr := range sweep {
		rep, err := pruneOne(ctx, rr, *quiet)
		if err != nil {
			if recipe.IsDataError(err) {
				return usageError{err}
			}
			return flagError(err, recipeFile)
		}
		reports = append(reports, rep)
		// A sweep can run for hours: each run's report is printed as it
		// ends, so an interrupted sweep keeps the finished ones; the last
		// line is still the whole sweep's.
		if r.Output.JSON && len(sweep) > 1 {
			if err := printJSON(rep); err != nil {
				return err
			}
		}
	}
	if r.Output.JSON {
		if len(reports) == 1 {
			return printJSON(reports[0])
		}
		return printJSON(map[string]any{"command": "prune", "runs": reports})
	}
	return nil
}

// flagError names the flag (or the recipe file) in a recipe field error.
func flagError(err error, recipeFile string) error {
	var fe *recipe.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if recipeFile != "" {
		return fmt.Errorf("recipe %s: %w", recipeFile, err)
	}
	if f, ok := flagOf[fe.Path]; ok {
		return fmt.Errorf("%s: %v", f, fe.Err)
	}
	return err
}

// labelFree reports whether a recipe needs no labels: a criterion that
// reads activations or nothing, one-shot, no training of any kind.
func labelFree(r recipe.Recipe) bool {
	crit, err := prune.ParseCriterion(r.Method.Criterion)
	if err != nil || crit.Needs() == prune.NeedsLabels {
		return false
	}
	return r.Schedule.Kind == "oneshot" && r.Finetune.Epochs == 0 && !r.Finetune.FromScratch &&
		r.Regularize == nil && r.Sensitivity == nil
}

// pruneOne runs one recipe, writes its outputs and prints its report.
func pruneOne(ctx context.Context, r recipe.Recipe, quiet bool) (map[string]any, error) {
	start := time.Now()
	g, _, err := loadModel(r.Model, r.Seed)
	if err != nil {
		return nil, err
	}
	pb := newProgress(quiet)
	env := recipe.Env{Model: g, Threads: parallel.Threads(), Progress: pb.update,
		Log: func(s string) {
			if !quiet || strings.HasPrefix(s, "warning:") {
				fmt.Fprintln(os.Stderr, s)
			}
		}}
	if r.Data.Name != "" {
		if env.Train, err = data.Load(r.Data.Name, r.Data.Dir, data.Train); err != nil {
			return nil, err
		}
		if env.Test, err = data.Load(r.Data.Name, r.Data.Dir, data.Test); err != nil {
			return nil, err
		}
		env.Train, env.Test = env.Train.Limit(r.Data.Limit), env.Test.Limit(r.Data.Limit)
		if err := checkImageModel(g, env.Train); err != nil {
			// A model that reads these images but gives no class scores
			// (a segmentation head) can still be pruned by label-free
			// steps: activation statistics of the images, no accuracy, no
			// training.
			var oe *outputError
			if !errors.As(err, &oe) {
				return nil, err
			}
			if !labelFree(r) {
				return nil, fmt.Errorf("%v; such a model prunes only without labels: one-shot, --finetune-epochs 0, a criterion other than taylor or snip", err)
			}
			env.Log("warning: " + err.Error() + ": the images serve as calibration data only; accuracy is not measured")
			env.Test = nil
		}
	}
	rep, err := recipe.Run(ctx, r, env)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{r.Output.Out, r.Output.MaskedOut, r.Output.LayersCSV, r.Output.Plot} {
		if err := makeParent(p); err != nil {
			return nil, err
		}
	}
	if s := r.Sensitivity; s != nil {
		if err := errors.Join(makeParent(s.CSV), makeParent(s.Plot)); err != nil {
			return nil, err
		}
	}
	meta := fmt.Sprintf("criterion %s, granularity %s, ratio %g (achieved %.4f), schedule %s, fine-tune %d epochs",
		rep.Criterion, rep.Granularity, rep.Target, rep.Achieved, rep.Schedule, r.Finetune.Epochs)
	outputs := map[string]string{}
	if rep.Slim != nil {
		rep.Slim.Meta["shears.pruned"] = meta
		if err := saveModel(r.Output.Out, rep.Slim); err != nil {
			return nil, err
		}
		outputs["slim"] = r.Output.Out
		if r.Output.MaskedOut != "" && rep.Masked != nil {
			rep.Masked.Meta["shears.pruned"] = meta + ", masked"
			if err := saveModel(r.Output.MaskedOut, rep.Masked); err != nil {
				return nil, err
			}
			outputs["masked"] = r.Output.MaskedOut
		}
	} else {
		rep.Masked.Meta["shears.pruned"] = meta + ", masked"
		if err := saveModel(r.Output.Out, rep.Masked); err != nil {
			return nil, err
		}
		outputs["masked"] = r.Output.Out
	}
	if err := writeSensitivity(r, rep); err != nil {
		return nil, err
	}
	if r.Output.Plot != "" {
		var b bytes.Buffer
		title := fmt.Sprintf("%s lottery ticket: test top-1 per epoch", rep.Model)
		if err := recipe.LotteryPlot(&b, title, rep.Lottery); err != nil {
			return nil, err
		}
		if err := writeAtomic(r.Output.Plot, b.Bytes()); err != nil {
			return nil, err
		}
		outputs["plot"] = r.Output.Plot
	}
	if r.Output.LayersCSV != "" {
		if err := writeLayersCSV(r.Output.LayersCSV, rep.Metrics); err != nil {
			return nil, err
		}
	}
	for _, line := range rep.Summary {
		fmt.Println(line)
	}
	for _, line := range rep.Metrics.Lines() {
		fmt.Println(line)
	}
	if !quiet {
		printLayers(rep.Metrics)
	}
	if rep.Slim != nil {
		fmt.Printf("wrote the slimmed model to %s", r.Output.Out)
		if o := outputs["masked"]; o != "" {
			fmt.Printf(" and the masked one to %s", o)
		}
		fmt.Println()
	} else {
		fmt.Printf("wrote the masked model to %s (granularity %s zeros weights and keeps shapes)\n", r.Output.Out, rep.Granularity)
	}
	j := map[string]any{"command": "prune", "model": rep.Model, "criterion": rep.Criterion, "granularity": rep.Granularity,
		"schedule": rep.Schedule, "target_ratio": rep.Target, "achieved_ratio": rep.Achieved, "global": r.Target.Global,
		"finetune_epochs": r.Finetune.Epochs, "seed": r.Seed, "metrics": rep.Metrics, "summary": rep.Summary,
		"recovery": rep.Recovery, "warnings": append([]string{}, rep.Warnings...), "outputs": outputs, "seconds": time.Since(start).Seconds()}
	if rep.LayerRatios != nil {
		j["layer_ratios"] = rep.LayerRatios
	}
	if rep.Lottery != nil {
		j["lottery"] = rep.Lottery
	}
	return j, nil
}

// makeParent creates the folder an output goes to.
func makeParent(path string) error {
	if path == "" {
		return nil
	}
	return os.MkdirAll(filepath.Dir(path), 0o755)
}

func writeSensitivity(r recipe.Recipe, rep *recipe.Report) error {
	s := r.Sensitivity
	if s == nil {
		return nil
	}
	if s.CSV != "" {
		var b bytes.Buffer
		if err := recipe.WriteCurves(&b, rep.BaseAccuracy, rep.Curves); err != nil {
			return err
		}
		if err := writeAtomic(s.CSV, b.Bytes()); err != nil {
			return err
		}
	}
	if s.Plot != "" {
		var b bytes.Buffer
		title := fmt.Sprintf("%s sensitivity: %s %s (dense %.2f%%)", rep.Model, rep.Criterion, rep.Granularity, 100*rep.BaseAccuracy)
		if err := recipe.PlotCurves(&b, title, rep.BaseAccuracy, rep.Curves); err != nil {
			return err
		}
		if err := writeAtomic(s.Plot, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func writeLayersCSV(path string, m *prune.Metrics) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"layer", "op", "params", "nonzero", "sparsity", "macs", "effective_macs", "slim_params", "slim_macs"})
	for _, l := range m.Layers {
		w.Write([]string{l.Name, l.Op, strconv.Itoa(l.Params), strconv.Itoa(l.Nonzero), strconv.FormatFloat(l.Sparsity, 'f', 6, 64),
			strconv.Itoa(l.MACs), strconv.Itoa(l.EffectiveMACs), strconv.Itoa(l.SlimParams), strconv.Itoa(l.SlimMACs)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}

func printLayers(m *prune.Metrics) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\top\tparams\tnonzero\tsparsity\tMACs\teffective MACs\tslim params\tslim MACs\t")
	for _, l := range m.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t\n", l.Name, l.Op, l.Params, l.Nonzero, 100*l.Sparsity, l.MACs, l.EffectiveMACs, l.SlimParams, l.SlimMACs)
	}
	tw.Flush()
}
