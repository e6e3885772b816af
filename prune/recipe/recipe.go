package recipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/shearsml/shears/prune"

	"go.yaml.in/yaml/v3"
)

// Recipe is a whole pruning run: the model, the data, the method, the
// target, the schedule, the recovery and the outputs. `shears prune
// --recipe R.yaml` reads it from YAML (Parse, strict: an unknown
// key is an error naming its line); the command's flags fill the same
// fields. Zero values mean the defaults of Default where one says
// so. The recipes/ folder has one example per docs/ZOO.md protocol:
//
//	model: lenet5
//	data: {name: mnist}
//	method: {criterion: l1, granularity: filter}
//	target: {ratio: 0.5}
//	finetune: {epochs: 10}
//	output: {out: lenet5-l1-50.onnx}
type Recipe struct {
	Model       string           `yaml:"model"`        // zoo name or model file
	InputShapes InputShapes      `yaml:"input_shapes"` // the model file's symbolic input dims
	Seed        uint64           `yaml:"seed"`
	Threads     int              `yaml:"threads"`
	Data        DataSpec         `yaml:"data"`
	Method      MethodSpec       `yaml:"method"`
	Target      TargetSpec       `yaml:"target"`
	Schedule    ScheduleSpec     `yaml:"schedule"`
	Regularize  *RegularizeSpec  `yaml:"regularize"`
	Sensitivity *SensitivitySpec `yaml:"sensitivity"`
	Finetune    FinetuneSpec     `yaml:"finetune"`
	Output      OutputSpec       `yaml:"output"`
}

// DataSpec names the data set and the calibration images. Nothing is
// loaded when no step needs data and no name or calibration path is given.
//
// calib takes either a count or a path: `calib: 256` (an integer) is the
// number of calibration images, the first of the training split;
// `calib: imgs/` or `calib: calib.npy` (a string) reads the calibration
// images from a folder or a .npy file instead (Calib of them, evenly
// spaced; calib_images sets that count). A folder whose name is a number
// is written as a string: `calib: "256"` or `calib: ./256`.
type DataSpec struct {
	// Name: mnist, fashion-mnist, or cifar10:DIR, cifar100:DIR,
	// cifar100-coarse:DIR, imagefolder:DIR (data.ParseSource).
	Name      string `yaml:"name"`
	Dir       string `yaml:"dir"`          // the data set's files (default: the data set's place)
	Limit     int    `yaml:"limit"`        // first N training and test images (0: all)
	Calib     int    `yaml:"calib_images"` // calibration images (default 256); also `calib: N`
	CalibPath string `yaml:"-"`            // `calib: PATH`: a folder of images or a .npy file

	// Preprocessing of image files (see data.Preprocess): a named preset
	// and fields that override it.
	Preprocess   string    `yaml:"preprocess"`    // imagenet, mnist, fashion-mnist, cifar10, cifar100
	Resize       string    `yaml:"resize"`        // N (shorter side) or WxH
	Crop         string    `yaml:"crop"`          // N or WxH, centre
	Mean         []float64 `yaml:"mean"`          // per channel, on [0, 1] values
	Std          []float64 `yaml:"std"`           // per channel
	ChannelOrder string    `yaml:"channel_order"` // rgb (default) or bgr
	Channels     int       `yaml:"channels"`      // convert to 1 (grey) or 3 (colour) channels; 0: as the images are
}

// MethodSpec is the criterion and the granularity.
type MethodSpec struct {
	Criterion   string `yaml:"criterion"`   // see prune.Criteria
	Granularity string `yaml:"granularity"` // see prune.ParseGranularity
	Reduction   string `yaml:"reduction"`   // sum (default), mean, max
	Normalize   string `yaml:"normalize"`   // none, mean, max, sum, gaussian (default: mean for a global channel ranking, none otherwise)
}

