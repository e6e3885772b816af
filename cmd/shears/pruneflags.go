package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/shearsml/shears/prune/recipe"
)

// prune's flags overlay a recipe field by field from one table: each flag
// names the recipe field it sets (the YAML path library errors use), so
// that a flag given with --recipe overrides exactly that field, errors in
// a field name the flag that set it, and --json records where the two
// disagreed.

// recipeFlag is one row of the table.
type recipeFlag struct {
	name  string // as typed, without dashes
	path  string // recipe field (recipe.FieldError.Path)
	group string // help section
	usage string
	value flag.Value // holds what the user typed
	// apply copies the typed value into r, creating r's optional section
	// (regularize, sensitivity) when needed, and returns the field's value
	// before and after, printed.
	apply func(r *recipe.Recipe) (before, after string)
	check func() error // bounds of the typed value (nil: the library's)
	// section: the optional recipe section the field lives in ("" for
	// none); a flag of a section that neither a recipe nor its creating
	// flag gave is an error.
	section string
	creates bool // this flag creates its section
}

// field makes a table row for a field of type T. get returns the field
// (nil when its section is absent and create is false).
func field[T any](name, path, group, usage string, v flag.Value, typed *T, get func(r *recipe.Recipe, create bool) *T) recipeFlag {
	return recipeFlag{name: name, path: path, group: group, usage: usage, value: v,
		apply: func(r *recipe.Recipe) (string, string) {
			before := "(none)"
			if p := get(r, false); p != nil {
				before = fmt.Sprint(*p)
			}
			p := get(r, true)
			*p = *typed
			return before, fmt.Sprint(*p)
		}}
}

func strFlag(name, path, group, usage string, def string, get func(*recipe.Recipe, bool) *string) recipeFlag {
	v := def
	return field(name, path, group, usage, (*stringValue)(&v), &v, get)
}

func intFlagRow(name, path, group, usage string, def, lo int, get func(*recipe.Recipe, bool) *int) recipeFlag {
	v := def
	f := field(name, path, group, usage, (*intValue)(&v), &v, get)
	f.check = func() error { return atLeast(name, v, lo) }
	return f
}

func boolFlagRow(name, path, group, usage string, def bool, get func(*recipe.Recipe, bool) *bool) recipeFlag {
	v := def
	return field(name, path, group, usage, (*boolValue)(&v), &v, get)
}

// floatFlagRow: a finite float; positive says it must be > 0.
func floatFlagRow(name, path, group, usage string, def float64, positive bool, get func(*recipe.Recipe, bool) *float64) recipeFlag {
	v := def
	f := field(name, path, group, usage, (*floatFlag)(&v), &v, get)
	if positive {
		f.check = func() error {
			if v <= 0 {
				return usagef("--%s must be > 0, have %g", name, v)
			}
			return nil
		}
	}
	return f
}

func regularize(r *recipe.Recipe, create bool) *recipe.RegularizeSpec {
	if r.Regularize == nil && create {
		r.Regularize = &recipe.RegularizeSpec{Lambda: 1e-4, Epochs: 10}
	}
	return r.Regularize
}

func sensitivity(r *recipe.Recipe, create bool) *recipe.SensitivitySpec {
	if r.Sensitivity == nil && create {
		r.Sensitivity = &recipe.SensitivitySpec{}
	}
	return r.Sensitivity
}

// inRegularize and inSensitivity adapt a field getter of an optional
// section.
func inRegularize[T any](f func(*recipe.RegularizeSpec) *T) func(*recipe.Recipe, bool) *T {
	return func(r *recipe.Recipe, create bool) *T {
		if s := regularize(r, create); s != nil {
			return f(s)
		}
		return nil
	}
}

func inSensitivity[T any](f func(*recipe.SensitivitySpec) *T) func(*recipe.Recipe, bool) *T {
	return func(r *recipe.Recipe, create bool) *T {
		if s := sensitivity(r, create); s != nil {
			return f(s)
		}
		return nil
	}
}

