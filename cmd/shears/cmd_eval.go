package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/report"
	"github.com/shearsml/shears/train"
)

var evalHelp = helpText{
	usage: "shears eval MODEL [--data DATA] [flags]",
	examples: []string{
		"shears eval lenet5.onnx",
		"shears eval vgg.onnx --data fashion-mnist --limit 1000 --json",
	},
	notes: "MODEL is an ONNX file or a zoo name (freshly initialised).",
}

func cmdEval(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("eval")
	shapes := inputShapesVar(fs)
	var df dataFlags
	df.register(fs, "evaluate on the first N test images (0: all)")
	batch := fs.Int("batch", 1000, "batch size")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	maxMem := maxMemoryFlag(fs)
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	quiet := fs.Bool("quiet", false, "no progress output")
	p, err := parseArgs(fs, args, s, evalHelp)
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("want one model (file or zoo name), have %d arguments", len(p.pos))
	}
	if err := checkInts(p.set, intMin{"batch", *batch, 1}, intMin{"threads", *threads, 0}, intMin{"limit", df.limit, 0}); err != nil {
		return err
	}
	parallel.SetThreads(*threads)
	g, zm, err := loadModel(p.pos[0], 1, *shapes)
	if err != nil {
		return err
	}
	if df.name == "" && zm != nil {
		df.name = zm.Dataset
	}
	if df.name == "" {
		return usagef("--data is required (mnist, fashion-mnist, cifar10:DIR, imagefolder:DIR, ...)")
	}
	ds, err := df.load(data.Test, func(line string) { fmt.Fprintln(s.err, line) })
	if err != nil {
		return err
	}
	ds = ds.Limit(df.limit)
	prog, err := train.CheckImageModel(g, ds)
	if err != nil {
		return fitHint(err, g, ds, "test images")
	}
	var notes []string
	b := min(*batch, max(ds.N, 1))
	if p.set["batch"] {
		b = capBatch(*batch, ds.N, "batch", &notes)
	}
	if err := checkMemory(prog, b, false, int64(*maxMem)); err != nil {
		return err
	}
	for _, n := range notes { // notes are not progress: --quiet keeps them
		fmt.Fprintln(s.err, n)
	}
	pb := newProgress(*quiet, s.err)
	start := time.Now()
	acc, err := train.Evaluate(ctx, g, nil, ds, b, pb.update)
	if errors.Is(err, train.ErrInterrupted) {
		return errors.New("interrupted during evaluation; nothing was written")
	}
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(s.out, "%s: test accuracy %.2f%% on %d %s test images (%.0f images/s)\n", g.Name, 100*acc, ds.N, ds.Name, float64(ds.N)/secs)
	if *jsonOut {
		return printJSON(s, report.Eval{Header: report.NewHeader("eval", parallel.Threads()), Model: g.Name, Data: ds.Name,
			TestImages: ds.N, TestAccuracy: acc, ImagesPerSecond: float64(ds.N) / secs, Seconds: secs, Notes: notes})
	}
	return nil
}
