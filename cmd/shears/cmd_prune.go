package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/prune/recipe"
	"github.com/shearsml/shears/report"
	"github.com/shearsml/shears/train"
)

// maxRecipeBytes bounds a recipe file: real recipes are a few hundred
// bytes.
const maxRecipeBytes = 1 << 20

var pruneHelp = helpText{
	usage: "shears prune MODEL --criterion C --granularity G --ratio R [flags] --out OUT.onnx\n" +
		"       shears prune --recipe R.yaml [flags that override its fields]\n" +
		"       shears prune --resume OUT.onnx.ckpt",
	examples: []string{
		"shears prune lenet5 --criterion l1 --granularity filter --ratio 0.5 --data mnist --out lenet5-slim.onnx",
		"shears prune --recipe recipes/l1-filter-resnet20.yaml --finetune-epochs 2 --json",
	},
	notes: "MODEL is a zoo name or a model file. A flag given with --recipe replaces exactly its field\n" +
		"of the recipe (--json records the recipe's value and the flag's). A run that trains checkpoints\n" +
		"at every round boundary (OUT.ckpt, or --checkpoint); interrupted, it resumes with --resume and\n" +
		"nothing else, where it stopped (the lottery's control: from its start), and ends bit for bit\n" +
		"as an uninterrupted run.",
}

// pruneCommand is a parsed prune command line: the recipe with the flags
// overlaid and validated.
type pruneCommand struct {
	r          recipe.Recipe
	overrides  []override
	rows       []recipeFlag
	set        map[string]bool
	recipeFile string
	maxMem     int64
	quiet      bool
	sparse     bool // --sparse-initializers (not part of the recipe or its checkpoint)
	// checkpoint is --checkpoint ("": OUT.ckpt per run); resume the
	// checkpoint continued (nil for a fresh run) and resumeFile its path.
	checkpoint string
	resume     *recipe.Checkpoint
	resumeFile string
}

// parsePrune parses the flags, reads the recipe, overlays the flags the
// user typed on it and validates the result, naming the flag or the
// recipe in errors.
func parsePrune(args []string, s streams) (*pruneCommand, error) {
	fs := newFlagSet("prune")
	recipeFile := fs.String("recipe", "", "YAML recipe with every setting (flags given too override its fields)")
	rows := pruneFlags()
	for _, f := range rows {
		fs.Var(f.value, f.name, f.usage)
	}
	maxMem := maxMemoryFlag(fs)
	quiet := fs.Bool("quiet", false, "no progress output")
	sparse := fs.Bool("sparse-initializers", false, sparseUsage)
	ckpt := fs.String("checkpoint", "", "checkpoint written at every round boundary and kept on interrupt (default: OUT.ckpt)")
	resume := fs.String("resume", "", "continue an interrupted run from its checkpoint (it holds the recipe, model and state)")
	help := pruneHelp
	byGroup := map[string]int{}
	for _, f := range rows {
		k, ok := byGroup[f.group]
		if !ok {
			k = len(help.groups)
			byGroup[f.group] = k
			help.groups = append(help.groups, flagGroup{title: f.group})
		}
		help.groups[k].names = append(help.groups[k].names, f.name)
	}
	help.groups[byGroup["data and machine"]].names = append(help.groups[byGroup["data and machine"]].names, "max-memory")
	help.groups[byGroup["outputs"]].names = append(help.groups[byGroup["outputs"]].names, "sparse-initializers", "quiet", "checkpoint")
	help.groups = append([]flagGroup{{"recipe and resuming", []string{"recipe", "resume"}}}, help.groups...)
	p, err := parseArgs(fs, args, s, help)
	if err != nil {
		return nil, err
	}
	c := &pruneCommand{r: recipe.Default(), rows: rows, set: p.set, recipeFile: *recipeFile, maxMem: int64(*maxMem), quiet: *quiet, sparse: *sparse,
		checkpoint: *ckpt, resumeFile: *resume}
	switch {
	case p.set["checkpoint"] && *ckpt == "":
		return nil, usagef("--checkpoint is empty")
	case p.set["resume"]:
		return c, c.parseResume(p.pos)
	}
	if p.set["recipe"] {
		if *recipeFile == "" {
			return nil, usagef("--recipe is empty")
		}
		b, err := readBounded("recipe", *recipeFile, maxRecipeBytes)
		if err != nil {
			return nil, usageError{err}
		}
		if c.r, err = recipe.Parse(b, *recipeFile); err != nil {
			return nil, usageError{err}
		}
	}
	if c.overrides, err = overlay(&c.r, rows, p.set, p.set["recipe"]); err != nil {
		return nil, err
	}
	switch {
	case len(p.pos) == 1:
		if p.set["recipe"] && c.r.Model != p.pos[0] {
			c.overrides = append(c.overrides, override{Flag: "MODEL", Field: "model", Recipe: c.r.Model, Value: p.pos[0]})
		}
		c.r.Model = p.pos[0]
	case len(p.pos) > 1:
		return nil, usagef("want one model (zoo name or file), have %d arguments", len(p.pos))
	}
	if c.r.Model == "" {
		return nil, usagef("want a model: shears prune MODEL --criterion C --granularity G --ratio R --out OUT (or --recipe R.yaml)")
	}
	if err := c.r.Validate(); err != nil {
		return nil, usageError{flagError(err, rows, p.set, *recipeFile)}
	}
	return c, nil
}