// TargetSpec is the allocation (see Allocation).
type TargetSpec struct {
	Ratio         float64   `yaml:"ratio"`
	Ratios        []float64 `yaml:"ratios"` // a sweep: one run per ratio; output paths hold {ratio}
	Global        bool      `yaml:"global"`
	MaxLayerRatio float64   `yaml:"max_layer_ratio"`
	RoundTo       int       `yaml:"round_to"`
	LayerRatios   []string  `yaml:"layer_ratios"` // "REGEX=R", first match wins
}

// ScheduleSpec says when pruning happens.
type ScheduleSpec struct {
	Kind   string `yaml:"kind"`   // oneshot (default), iterative, agp, lottery, sfp, dns, sparsevd, morphnet
	Rounds int    `yaml:"rounds"` // iterative and lottery rounds; AGP's number of pruning steps n (default 3, AGP 10)
	// AGP: sparsity at the start, first pruning step and steps between
	// pruning steps (default: n steps spread over the first 3/4 of
	// training). SFP: Every is the epochs between zeroings (default 1).
	Initial float64 `yaml:"initial"`
	Start   int     `yaml:"start"`
	Every   int     `yaml:"every"`
	// Lottery ticket: rewind to the weights after this many optimiser
	// steps (0: to initialisation), and train the random
	// re-initialisation control.
	RewindSteps int  `yaml:"rewind_steps"`
	Reinit      bool `yaml:"reinit_control"`
	// MorphNet: the penalty's λ (default 1e-4), its training epochs
	// (default 10), the |γ| below which a channel is dead (default 1e-2)
	// and the resource it weighs and targets: macs (default) or params.
	Lambda    float64 `yaml:"lambda"`
	RegEpochs int     `yaml:"reg_epochs"`
	Threshold float64 `yaml:"threshold"`
	Cost      string  `yaml:"cost"`
}

// RegularizeSpec trains with a sparsity regulariser before pruning.
type RegularizeSpec struct {
	Kind   string  `yaml:"kind"` // see prune.ParseRegularizer
	Lambda float64 `yaml:"lambda"`
	Epochs int     `yaml:"epochs"`
}

// SensitivitySpec runs a sensitivity analysis and derives per-layer
// ratios that meet a budget, replacing the target's ratio.
type SensitivitySpec struct {
	Ratios  []float64 `yaml:"ratios"`  // grid (default 0.1 … 0.9)
	Holdout int       `yaml:"holdout"` // images to measure accuracy on (default 1000)
	Split   string    `yaml:"split"`   // test (first Holdout test images, default) or train (the last Holdout training images, then left out of fine-tuning)
	Budget  string    `yaml:"budget"`  // macs (default) or params
	Keep    float64   `yaml:"keep"`    // fraction of the budget to keep, in (0, 1]
	CSV     string    `yaml:"csv"`     // write the curves here
	Plot    string    `yaml:"plot"`    // and plot them here (PNG)
}

// FinetuneSpec is the recovery: fine-tuning with masks held, or training
// the pruned architecture from scratch.
type FinetuneSpec struct {
	Epochs      int     `yaml:"epochs"` // per round for iterative and lottery schedules
	Recipe      string  `yaml:"recipe"` // training recipe (default finetune)
	LR          float64 `yaml:"lr"`     // 0: the recipe's
	Batch       int     `yaml:"batch"`  // 0: the recipe's
	FromScratch bool    `yaml:"from_scratch"`
	// Distill fine-tunes with knowledge distillation from the dense
	// model (train.Distill, recovery distill): every training of the run
	// learns from the model as it started, with the soft-target weight
	// DistillAlpha (0: train.DefaultDistillAlpha) at temperature
	// DistillTemperature (0: train.DefaultDistillT).
	Distill            bool    `yaml:"distill"`
	DistillAlpha       float64 `yaml:"distill_alpha"`
	DistillTemperature float64 `yaml:"distill_temperature"`
	// Reconstruct refits the pruned model's kept weights by least
	// squares on the calibration images (data.calib) before any
	// fine-tuning (prune.Reconstruct): no labels, no training.
	Reconstruct bool `yaml:"reconstruct"`
	// ReconstructSamples is the output positions sampled per image and
	// layer (default 10).
	ReconstructSamples int `yaml:"reconstruct_samples"`
	// ReconstructKeepBN keeps the BatchNorm statistics as they were;
	// by default those reading a refit layer are re-estimated.
	ReconstructKeepBN bool `yaml:"reconstruct_keep_bn"`
}

