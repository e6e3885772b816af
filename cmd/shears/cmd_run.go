package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/report"
	"github.com/shearsml/shears/tensor"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

var runHelp = helpText{
	usage: "shears run MODEL --input X.npy [--output Y.npy] [flags]\n       shears run MODEL --random-input [--batch N] [flags]",
	examples: []string{
		"shears run resnet20.onnx --input x.npy --output y.npy",
		"shears run lenet5 --random-input --batch 64 --repeat 20 --json",
	},
	notes: "MODEL is an ONNX file or a zoo name (initialised with --seed). Timing defaults: 1 warm-up and\n" +
		"10 timed runs with --json or --random-input, else no warm-up and one run.",
}

func cmdRun(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("run")
	shapes := inputShapesVar(fs)
	var inputs, outputs listFlag
	fs.Var(&inputs, "input", "input tensor file (.npy or ONNX .pb), repeated in graph-input order or as name=FILE")
	fs.Var(&outputs, "output", "write an output (.npy or .pb by extension), repeated in output order or as name=FILE")
	random := fs.Bool("random-input", false, "run on random normal inputs (benchmarking) instead of files")
	batch := fs.Int("batch", 1, "batch size of --random-input")
	seed := fs.Uint64("seed", 1, "seed of a zoo model's weights and of --random-input")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	warmup := fs.Int("warmup", 0, "untimed runs before the timed ones (default: see above)")
	repeat := fs.Int("repeat", 0, "timed runs; latency is their median (default: see above)")
	maxMem := maxMemoryFlag(fs)
	jsonOut := fs.Bool("json", false, "print a JSON summary (latency_ms, p90_ms, batch, threads, ...) as the last line")
	profile := fs.Bool("profile", false, "time each node over the timed runs and print where the time goes (per node and per op type)")
	p, err := parseArgs(fs, args, s, runHelp)
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("want one model (zoo name or model file), have %d arguments", len(p.pos))
	}
	if err := checkInts(p.set, intMin{"warmup", *warmup, 0}, intMin{"repeat", *repeat, 1}, intMin{"batch", *batch, 1},
		intMin{"threads", *threads, 0}); err != nil {
		return err
	}
	// Timing defaults (see runHelp): 1 warm-up and 10 timed runs when
	// timing, else none and one.
	timing := *jsonOut || *random
	if !p.set["warmup"] && timing {
		*warmup = 1
	}
	if !p.set["repeat"] {
		*repeat = 1
		if timing {
			*repeat = 10
		}
	}
	if *random && len(inputs) > 0 {
		return usagef("give either --input files or --random-input, not both")
	}
	if !*random && len(inputs) == 0 {
		return usagef("--input FILE is required (or --random-input for random data)")
	}
	if p.set["batch"] && !*random {
		fmt.Fprintln(s.err, "warning: --batch has no effect without --random-input: the input files set the batch")
	}
	parallel.SetThreads(*threads)
	g, _, err := loadModel(p.pos[0], *seed, *shapes)
	if err != nil {
		return err
	}
	outFiles, err := outputFiles(g, outputs)
	if err != nil {
		return err
	}
	var outs0 []output
	for k, f := range outFiles {
		outs0 = append(outs0, output{"--output " + g.Outputs[k].Name, f})
	}
	if err := checkOutputs(outs0, false); err != nil {
		return err
	}
	ins := []output{{"the model", p.pos[0]}}
	for _, spec := range inputs {
		ins = append(ins, output{"--input", spec})
		if _, file, ok := strings.Cut(spec, "="); ok {
			ins = append(ins, output{"--input", file})
		}
	}
	if err := checkNotInputs(outs0, ins...); err != nil {
		return err
	}
	prog, err := cpu.CompileInference(g)
	if err != nil {
		return err
	}
	var xs []*tensor.Tensor
	if !*random {
		if xs, err = inputTensors(g, inputs); err != nil {
			return err
		}
	}
	n := *batch // the batch: dimension 0 of the first input that has a dynamic one
	dynamic := false
	for k, in := range g.Inputs {
		if len(in.Shape) > 0 && in.Shape[0] < 0 {
			if xs != nil {
				n = xs[k].Shape[0]
			}
			dynamic = true
			break
		}
	}
	if !dynamic && len(g.Inputs) > 0 && len(g.Inputs[0].Shape) > 0 {
		// A model whose batch is fixed (an export without a dynamic batch,
		// or one bound with --input-shape) runs at that batch.
		if *random && p.set["batch"] && *batch != g.Inputs[0].Shape[0] {
			fmt.Fprintf(s.err, "warning: --batch %d has no effect: input %q has a fixed batch of %d\n", *batch, g.Inputs[0].Name, g.Inputs[0].Shape[0])
		}
		n = g.Inputs[0].Shape[0]
	}
	if err := checkMemory(prog, max(n, 1), false, int64(*maxMem)); err != nil {
		return err
	}
	if *random {
		xs = graph.RandomInputs(g, *batch, rand.New(rand.NewPCG(*seed, 0x1a9))) // standard normal
	}
	var times []float64
	var outs []*tensor.Tensor
	for i := 0; i < *warmup+*repeat; i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted")
		}
		if *profile && i == *warmup {
			prog.ProfileOps(true)
		}
		start := time.Now()
		outs, err = prog.Forward(false, xs...)
		if err != nil {
			return err
		}
		if i >= *warmup {
			times = append(times, time.Since(start).Seconds()*1000)
		}
	}
	var jouts []report.Output
	for k, o := range g.Outputs {
		file := outFiles[k]
		if file != "" {
			if err := writeTensorFile(file, o.Name, outs[k]); err != nil {
				return err
			}
		}
		jouts = append(jouts, report.Output{Name: o.Name, Shape: outs[k].Shape, File: file})
		desc := summarize(outs[k])
		if file != "" {
			desc += ", written to " + file
		}
		fmt.Fprintf(s.out, "output %s: %s: %s\n", o.Name, tensor.ShapeString(outs[k].Shape), desc)
	}
	med, p90 := percentile(times, 0.5), percentile(times, 0.9)
	fmt.Fprintf(s.out, "%s: batch %d, %d threads: latency %.3f ms median, %.3f ms p90 over %d runs (%d warm-up)\n",
		g.Name, n, parallel.Threads(), med, p90, len(times), *warmup)
	res := report.Run{Header: report.NewHeader("run", parallel.Threads()), Model: g.Name, Batch: n, Threads: parallel.Threads(),
		Runs: len(times), Warmup: *warmup, LatencyMs: med, P90Ms: p90, Outputs: jouts}
	if *profile {
		res.Profile = printProfile(s, prog)
	}
	if *jsonOut {
		return printJSON(s, res)
	}
	return nil
}