// parseResume reads the checkpoint of --resume, which holds the recipe,
// and refuses what contradicts it: a recipe, a model, a flag whose value
// differs from the checkpoint's (a resumed run continues the same run).
func (c *pruneCommand) parseResume(pos []string) error {
	switch {
	case c.resumeFile == "":
		return usagef("--resume is empty")
	case c.set["recipe"]:
		return usagef("--recipe with --resume: the checkpoint holds the recipe; resume with --resume FILE alone")
	case len(pos) > 0:
		return usagef("a model with --resume: the checkpoint holds the model; resume with --resume FILE alone")
	}
	ck, err := recipe.ReadCheckpoint(c.resumeFile)
	if err != nil {
		return usageError{err}
	}
	typed := ck.Recipe
	diff, err := overlay(&typed, c.rows, c.set, true)
	if err != nil {
		return err
	}
	if len(diff) > 0 {
		d := diff[0]
		return usagef("%s %s contradicts the checkpoint, which holds %s: a resumed run continues with its checkpoint's settings", d.Flag, d.Value, d.Recipe)
	}
	c.r, c.resume = ck.Recipe, ck
	return nil
}

// checkpointPath is where run rr of n checkpoints.
func (c *pruneCommand) checkpointPath(rr recipe.Recipe) string {
	switch {
	case c.checkpoint != "":
		return c.checkpoint
	case c.resume != nil:
		return c.resumeFile
	}
	return rr.Output.Out + ".ckpt"
}

// outputName names an output in errors: the flag when the user typed it
// or no recipe was given, else the recipe's field.
func (c *pruneCommand) outputName(flagName, path string) string {
	if c.recipeFile == "" || c.set[flagName] {
		return "--" + flagName
	}
	return "recipe " + c.recipeFile + ": " + path
}