// OutputSpec names the outputs.
type OutputSpec struct {
	Out         string `yaml:"out"`          // the slimmed model (structured), or the masked one
	MaskedOut   string `yaml:"masked_out"`   // the masked model (structured granularities)
	LayersCSV   string `yaml:"layers_csv"`   // per-layer metrics
	Plot        string `yaml:"plot"`         // lottery schedule: test accuracy per epoch of dense, ticket and control (PNG)
	JSON        bool   `yaml:"json"`         // print the report as JSON
	LatencyRuns int    `yaml:"latency_runs"` // forward passes timed per model and batch size (default 5, −1: none)
}

// Default is the recipe every parse starts from.
func Default() Recipe {
	return Recipe{Seed: 1, Data: DataSpec{Calib: 256}, Method: MethodSpec{Criterion: "l1", Granularity: "filter"},
		Schedule: ScheduleSpec{Kind: "oneshot"}, Finetune: FinetuneSpec{Epochs: 10, Recipe: "finetune"},
		Output: OutputSpec{LatencyRuns: 5}}
}

// FieldError is a recipe error about one field, named by its YAML path
// (method.criterion).
type FieldError struct {
	Path string
	Line int // 0 when not known
	Err  error
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %v", e.Line, e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(path string, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Parse reads a YAML recipe strictly: unknown keys, values of the
// wrong type and invalid settings are errors that name the line. name
// prefixes messages (the file name).
func Parse(b []byte, name string) (Recipe, error) {
	r := Default()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return r, fmt.Errorf("recipe %s: empty", name)
		}
		return r, fmt.Errorf("recipe %s: %s", name, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return r, fmt.Errorf("recipe %s: line %d: one YAML document per recipe", name, extra.Line)
	}
	if err := r.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			var root yaml.Node
			if yaml.Unmarshal(b, &root) == nil {
				fe.Line = lineOf(&root, fe.Path)
			}
		}
		return r, fmt.Errorf("recipe %s: %w", name, err)
	}
	return r, nil
}

var (
	unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
	typeNames    = strings.NewReplacer("recipe.", "", "Spec", "")
)

// yamlMessage turns yaml's multi-line errors into one line, with unknown
// keys said plainly.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	var parts []string
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			e = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
		}
		parts = append(parts, typeNames.Replace(e))
	}
	return strings.Join(parts, "; ")
}

// lineOf finds the line of a dotted key path (ratios.2 indexes a list).
func lineOf(n *yaml.Node, path string) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range strings.Split(path, ".") {
		found := false
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
		case yaml.SequenceNode:
			if k, err := strconv.Atoi(key); err == nil && k < len(n.Content) {
				n, found = n.Content[k], true
				line = n.Line
			}
		}
		if !found {
			break
		}
	}
	return line
}