// pruneFlags builds the table with DefaultRecipe's values as the flags'
// defaults (what help prints).
func pruneFlags() []recipeFlag {
	d := recipe.Default()
	const (
		method, target, schedule, recovery, dataG, outputs = "method", "target", "schedule", "recovery", "data and machine", "outputs"
	)
	layerRatios := &listFlag{}
	inputShapes := &inputShapeFlag{}
	seed := d.Seed
	rows := []recipeFlag{
		strFlag("criterion", "method.criterion", method, "random, l1, l2, bn, apoz, mean-act, taylor, snip, fpgm, lamp", d.Method.Criterion,
			func(r *recipe.Recipe, _ bool) *string { return &r.Method.Criterion }),
		strFlag("granularity", "method.granularity", method, "filter, channel (slim), weight, shape, N:M such as 2:4, blockAxB such as block1x4 (mask)", d.Method.Granularity,
			func(r *recipe.Recipe, _ bool) *string { return &r.Method.Granularity }),
		strFlag("reduction", "method.reduction", method, "combine a channel's scores across coupled layers: sum, mean, max (default sum)", d.Method.Reduction,
			func(r *recipe.Recipe, _ bool) *string { return &r.Method.Reduction }),
		strFlag("normalize", "method.normalize", method, "per-layer score normalisation: none, mean, max, sum, gaussian (default: mean for global channels)", d.Method.Normalize,
			func(r *recipe.Recipe, _ bool) *string { return &r.Method.Normalize }),
		floatFlagRow("ratio", "target.ratio", target, "fraction of units to remove, in [0, 1): channels, or weights", d.Target.Ratio, false,
			func(r *recipe.Recipe, _ bool) *float64 { return &r.Target.Ratio }),
		boolFlagRow("global", "target.global", target, "rank all layers' units together instead of the same ratio per layer", d.Target.Global,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Target.Global }),
		floatFlagRow("max-layer-ratio", "target.max_layer_ratio", target, "with --global: remove at most this fraction of any layer", d.Target.MaxLayerRatio, true,
			func(r *recipe.Recipe, _ bool) *float64 { return &r.Target.MaxLayerRatio }),
		intFlagRow("round-to", "target.round_to", target, "keep a multiple of N channels per layer", d.Target.RoundTo, 1,
			func(r *recipe.Recipe, _ bool) *int { return &r.Target.RoundTo }),
		field("layer-ratio", "target.layer_ratios", target, "'REGEX=R': ratio for the layers whose names match (repeatable, replaces a recipe's list; first match wins; 0 leaves them alone)",
			layerRatios, (*[]string)(layerRatios), func(r *recipe.Recipe, _ bool) *[]string { return &r.Target.LayerRatios }),
		floatFlagRow("sensitivity-keep", "sensitivity.keep", target, "run a sensitivity analysis and keep this fraction of the MACs (or params), in (0, 1]", 0, false,
			inSensitivity(func(s *recipe.SensitivitySpec) *float64 { return &s.Keep })),
		strFlag("sensitivity-budget", "sensitivity.budget", target, "what --sensitivity-keep counts: macs or params (default macs)", "",
			inSensitivity(func(s *recipe.SensitivitySpec) *string { return &s.Budget })),
		intFlagRow("holdout", "sensitivity.holdout", target, "images the sensitivity analysis measures accuracy on (default 1000)", 0, 1,
			inSensitivity(func(s *recipe.SensitivitySpec) *int { return &s.Holdout })),
		strFlag("holdout-split", "sensitivity.split", target, "test: the first --holdout test images; train: the last training images, left out of fine-tuning (default test)", "",
			inSensitivity(func(s *recipe.SensitivitySpec) *string { return &s.Split })),
		strFlag("schedule", "schedule.kind", schedule, "oneshot, iterative, agp, lottery, sfp (soft filter pruning), dns (dynamic network surgery), sparsevd (sparse variational dropout), morphnet (schedule.lambda, reg_epochs, threshold, cost in a recipe)", d.Schedule.Kind,
			func(r *recipe.Recipe, _ bool) *string { return &r.Schedule.Kind }),
		intFlagRow("rounds", "schedule.rounds", schedule, "rounds of iterative and lottery schedules, AGP pruning steps (default 3, AGP 10)", d.Schedule.Rounds, 1,
			func(r *recipe.Recipe, _ bool) *int { return &r.Schedule.Rounds }),
		intFlagRow("rewind-steps", "schedule.rewind_steps", schedule, "lottery: rewind to the weights after N steps (0: to initialisation)", d.Schedule.RewindSteps, 0,
			func(r *recipe.Recipe, _ bool) *int { return &r.Schedule.RewindSteps }),
		boolFlagRow("reinit-control", "schedule.reinit_control", schedule, "lottery: also train a random re-initialisation under the same mask", d.Schedule.Reinit,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Schedule.Reinit }),
		strFlag("regularize", "regularize.kind", recovery, "train first with a sparsity regulariser: l1, bn-l1, group-lasso-filter|channel|shape", "",
			inRegularize(func(s *recipe.RegularizeSpec) *string { return &s.Kind })),
		floatFlagRow("lambda", "regularize.lambda", recovery, "regulariser strength (default 0.0001)", 1e-4, true,
			inRegularize(func(s *recipe.RegularizeSpec) *float64 { return &s.Lambda })),
		intFlagRow("reg-epochs", "regularize.epochs", recovery, "epochs of regularised training (default 10)", 10, 1,
			inRegularize(func(s *recipe.RegularizeSpec) *int { return &s.Epochs })),
		intFlagRow("finetune-epochs", "finetune.epochs", recovery, "fine-tuning epochs (per round for iterative and lottery)", d.Finetune.Epochs, 0,
			func(r *recipe.Recipe, _ bool) *int { return &r.Finetune.Epochs }),
		strFlag("finetune-recipe", "finetune.recipe", recovery, "training recipe for fine-tuning", d.Finetune.Recipe,
			func(r *recipe.Recipe, _ bool) *string { return &r.Finetune.Recipe }),
		floatFlagRow("lr", "finetune.lr", recovery, "fine-tuning learning rate (default: the recipe's)", 0, true,
			func(r *recipe.Recipe, _ bool) *float64 { return &r.Finetune.LR }),
		intFlagRow("batch", "finetune.batch", recovery, "fine-tuning batch size (default: the recipe's)", 0, 1,
			func(r *recipe.Recipe, _ bool) *int { return &r.Finetune.Batch }),
		boolFlagRow("from-scratch", "finetune.from_scratch", recovery, "re-initialise the pruned architecture and train it instead of fine-tuning", d.Finetune.FromScratch,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Finetune.FromScratch }),
		boolFlagRow("distill", "finetune.distill", recovery, "fine-tune by knowledge distillation from the dense model (Hinton et al. 2015): every training of the run; needs labels", d.Finetune.Distill,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Finetune.Distill }),
		floatFlagRow("distill-alpha", "finetune.distill_alpha", recovery, "with --distill: weight α of the teacher's soft targets, in [0, 1] (default 0.9)", d.Finetune.DistillAlpha, false,
			func(r *recipe.Recipe, _ bool) *float64 { return &r.Finetune.DistillAlpha }),
		floatFlagRow("distill-temperature", "finetune.distill_temperature", recovery, "with --distill: softmax temperature T (default 4)", d.Finetune.DistillTemperature, true,
			func(r *recipe.Recipe, _ bool) *float64 { return &r.Finetune.DistillTemperature }),
		boolFlagRow("reconstruct", "finetune.reconstruct", recovery, "refit the kept weights by least squares on the calibration images (no labels, no training), before any fine-tuning", d.Finetune.Reconstruct,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Finetune.Reconstruct }),
		intFlagRow("reconstruct-samples", "finetune.reconstruct_samples", recovery, "reconstruction: output positions sampled per image and layer (default 10)", d.Finetune.ReconstructSamples, 0,
			func(r *recipe.Recipe, _ bool) *int { return &r.Finetune.ReconstructSamples }),
		boolFlagRow("reconstruct-keep-bn", "finetune.reconstruct_keep_bn", recovery, "reconstruction: keep the BatchNorm statistics (default: re-estimate those after refit layers)", d.Finetune.ReconstructKeepBN,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Finetune.ReconstructKeepBN }),
		strFlag("data", "data.name", dataG, dataUsage+" (needed by fine-tuning, and by data criteria without --calib PATH)", d.Data.Name,
			func(r *recipe.Recipe, _ bool) *string { return &r.Data.Name }),
		strFlag("data-dir", "data.dir", dataG, "directory with the data set's files", d.Data.Dir,
			func(r *recipe.Recipe, _ bool) *string { return &r.Data.Dir }),
		intFlagRow("limit", "data.limit", dataG, "use the first N training and test images (0: all)", d.Data.Limit, 0,
			func(r *recipe.Recipe, _ bool) *int { return &r.Data.Limit }),
		calibRow(dataG, d.Data.Calib),
		intFlagRow("calib-images", "data.calib_images", dataG, "with --calib PATH: how many of its images, evenly spaced", d.Data.Calib, 1,
			func(r *recipe.Recipe, _ bool) *int { return &r.Data.Calib }),
		{name: "seed", path: "seed", group: dataG, usage: "random seed (zoo weights, random criterion, data order)", value: (*uint64Value)(&seed),
			apply: func(r *recipe.Recipe) (string, string) {
				before := fmt.Sprint(r.Seed)
				r.Seed = seed
				return before, fmt.Sprint(seed)
			}},
		field("input-shape", "input_shapes", dataG, inputShapeUsage+"; replaces a recipe's input_shapes",
			inputShapes, (*recipe.InputShapes)(inputShapes), func(r *recipe.Recipe, _ bool) *recipe.InputShapes { return &r.InputShapes }),
		intFlagRow("threads", "threads", dataG, "worker threads (default: all cores)", d.Threads, 0,
			func(r *recipe.Recipe, _ bool) *int { return &r.Threads }),
		strFlag("out", "output.out", outputs, "write the pruned model here: slimmed for filter/channel, masked otherwise", d.Output.Out,
			func(r *recipe.Recipe, _ bool) *string { return &r.Output.Out }),
		strFlag("masked-out", "output.masked_out", outputs, "also write the masked model here (filter/channel)", d.Output.MaskedOut,
			func(r *recipe.Recipe, _ bool) *string { return &r.Output.MaskedOut }),
		strFlag("layers-csv", "output.layers_csv", outputs, "write the per-layer metrics here (CSV)", d.Output.LayersCSV,
			func(r *recipe.Recipe, _ bool) *string { return &r.Output.LayersCSV }),
		strFlag("plot", "output.plot", outputs, "lottery schedule: plot test accuracy per epoch of dense, ticket and control here (PNG)", d.Output.Plot,
			func(r *recipe.Recipe, _ bool) *string { return &r.Output.Plot }),
		strFlag("sensitivity-csv", "sensitivity.csv", outputs, "write the sensitivity curves here (CSV)", "",
			inSensitivity(func(s *recipe.SensitivitySpec) *string { return &s.CSV })),
		strFlag("sensitivity-plot", "sensitivity.plot", outputs, "plot the sensitivity curves here (PNG)", "",
			inSensitivity(func(s *recipe.SensitivitySpec) *string { return &s.Plot })),
		intFlagRow("latency-runs", "output.latency_runs", outputs, "timed forward passes per model and batch size (0: no timing)", d.Output.LatencyRuns, 0,
			func(r *recipe.Recipe, _ bool) *int { return &r.Output.LatencyRuns }),
		boolFlagRow("json", "output.json", outputs, "print a JSON report as the last line", d.Output.JSON,
			func(r *recipe.Recipe, _ bool) *bool { return &r.Output.JSON }),
	}
	rows = append(rows, preprocessRows("preprocessing")...)
	for i := range rows {
		f := &rows[i]
		switch {
		case strings.HasPrefix(f.path, "regularize."):
			f.section, f.creates = "regularize", f.name == "regularize"
		case strings.HasPrefix(f.path, "sensitivity."):
			f.section, f.creates = "sensitivity", f.name == "sensitivity-keep"
		}
	}
	return rows
}