func cmdPrune(ctx context.Context, args []string, s streams) error {
	c, err := parsePrune(args, s)
	if err != nil {
		return err
	}
	r, overrides := c.r, c.overrides
	if r.Target.MaxLayerRatio != 0 && !r.Target.Global {
		fmt.Fprintln(s.err, "warning: --max-layer-ratio has no effect without --global: every layer loses the same ratio")
	}
	sweep := r.Sweep()
	if len(sweep) > 1 && c.checkpoint != "" {
		return usagef("--checkpoint with a sweep of %d ratios: each run checkpoints next to its own output (OUT.ckpt)", len(sweep))
	}
	var outs, ckpts []output
	for _, rr := range sweep {
		ckpts = append(ckpts, output{"--checkpoint", c.checkpointPath(rr)})
		outs = append(outs, output{c.outputName("out", "output.out"), rr.Output.Out},
			output{c.outputName("masked-out", "output.masked_out"), rr.Output.MaskedOut},
			output{c.outputName("layers-csv", "output.layers_csv"), rr.Output.LayersCSV},
			output{c.outputName("plot", "output.plot"), rr.Output.Plot})
		if sv := rr.Sensitivity; sv != nil {
			outs = append(outs, output{c.outputName("sensitivity-csv", "sensitivity.csv"), sv.CSV},
				output{c.outputName("sensitivity-plot", "sensitivity.plot"), sv.Plot})
		}
	}
	// Recipes write to folders such as out/: a missing folder is created
	// (after every other check), one that cannot be is refused.
	if err := checkOutputs(append(outs, ckpts...), true); err != nil {
		return err
	}
	// A resumed run rewrites the checkpoint it read; nothing else may
	// replace an input.
	inputs := []output{{"the model", r.Model}, {"--recipe", c.recipeFile}}
	if err := checkNotInputs(append(outs, ckpts...), inputs...); err != nil {
		return err
	}
	if err := checkNotInputs(outs, output{"--resume", c.resumeFile}); err != nil {
		return err
	}
	if r.Threads > 0 {
		parallel.SetThreads(r.Threads)
	}
	// A checkpoint left by an interrupted run is refused once the model
	// and data are known to be good, before any work (its run may be
	// worth resuming).
	checkStale := sync.OnceValue(func() error {
		for k, o := range ckpts {
			if !sweep[k].Checkpoints() {
				continue // writes none, overwrites none
			}
			if err := checkStaleCheckpoint(o.path, c.resumeFile, "prune"); err != nil {
				return err
			}
		}
		return nil
	})
	var reports []*pruneResult
	for i, rr := range sweep {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d of the sweep's %d runs (their reports are above)", i, len(sweep))
		}
		ckpt := c.checkpointPath(rr)
		rep, err := pruneOne(ctx, rr, c.quiet, c.sparse, c.maxMem, ckpt, c.resume, checkStale, s)
		if err != nil {
			var fe *recipe.FieldError
			if recipe.IsDataError(err) || errors.As(err, &fe) {
				return usageError{flagError(err, c.rows, c.set, c.recipeFile)}
			}
			if errors.Is(err, train.ErrInterrupted) || ctx.Err() != nil {
				return interruptedPrune(err, rr, ckpt, i, len(sweep))
			}
			return err
		}
		// The outputs are written: they supersede the checkpoint.
		os.Remove(ckpt)
		rep.Overrides = overrides
		reports = append(reports, rep)
		// A sweep can run for hours: each run's report is printed as it
		// ends, so an interrupted sweep keeps the finished ones; the last
		// line is still the whole sweep's.
		if r.Output.JSON && len(sweep) > 1 {
			if err := printJSON(s, rep); err != nil {
				return err
			}
		}
	}
	if r.Output.JSON {
		if len(reports) == 1 {
			return printJSON(s, reports[0])
		}
		return printJSON(s, pruneSweep{Version: recipe.ReportVersion, Command: "prune", Provenance: report.NewProvenance(parallel.Threads()), Runs: reports})
	}
	return nil
}

// interruptedPrune words an interrupted run of a sweep: where its
// checkpoint is and how to continue, or that nothing was written when it
// stopped before its first round boundary.
func interruptedPrune(err error, rr recipe.Recipe, ckpt string, run, runs int) error {
	if !rr.Checkpoints() {
		return fmt.Errorf("%v; a one-shot run without training keeps no checkpoint: nothing of it was written, run the command again", err)
	}
	if _, serr := os.Stat(ckpt); serr != nil {
		return fmt.Errorf("%v before the first checkpoint: nothing of this run was written, run the command again", err)
	}
	msg := fmt.Sprintf("%v; checkpoint written to %s: continue with shears prune --resume %s", err, ckpt, ckpt)
	if runs > 1 {
		msg += fmt.Sprintf(" (run %d of the sweep's %d; the ratios after it are not run)", run+1, runs)
	}
	return errors.New(msg)
}