// Validate checks every setting that does not need the model.
func (r *Recipe) Validate() error {
	if err := r.checkFinite(); err != nil {
		return err
	}
	if r.Model == "" {
		return fieldErr("model", "missing: a zoo model name or a model file")
	}
	if err := r.InputShapes.validate(); err != nil {
		return err
	}
	if r.Threads < 0 {
		return fieldErr("threads", "must be ≥ 0")
	}
	if r.Data.Limit < 0 {
		return fieldErr("data.limit", "must be ≥ 0, have %d", r.Data.Limit)
	}
	if err := r.Data.validate(); err != nil {
		return err
	}
	crit, err := prune.ParseCriterion(r.Method.Criterion)
	if err != nil {
		return &FieldError{Path: "method.criterion", Err: err}
	}
	gran, err := prune.ParseGranularity(r.Method.Granularity)
	if err != nil {
		return &FieldError{Path: "method.granularity", Err: err}
	}
	if err := crit.Fits(gran); err != nil {
		return &FieldError{Path: "method.criterion", Err: err}
	}
	switch r.Method.Reduction {
	case "", "sum", "mean", "max":
	default:
		return fieldErr("method.reduction", "unknown reduction %q (sum, mean, max)", r.Method.Reduction)
	}
	if err := prune.Normalize([]float64{1}, r.Method.Normalize); err != nil {
		return &FieldError{Path: "method.normalize", Err: err}
	}
	if _, err := r.Allocation(); err != nil {
		return err
	}
	for i, x := range r.Target.Ratios {
		if err := prune.CheckRatio("ratio", x); err != nil {
			return &FieldError{Path: fmt.Sprintf("target.ratios.%d", i), Err: err}
		}
	}
	if len(r.Target.Ratios) > 1 && !strings.Contains(r.Output.Out, "{ratio}") {
		return fieldErr("output.out", "a sweep over %d ratios needs {ratio} in the output path", len(r.Target.Ratios))
	}
	if err := r.validateSchedule(gran); err != nil {
		return err
	}
	if g := r.Regularize; g != nil {
		if _, err := prune.ParseRegularizer(g.Kind, g.Lambda); err != nil {
			return &FieldError{Path: "regularize", Err: err}
		}
		if g.Epochs < 1 {
			return fieldErr("regularize.epochs", "must be ≥ 1, have %d", g.Epochs)
		}
	}
	if s := r.Sensitivity; s != nil {
		for i, x := range s.Ratios {
			if err := prune.CheckRatio("ratio", x); err != nil {
				return &FieldError{Path: fmt.Sprintf("sensitivity.ratios.%d", i), Err: err}
			}
		}
		switch s.Split {
		case "", "test", "train":
		default:
			return fieldErr("sensitivity.split", "want test or train, have %q", s.Split)
		}
		switch s.Budget {
		case "", "macs", "params":
		default:
			return fieldErr("sensitivity.budget", "want macs or params, have %q", s.Budget)
		}
		if !(s.Keep > 0 && s.Keep <= 1) {
			return fieldErr("sensitivity.keep", "the fraction of the budget to keep must be in (0, 1], have %g", s.Keep)
		}
		if s.Holdout < 0 {
			return fieldErr("sensitivity.holdout", "must be ≥ 0")
		}
		if r.Schedule.Kind != "oneshot" {
			return fieldErr("sensitivity", "goes with the oneshot schedule only")
		}
	}
	f := r.Finetune
	if f.Epochs < 0 {
		return fieldErr("finetune.epochs", "must be ≥ 0, have %d", f.Epochs)
	}
	if f.LR < 0 || f.Batch < 0 {
		return fieldErr("finetune", "lr and batch must be ≥ 0")
	}
	if err := f.validateDistill(); err != nil {
		return err
	}
	if f.ReconstructSamples < 0 {
		return fieldErr("finetune.reconstruct_samples", "must be ≥ 0, have %d", f.ReconstructSamples)
	}
	if f.Reconstruct && f.FromScratch {
		return fieldErr("finetune.reconstruct", "reconstruction refits the pruned weights; from_scratch throws them away")
	}
	if f.Reconstruct && f.Distill {
		return fieldErr("finetune.reconstruct", "choose reconstruction or distillation (finetune.distill), not both: the refit's fine-tuning does not distil")
	}
	if r.Output.Out == "" {
		return fieldErr("output.out", "missing: where to write the pruned model")
	}
	if r.Output.MaskedOut != "" && f.FromScratch && gran.Structured() {
		return fieldErr("output.masked_out", "trained from scratch, only the slimmed model is an output")
	}
	if r.Output.Plot != "" && r.Schedule.Kind != "lottery" {
		return fieldErr("output.plot", "only the lottery schedule draws a plot (sensitivity.plot is the sensitivity analysis')")
	}
	if r.Output.MaskedOut != "" && !gran.Structured() {
		return fieldErr("output.masked_out", "granularity %s only masks: output.out is the masked model", gran.Name())
	}
	return nil
}