// override is a recipe field a flag changed: --json records both values.
type override struct {
	Flag   string `json:"flag"`
	Field  string `json:"field"`
	Recipe string `json:"recipe"`
	Value  string `json:"value"`
}

// overlay applies the flags the user typed to r, checks their bounds, and
// returns the fields where a recipe said otherwise.
func overlay(r *recipe.Recipe, rows []recipeFlag, set map[string]bool, fromRecipe bool) ([]override, error) {
	sections := map[string]bool{"regularize": r.Regularize != nil, "sensitivity": r.Sensitivity != nil}
	for _, f := range rows {
		if set[f.name] && f.creates {
			sections[f.section] = true
		}
	}
	var overrides []override
	for _, f := range rows {
		if !set[f.name] {
			continue
		}
		if f.check != nil {
			if err := f.check(); err != nil {
				return nil, err
			}
		}
		if f.section != "" && !sections[f.section] {
			creator := "--regularize"
			if f.section == "sensitivity" {
				creator = "--sensitivity-keep"
			}
			return nil, usagef("--%s goes with %s (or a recipe's %s section)", f.name, creator, f.section)
		}
		before, after := f.apply(r)
		if f.name == "ratio" {
			r.Target.Ratios = nil // --ratio replaces a recipe's sweep
		}
		if fromRecipe && before != after {
			overrides = append(overrides, override{Flag: "--" + f.name, Field: f.path, Recipe: before, Value: after})
		}
	}
	return overrides, nil
}

