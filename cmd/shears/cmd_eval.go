package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/train"
)

func cmdEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var df dataFlags
	df.register(fs, "evaluate on the first N test images (0: all)")
	batch := fs.Int("batch", 1000, "batch size")
	threads := fs.Int("threads", 0, "worker threads (default: all cores)")
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one model (file or zoo name), have %d arguments", len(pos))
	}
	if *batch < 1 {
		return usagef("--batch must be ≥ 1")
	}
	parallel.SetThreads(*threads)
	g, zm, err := loadModel(pos[0], 1)
	if err != nil {
		return err
	}
	if df.name == "" && zm != nil {
		df.name = zm.Dataset
	}
	if df.name == "" {
		return usagef("--data is required (mnist or fashion-mnist)")
	}
	ds, err := data.Load(df.name, df.dir, data.Test)
	if err != nil {
		return err
	}
	if df.limit < 0 {
		return usagef("--limit must be ≥ 0")
	}
	ds = ds.Limit(df.limit)
	if err := checkImageModel(g, ds); err != nil {
		return err
	}
	pb := newProgress(*quiet)
	start := time.Now()
	acc, err := train.Evaluate(ctx, g, nil, ds, *batch, pb.update)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("%s: test accuracy %.2f%% on %d %s test images (%.0f images/s)\n", g.Name, 100*acc, ds.N, ds.Name, float64(ds.N)/secs)
	if *jsonOut {
		return printJSON(map[string]any{"command": "eval", "model": g.Name, "data": ds.Name, "test_images": ds.N,
			"test_accuracy": acc, "images_per_second": float64(ds.N) / secs, "seconds": secs})
	}
	return nil
}