// printProfile prints the nodes that took most of the timed runs and the
// time per op type, and returns every node's time, slowest first.
func printProfile(s streams, prog *cpu.Program) []report.NodeTime {
	ops := prog.OpTimes()
	var rows []report.NodeTime
	var total float64
	byOp := map[string]float64{}
	for _, o := range ops {
		ms := o.Total.Seconds() * 1000 / float64(max(o.Runs, 1))
		rows = append(rows, report.NodeTime{Node: o.Node.Name, Op: o.Node.Op, Ms: ms, Fused: o.Fused})
		total += ms
		byOp[o.Node.Op] += ms
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Ms > rows[j].Ms })
	fmt.Fprintf(s.out, "\nwhere a run's time goes (mean of the timed runs, %.3f ms in nodes):\n", total)
	fmt.Fprintf(s.out, "%9s %6s  %-20s %-16s %s\n", "ms", "%", "op", "output", "node")
	for i, r := range rows {
		if i == 15 {
			fmt.Fprintf(s.out, "%9s (%d more nodes)\n", "...", len(rows)-15)
			break
		}
		shape := ""
		if n := prog.Graph.Node(r.Node); n != nil && len(n.Outputs) > 0 {
			if sh := prog.Shape(n.Outputs[0]); sh != nil {
				shape = tensor.ShapeString(sh)
			}
		}
		op := r.Op
		if r.Fused {
			op += " (fused)"
		}
		fmt.Fprintf(s.out, "%9.3f %5.1f%%  %-20s %-16s %s\n", r.Ms, 100*r.Ms/max(total, 1e-12), op, shape, r.Node)
	}
	types := make([]string, 0, len(byOp))
	for t := range byOp {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return byOp[types[i]] > byOp[types[j]] })
	fmt.Fprintln(s.out, "per op type:")
	for _, t := range types {
		fmt.Fprintf(s.out, "%9.3f %5.1f%%  %s\n", byOp[t], 100*byOp[t]/max(total, 1e-12), t)
	}
	return rows
}