// flagError names the flag the user typed (or the recipe) in a recipe
// field error.
func flagError(err error, rows []recipeFlag, set map[string]bool, recipeFile string) error {
	var fe *recipe.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	var match *recipeFlag
	for i, f := range rows {
		if f.path == fe.Path || strings.HasPrefix(fe.Path, f.path+".") {
			if match == nil || len(f.path) > len(match.path) {
				match = &rows[i]
			}
		}
	}
	if match != nil && (set[match.name] || recipeFile == "") {
		return fmt.Errorf("--%s: %v", match.name, fe.Err)
	}
	if match == nil { // a section (schedule, regularize): the flags typed in it
		var typed []string
		for _, f := range rows {
			if set[f.name] && strings.HasPrefix(f.path, fe.Path+".") {
				typed = append(typed, "--"+f.name)
			}
		}
		if len(typed) > 0 {
			return fmt.Errorf("%s: %v", strings.Join(typed, ", "), fe.Err)
		}
	}
	if recipeFile != "" {
		return fmt.Errorf("recipe %s: %w", recipeFile, err)
	}
	return err
}

// Flag values for the table (the flag package's own are unexported).

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("not an integer")
	}
	*v = intValue(n)
	return nil
}

type uint64Value uint64

func (v *uint64Value) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return errors.New("not a non-negative integer")
	}
	*v = uint64Value(n)
	return nil
}

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}
