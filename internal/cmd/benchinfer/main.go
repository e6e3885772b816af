//go:build cgo

// Command benchinfer times dense inference in shears and in ONNX Runtime
// (CPU) on the same ONNX models, in one process, and prints a Markdown
// table with the ratio shears/ORT. scripts/bench_infer.sh runs it.
//
// The two alternate in blocks (shears, ORT, shears, ORT), not run by run:
// ORT's intra-op threads busy-wait for more work after a run (its default,
// which gives it its best latency), and they would hold a core during
// shears' next run. Each ORT block opens its own session and closes it, so
// its threads are gone before shears runs again. Four blocks each by
// default (-rounds): this machine has slow phases of tens of seconds, and
// more, shorter blocks spread them over both runtimes instead of one.
//
//	go run ./internal/cmd/benchinfer [-threads 2] [-batches 1,64] [-models ...] [-mintime 2s]
//
// Models are zoo names (28×28, random weights, BatchNorm folded into the
// convolutions with graph.FoldBatchNorm, as `shears export --fold-bn`
// writes them) and torchvision exports from scripts/export_torchvision.py
// (224×224, the default eval export in which PyTorch folded BatchNorm).
// Both runtimes run the same ONNX bytes; ORT applies its default graph
// optimisations (operator fusion included); shears compiles it with
// cpu.CompileInference (activations and residual Adds fused into the ops
// before them).
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	cpubackend "github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// ortProfile is the -ortprofile prefix.
var ortProfile string

// rounds is -rounds: blocks per runtime and row.
var rounds int

func main() {
	threads := flag.Int("threads", 2, "threads for both runtimes")
	batches := flag.String("batches", "1,64", "batch sizes")
	models := flag.String("models", "lenet5,resnet20,mobilenetv2-s,resnet18,mobilenet_v2", "zoo names or torchvision export names")
	tvDir := flag.String("torchvision", ".cache/torchvision", "folder of scripts/export_torchvision.py's exports")
	minTime := flag.Duration("mintime", 2*time.Second, "time each runtime at least this long per row (and at least -minruns runs)")
	minRuns := flag.Int("minruns", 5, "timed runs per runtime and row, at least")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (ORT shows as cgocall) to this file")
	flag.IntVar(&rounds, "rounds", 4, "alternating blocks per runtime and row: more blocks spread the machine's slow phases over both runtimes")
	flag.StringVar(&ortProfile, "ortprofile", "", "write ORT's per-node trace of each row's second ORT block to files of this prefix (JSON, chrome://tracing format)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchinfer:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if err := run(*threads, *batches, *models, *tvDir, *minTime, *minRuns); err != nil {
		fmt.Fprintln(os.Stderr, "benchinfer:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(threads int, batchList, modelList, tvDir string, minTime time.Duration, minRuns int) error {
	if err := ortref.Init(); err != nil {
		return err
	}
	var batches []int
	for _, s := range strings.Split(batchList, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || b < 1 {
			return fmt.Errorf("bad batch %q", s)
		}
		batches = append(batches, b)
	}
	parallel.SetThreads(threads)
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.Index(l, ":")+1:])
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %s, %d cores, load %s\n", cpu, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("shears (%s) vs ONNX Runtime %s (CPU, intra-op threads %d, sequential, default graph optimisations); threads %d each;\n", runtime.Version(), ortref.RuntimeVersion(), threads, threads)
	fmt.Printf("median of ≥ %d runs and ≥ %v per runtime, in %d alternating blocks each (shears, ORT, shears, ORT, …), after a warm-up run per block\n\n", minRuns, minTime, rounds)
	fmt.Println("| model | input | batch | shears ms | ORT ms | shears/ORT | max rel. diff |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, name := range strings.Split(modelList, ",") {
		name = strings.TrimSpace(name)
		model, g, err := loadModel(name, tvDir)
		if err != nil {
			return err
		}
		for _, b := range batches {
			row, err := bench(name, model, g, b, threads, minTime, minRuns)
			if err != nil {
				return fmt.Errorf("%s batch %d: %w", name, b, err)
			}
			fmt.Println(row)
		}
	}
	return nil
}

// loadModel returns the ONNX bytes both runtimes run and shears' graph of
// them.
func loadModel(name, tvDir string) ([]byte, *graph.Graph, error) {
	if m, err := zoo.Get(name); err == nil {
		g, _, err := graph.FoldBatchNorm(m.Build(1))
		if err != nil {
			return nil, nil, err
		}
		b, err := onnx.Encode(g)
		if err != nil {
			return nil, nil, err
		}
		g, err = onnx.Decode(b, name)
		return b, g, err
	}
	path := filepath.Join(tvDir, name+".onnx")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: not a zoo model and no %s (run /usr/bin/python3 scripts/export_torchvision.py)", name, path)
	}
	if err != nil {
		return nil, nil, err
	}
	g, err := onnx.Decode(b, path)
	return b, g, err
}

func bench(name string, model []byte, g *graph.Graph, batch, threads int, minTime time.Duration, minRuns int) (string, error) {
	prog, err := cpubackend.CompileInference(g)
	if err != nil {
		return "", err
	}
	prog.Threads = threads
	shape := slices.Clone(g.Inputs[0].Shape)
	shape[0] = batch
	x := tensor.New(shape...)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	// measure runs f (after one warm-up run) for at least its block's share
	// of minTime and of minRuns, appending milliseconds to ts.
	measure := func(ts []float64, f func() error) ([]float64, error) {
		if err := f(); err != nil {
			return nil, err
		}
		var spent time.Duration
		for n := 0; n < (minRuns+rounds-1)/rounds || spent < minTime/time.Duration(rounds); n++ {
			t0 := time.Now()
			if err := f(); err != nil {
				return nil, err
			}
			d := time.Since(t0)
			spent += d
			ts = append(ts, d.Seconds()*1000)
			if n >= 500 {
				break
			}
		}
		return ts, nil
	}
	var ts, to []float64
	var diff float64
	for round := range rounds {
		var got []*tensor.Tensor
		if ts, err = measure(ts, func() error {
			var err error
			got, err = prog.Forward(false, x)
			return err
		}); err != nil {
			return "", err
		}
		opts := ortref.Options{Threads: threads}
		if ortProfile != "" && round == 1 {
			opts.ProfilePrefix = fmt.Sprintf("%s_%s_b%d", ortProfile, name, batch)
		}
		sess, err := ortref.Open(model, opts)
		if err != nil {
			return "", err
		}
		var want []*tensor.Tensor
		to, err = measure(to, func() error {
			var err error
			want, err = sess.Run(x)
			return err
		})
		sess.Close()
		if err != nil {
			return "", err
		}
		if round == 0 {
			diff = tensor.RelDiff(got[0], want[0])
		}
	}
	ms, mo := median(ts), median(to)
	in := tensor.ShapeString(shape[1:])
	return fmt.Sprintf("| %s | %s | %d | %s | %s | %.2f | %.1g |", name, in, batch, msStr(ms), msStr(mo), ms/mo, diff), nil
}

// msStr prints 3 significant digits without an exponent.
func msStr(ms float64) string {
	if ms >= 100 {
		return strconv.FormatFloat(ms, 'f', 0, 64)
	}
	return strconv.FormatFloat(ms, 'g', 3, 64)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