// checkFinite refuses NaN and infinite numbers, which pass comparisons
// such as lr ≥ 0 unnoticed.
func (r *Recipe) checkFinite() error {
	type num struct {
		path string
		v    float64
	}
	nums := []num{{"target.ratio", r.Target.Ratio}, {"target.max_layer_ratio", r.Target.MaxLayerRatio},
		{"schedule.initial", r.Schedule.Initial}, {"finetune.lr", r.Finetune.LR},
		{"schedule.lambda", r.Schedule.Lambda}, {"schedule.threshold", r.Schedule.Threshold},
		{"finetune.distill_alpha", r.Finetune.DistillAlpha}, {"finetune.distill_temperature", r.Finetune.DistillTemperature}}
	for i, x := range r.Target.Ratios {
		nums = append(nums, num{fmt.Sprintf("target.ratios.%d", i), x})
	}
	if g := r.Regularize; g != nil {
		nums = append(nums, num{"regularize.lambda", g.Lambda})
	}
	if s := r.Sensitivity; s != nil {
		nums = append(nums, num{"sensitivity.keep", s.Keep})
		for i, x := range s.Ratios {
			nums = append(nums, num{fmt.Sprintf("sensitivity.ratios.%d", i), x})
		}
	}
	for _, n := range nums {
		if math.IsNaN(n.v) || math.IsInf(n.v, 0) {
			return fieldErr(n.path, "must be a finite number, have %g", n.v)
		}
	}
	return nil
}

func (r *Recipe) validateSchedule(gran prune.Granularity) error {
	sched, err := NewSchedule(r)
	if err != nil {
		return err
	}
	if err := sched.Validate(r); err != nil {
		return err
	}
	s := r.Schedule
	if s.RewindSteps < 0 {
		return fieldErr("schedule.rewind_steps", "must be ≥ 0")
	}
	if (s.RewindSteps > 0 || s.Reinit) && sched.Name() != "lottery" {
		return fieldErr("schedule", "rewind_steps and reinit_control go with the lottery schedule")
	}
	if _, fixed := gran.FixedRatio(); fixed && sched.Gradual() {
		return fieldErr("schedule.kind", "granularity %s fixes the sparsity: use oneshot", gran.Name())
	}
	return nil
}

// Allocation builds the recipe's allocation.
func (r *Recipe) Allocation() (prune.Allocation, error) {
	t := r.Target
	a := prune.Allocation{Ratio: t.Ratio, Global: t.Global, MaxLayerRatio: t.MaxLayerRatio, RoundTo: t.RoundTo}
	if err := prune.CheckRatio("ratio", t.Ratio); err != nil {
		return a, &FieldError{Path: "target.ratio", Err: err}
	}
	if t.MaxLayerRatio != 0 {
		if err := prune.CheckRatio("max layer ratio", t.MaxLayerRatio); err != nil {
			return a, &FieldError{Path: "target.max_layer_ratio", Err: err}
		}
	}
	if t.RoundTo < 0 {
		return a, fieldErr("target.round_to", "must be ≥ 1, have %d", t.RoundTo)
	}
	for i, s := range t.LayerRatios {
		lr, err := prune.ParseLayerRatio(s)
		if err != nil {
			return a, &FieldError{Path: fmt.Sprintf("target.layer_ratios.%d", i), Err: err}
		}
		a.LayerRatios = append(a.LayerRatios, lr)
	}
	return a, nil
}

// Sweep expands a recipe into one recipe per target ratio (several with
// target.ratios, else the one ratio), with {ratio} in output paths replaced
// by the ratio.
func (r Recipe) Sweep() []Recipe {
	ratios := r.Target.Ratios
	if len(ratios) == 0 {
		ratios = []float64{r.Target.Ratio}
	}
	var out []Recipe
	for _, x := range ratios {
		c := r
		c.Target.Ratio, c.Target.Ratios = x, nil
		s := strconv.FormatFloat(x, 'g', -1, 64)
		for _, p := range []*string{&c.Output.Out, &c.Output.MaskedOut, &c.Output.LayersCSV, &c.Output.Plot} {
			*p = strings.ReplaceAll(*p, "{ratio}", s)
		}
		out = append(out, c)
	}
	return out
}