// pruneResult is one prune run's JSON: the library's report with what
// the command adds (provenance, the flags that overrode the recipe, notes).
type pruneResult struct {
	*recipe.Report
	Provenance report.Provenance `json:"provenance"`
	Overrides  []override        `json:"overrides,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
}

// pruneSweep is a sweep's JSON (recipe.SweepReport with provenance).
type pruneSweep struct {
	Version    int               `json:"version"`
	Command    string            `json:"command"`
	Provenance report.Provenance `json:"provenance"`
	Runs       []*pruneResult    `json:"runs"`
}

// unitName is what a granularity removes.
func unitName(granularity string) string {
	switch granularity {
	case "filter", "channel":
		return "channel"
	case "weight":
		return "weight"
	}
	return "unit"
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
// It checkpoints to ckpt, continues resume when that is not nil, and
// calls beforeWork once the inputs are checked, before the run starts.
func pruneOne(ctx context.Context, r recipe.Recipe, quiet, sparse bool, maxMem int64, ckpt string, resume *recipe.Checkpoint,
	beforeWork func() error, s streams) (*pruneResult, error) {
	start := time.Now()
	var g *graph.Graph
	var err error
	if resume != nil {
		g, err = resume.Graph()
	} else {
		g, _, err = loadRecipeModel(r)
	}
	if err != nil {
		return nil, err
	}
	pb := newProgress(quiet, s.err)
	env := recipe.Env{Model: g, Threads: parallel.Threads(), Progress: pb.update, Checkpoint: ckpt, Resume: resume,
		Log: func(line string) {
			if !quiet || strings.HasPrefix(line, "warning:") || strings.HasPrefix(line, "note:") {
				fmt.Fprintln(s.err, line)
			}
		}}
	// prog is the training program of g, compiled once: by the data check
	// when there is data, else by pruneMemory.
	var prog *cpu.Program
	if env.Calib, err = recipe.LoadCalibration(r.Data, env.Log); err != nil {
		return nil, err
	}
	if env.Calib != nil {
		if prog, err = train.CheckImageInput(g, env.Calib); err != nil {
			return nil, fitHint(err, g, env.Calib, "calibration images")
		}
	}
	if r.Data.Name != "" {
		if env.Train, env.Test, err = r.Data.Load(env.Log); err != nil {
			return nil, err
		}
		if prog, err = train.CheckImageModel(g, env.Train); err != nil {
			if hinted := fitHint(err, g, env.Train, "training images"); hinted != err {
				return nil, hinted
			}
			// A model that reads these images but gives no class scores
			// (a segmentation head) can still be pruned by label-free
			// steps: activation statistics of the images, no accuracy, no
			// training.
			var me *train.ModelDataError
			if !errors.As(err, &me) || me.Kind != train.MismatchOutput {
				return nil, err
			}
			if !labelFree(r) {
				return nil, fmt.Errorf("%v; such a model prunes only without labels: one-shot, --finetune-epochs 0, a criterion other than taylor or snip", err)
			}
			env.Log("warning: " + err.Error() + ": the images serve as calibration data only; accuracy is not measured")
			env.Test = nil
		}
	}
	if env.Train != nil && r.Finetune.Batch > env.Train.N {
		var notes []string
		r.Finetune.Batch = capBatch(r.Finetune.Batch, env.Train.N, "batch", &notes)
		for _, n := range notes {
			env.Log(n)
		}
	}
	if err := pruneMemory(g, prog, r, env, maxMem); err != nil {
		return nil, err
	}
	if err := beforeWork(); err != nil {
		return nil, err
	}
	rep, err := recipe.Run(ctx, r, env)
	if err != nil {
		return nil, err
	}
	var notes []string
	if rep.Achieved == 0 {
		// Ratio 0, layer ratios of 0 or a rounding larger than the layers:
		// valid settings whose step removes nothing.
		notes = append(notes, "note: the settings remove no "+unitName(rep.Granularity)+": the model is written unchanged")
		env.Log(notes[0])
	}
	meta := fmt.Sprintf("criterion %s, granularity %s, ratio %g (achieved %.4f), schedule %s, fine-tune %d epochs",
		rep.Criterion, rep.Granularity, rep.Target, rep.Achieved, rep.Schedule, r.Finetune.Epochs)
	outputs := map[string]string{}
	if rep.Slim != nil {
		rep.Slim.Meta["shears.pruned"] = meta
		if err := saveModel(r.Output.Out, rep.Slim, sparse); err != nil {
			return nil, err
		}
		outputs["slim"] = r.Output.Out
		if r.Output.MaskedOut != "" && rep.Masked != nil {
			rep.Masked.Meta["shears.pruned"] = meta + ", masked"
			if err := saveModel(r.Output.MaskedOut, rep.Masked, sparse); err != nil {
				return nil, err
			}
			outputs["masked"] = r.Output.MaskedOut
		}
	} else {
		rep.Masked.Meta["shears.pruned"] = meta + ", masked"
		if err := saveModel(r.Output.Out, rep.Masked, sparse); err != nil {
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
		fmt.Fprintln(s.out, line)
	}
	for _, line := range rep.Metrics.Lines() {
		fmt.Fprintln(s.out, line)
	}
	if !quiet {
		printLayers(s, rep.Metrics)
	}
	if rep.Slim != nil {
		fmt.Fprintf(s.out, "wrote the slimmed model to %s", r.Output.Out)
		if o := outputs["masked"]; o != "" {
			fmt.Fprintf(s.out, " and the masked one to %s", o)
		}
		fmt.Fprintln(s.out)
	} else {
		fmt.Fprintf(s.out, "wrote the masked model to %s (granularity %s zeros weights and keeps shapes)\n", r.Output.Out, rep.Granularity)
	}
	rep.Outputs, rep.Seconds = outputs, time.Since(start).Seconds()
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	return &pruneResult{Report: rep, Provenance: report.NewProvenance(parallel.Threads()), Notes: notes}, nil
}

// pruneMemory refuses a run whose activations would pass the memory
// limit: fine-tuning at its batch (with gradients), latency timing at
// batch 64. A fine-tuning batch larger than the data is capped by it.
// prog is g's training program, or nil to compile it here.
func pruneMemory(g *graph.Graph, prog *cpu.Program, r recipe.Recipe, env recipe.Env, maxMem int64) error {
	if prog == nil {
		var err error
		if prog, err = cpu.Compile(g); err != nil {
			return err
		}
	}
	if r.Output.LatencyRuns > 0 {
		// prune.Latencies times inference programs, whose values share
		// memory: the training program's estimate is many times theirs.
		inf, err := cpu.CompileInference(g)
		if err != nil {
			return err
		}
		if err := checkMemory(inf, 64, false, maxMem); err != nil {
			return err
		}
	}
	if env.Train == nil {
		return nil
	}
	cfg, err := train.Recipe(r.Finetune.Recipe)
	if err != nil {
		return &recipe.FieldError{Path: "finetune.recipe", Err: err}
	}
	batch := cfg.Batch
	if r.Finetune.Batch > 0 {
		batch = r.Finetune.Batch
	}
	return checkMemory(prog, min(batch, max(env.Train.N, 1)), true, maxMem)
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
	if err := recipe.WriteLayers(&b, m); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}

func printLayers(s streams, m *prune.Metrics) {
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\top\tparams\tnonzero\tsparsity\tMACs\teffective MACs\tslim params\tslim MACs\t")
	for _, l := range m.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t\n", l.Name, l.Op, l.Params, l.Nonzero, 100*l.Sparsity, l.MACs, l.EffectiveMACs, l.SlimParams, l.SlimMACs)
	}
	tw.Flush()
}