// summarize describes an output: its range, and the top class of each row
// of a 2-D output.
func summarize(t *tensor.Tensor) string {
	if len(t.Data) == 0 {
		return "empty"
	}
	lo, hi := slices.Min(t.Data), slices.Max(t.Data)
	s := fmt.Sprintf("min %.4g, max %.4g", lo, hi)
	if len(t.Shape) == 2 && t.Shape[1] > 1 && t.Shape[0] <= 8 {
		var am []string
		for r := range t.Shape[0] {
			row := t.Data[r*t.Shape[1] : (r+1)*t.Shape[1]]
			am = append(am, fmt.Sprint(slices.Index(row, slices.Max(row))))
		}
		s += ", argmax " + strings.Join(am, " ")
	}
	return s
}

// percentile returns the q-quantile of xs (nearest rank).
func percentile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// splitNamed splits name=FILE when name is one of names; otherwise the
// whole argument is a file.
func splitNamed(arg string, names []string) (string, string) {
	if i := strings.Index(arg, "="); i > 0 && slices.Contains(names, arg[:i]) {
		return arg[:i], arg[i+1:]
	}
	return "", arg
}

// assign maps --input/--output arguments to graph values: name=FILE, or
// positional in order. what is "input" or "output".
func assign(what string, names []string, args []string) ([]string, error) {
	files := make([]string, len(names))
	positional := 0
	for _, a := range args {
		name, file := splitNamed(a, names)
		if name == "" {
			// NAME=FILE with a NAME the model lacks, unless it is a file.
			if key, _, ok := strings.Cut(a, "="); ok && !strings.ContainsAny(key, "/.") {
				if _, err := os.Stat(a); err != nil {
					return nil, usagef("model has no %s %q (%ss: %s)", what, key, what, strings.Join(names, ", "))
				}
			}
			if positional >= len(names) {
				return nil, usagef("%d --%s files for a model with %d %ss (%s)", len(args), what, len(names), what, strings.Join(names, ", "))
			}
			for files[positional] != "" {
				positional++
				if positional >= len(names) {
					return nil, usagef("too many --%s files for %ss %s", what, what, strings.Join(names, ", "))
				}
			}
			name = names[positional]
			positional++
		}
		k := slices.Index(names, name)
		if files[k] != "" {
			return nil, usagef("%s %q is given twice", what, name)
		}
		files[k] = file
	}
	return files, nil
}

// inputTensors reads the input files and checks them against the graph.
func inputTensors(g *graph.Graph, args []string) ([]*tensor.Tensor, error) {
	var names []string
	for _, in := range g.Inputs {
		names = append(names, in.Name)
	}
	files, err := assign("input", names, args)
	if err != nil {
		return nil, err
	}
	xs := make([]*tensor.Tensor, len(files))
	batch, batchFrom := -1, ""
	for k, f := range files {
		if f == "" {
			return nil, usagef("no file for input %q (model inputs: %s)", names[k], strings.Join(names, ", "))
		}
		x, err := readTensorFile(f)
		if err != nil {
			return nil, err
		}
		want := g.Inputs[k].Shape
		ok := len(x.Shape) == len(want)
		for d := 0; ok && d < len(want); d++ {
			ok = want[d] < 0 || want[d] == x.Shape[d]
		}
		if !ok {
			return nil, fmt.Errorf("input %q: file %s has shape %s, the model wants %s", names[k], f, tensor.ShapeString(x.Shape), tensor.ShapeString(want))
		}
		if len(want) > 0 && want[0] < 0 {
			if batch >= 0 && x.Shape[0] != batch {
				return nil, fmt.Errorf("input %q: file %s has batch %d, input %q has %d", names[k], f, x.Shape[0], batchFrom, batch)
			}
			batch, batchFrom = x.Shape[0], names[k]
		}
		xs[k] = x
	}
	return xs, nil
}

// outputFiles maps --output arguments to the graph's outputs ("" for an
// output not written), checking the file formats.
func outputFiles(g *graph.Graph, args []string) ([]string, error) {
	var names []string
	for _, o := range g.Outputs {
		names = append(names, o.Name)
	}
	files, err := assign("output", names, args)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := tensorFormat(f); err != nil {
			return nil, usageError{err}
		}
	}
	return files, nil
}
