//go:build cgo

// Command modelsurvey runs the trained models of scripts/models.tsv (ONNX
// files that other projects ship, fetched by scripts/fetch_models.sh into
// .cache/models) through shears, stage by stage, and prints a Markdown
// table with one row per model and the first error of each verbatim: the
// measuring stick of issue 13.
//
//	scripts/fetch_models.sh
//	go run ./internal/cmd/modelsurvey [-models .cache/models] [-only a,b] [-details] [-latency 5] [-float16-round]
//
// The stages, each run only when the one before it worked (a failed
// comparison with ORT is reported and the later stages still run):
//
//   - import: onnx.Load of the file as shipped. Where that fails and
//     models.tsv gives shapes for the symbolic input dims, the survey
//     writes them into the file's inputs and imports again ("import, dims
//     bound"), so that the table shows what breaks after symbolic dims.
//   - run: cpu.Compile and a forward pass on random normal inputs of the
//     bound shapes (batch 1).
//   - = ORT: ONNX Runtime on the same bytes and inputs; the worst relative
//     difference (max abs difference / max abs value) over the outputs that
//     are not ~0 must be ≤ 1e-4. Where it is not, the survey runs both
//     again with every node output exposed and names the first node over
//     1e-4 (files up to 32 MB).
//   - analyze: prune.Analyze: the groups, the prunable channels out of all.
//   - prune: recipe.Run as `shears prune --criterion l1 --granularity
//     filter --ratio 0.3 --finetune-epochs 0` runs it.
//   - slim = masked: the slimmed and the masked model agree (1e-4) in
//     shears, then in ONNX Runtime on the files shears writes (and the
//     slimmed one agrees between the two runtimes).
//
// With -latency N the survey also times batch-1 inference of the dense
// and the slimmed model in both runtimes (shears compiled for inference,
// as `shears run` runs it), N runs per block in alternating blocks, and
// prints a second table of medians and ratios.
//
// A panic in any stage is caught and reported as the stage's error.
// ONNX Runtime comes from internal/ortref (cgo).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/onnx"
)

func main() {
	dir := flag.String("models", ".cache/models", "folder of scripts/fetch_models.sh's models")
	tsv := flag.String("tsv", "scripts/models.tsv", "the pinned models")
	only := flag.String("only", "", "comma-separated model names (default: all)")
	threads := flag.Int("threads", 2, "threads for shears and ONNX Runtime")
	latency := flag.Int("latency", 0, "also time dense and slimmed inference against ONNX Runtime: this many runs per block, 4 alternating blocks per runtime (0: no timing)")
	details := flag.Bool("details", false, "after the table, each model's inputs, ops, groups, refusals and errors")
	flag.BoolVar(&loadOptions.Float16Round, "float16-round", false, "import float16 models with every float16 layer output rounded (onnx.LoadOptions.Float16Round)")
	info := flag.Bool("info", false, "only print what each ONNX file given as an argument says about itself (producer, opsets, inputs, ops)")
	flag.Parse()
	if *info {
		for _, f := range flag.Args() {
			m, _, err := readProto(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, "modelsurvey:", err)
				os.Exit(1)
			}
			fi := inspect(m)
			fmt.Printf("%s\n  producer %q, IR %d, opsets %s\n  inputs %v\n  outputs %v\n  ops %s\n", f, fi.Producer, fi.IR, fi.Opsets, fi.Inputs, fi.Outputs, opList(fi.Ops))
		}
		return
	}
	if err := run(os.Stdout, *dir, *tsv, *only, *threads, *latency, *details); err != nil {
		fmt.Fprintln(os.Stderr, "modelsurvey:", err)
		os.Exit(1)
	}
}

// loadOptions is how the survey imports every model (-float16-round).
var loadOptions onnx.LoadOptions

func run(w io.Writer, dir, tsv, only string, threads, latency int, details bool) error {
	models, err := readModels(tsv)
	if err != nil {
		return err
	}
	if only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			want[strings.TrimSpace(n)] = true
		}
		var sel []model
		for _, m := range models {
			if want[m.Name] {
				sel = append(sel, m)
				delete(want, m.Name)
			}
		}
		for n := range want {
			return fmt.Errorf("-only: %q is not in %s", n, tsv)
		}
		models = sel
	}
	if err := ortref.Init(); err != nil {
		return err
	}
	parallel.SetThreads(threads)
	fmt.Fprintf(w, "shears survey of %d trained models (%s, ONNX Runtime %s, %d threads)\n\n", len(models), runtime.Version(), ortref.RuntimeVersion(), threads)
	fmt.Fprintln(w, "| model | ecosystem | file | params | MACs | ops shears lacks | import | run | = ORT | analyze | prune 30% | slim = masked | in ORT | slim: params / MACs / file | first error |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	var results []*result
	for _, m := range models {
		path := filepath.Join(dir, m.Name+".onnx")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: %v (run scripts/fetch_models.sh)", m.Name, err)
		}
		fmt.Fprintf(os.Stderr, "modelsurvey: %s\n", m.Name)
		r := survey(m, path, threads)
		if latency > 0 && r.timed != nil && r.MACs > latencyMaxMACs {
			r.Notes = append(r.Notes, fmt.Sprintf("latency: not timed (%s MACs; the limit is %s)", si(r.MACs), si(latencyMaxMACs)))
		} else if latency > 0 && r.timed != nil {
			timeModel(r, threads, latency)
		}
		r.timed = nil
		results = append(results, r)
		fmt.Fprintln(w, row(r))
		runtime.GC()
	}
	if latency > 0 {
		load, _ := os.ReadFile("/proc/loadavg")
		fmt.Fprintf(w, "\nLatency, batch 1, %d threads each: median of %d runs per runtime in %d alternating blocks; shears compiled for inference (as `shears run`), ORT with its default optimisations; load average after the run %s\n\n",
			threads, latency*latencyRounds, latencyRounds, strings.Join(strings.Fields(string(load))[:3], " "))
		fmt.Fprintln(w, "| model | dense shears ms | dense ORT ms | shears/ORT | slim shears ms | slim ORT ms | shears/ORT |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, r := range results {
			if r.Dense.ORT > 0 {
				fmt.Fprintf(w, "| %s | %s | %s |\n", r.Model.Name, r.Dense, r.SlimLat)
			}
		}
	}
	if details {
		for _, r := range results {
			writeDetails(w, r)
		}
	}
	return nil
}

// row is the model's table row.
func row(r *result) string {
	imp := r.status("import")
	if s := r.status("import, dims bound"); s != "–" {
		imp += " → bound: " + s
	}
	slim := "–"
	if r.SlimP > 0 {
		slim = fmt.Sprintf("%s / %s", si(r.SlimP), si(r.SlimM))
		if r.SlimBytes > 0 {
			slim += " / " + bytes(int64(r.SlimBytes))
		}
	}
	params, macs := "–", "–"
	if r.Params > 0 || r.MACs > 0 {
		params, macs = si(r.Params), si(r.MACs)
	} else if n := r.Info.weightCount(); n > 0 {
		// shears could not count them: the file's initializer elements.
		params = si(n) + " (file)"
	}
	stage, msg := r.firstError()
	if msg != "" {
		msg = stage + ": " + msg
		msg = clip(msg, 400)
		msg = "`" + strings.ReplaceAll(msg, "`", "'") + "`"
	}
	msg = strings.ReplaceAll(msg, "|", `\|`)
	miss := strings.Join(missingOps(r.Info.Ops), ", ")
	if miss == "" {
		miss = "none"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
		r.Model.Name, r.Model.Ecosystem, bytes(r.FileBytes), params, macs, miss, imp, r.status("run"), r.status("= ORT"),
		r.status("analyze"), r.status("prune"), r.status("slim = masked"), r.status("slim = masked in ORT"), slim, msg)
}

// maxRefusals bounds the refusals listed per model: a model that nothing
// in can be pruned has one per layer.
const maxRefusals = 8

// timeModel fills r's latencies; a timing error becomes a note.
func timeModel(r *result, threads, runs int) {
	t := r.timed
	fmt.Fprintf(os.Stderr, "modelsurvey: %s: timing\n", r.Model.Name)
	err := guard(func() (err error) { r.Dense, err = measure(t.dense, t.denseONNX, threads, runs, t.xs); return })
	if err == nil && t.slim != nil {
		err = guard(func() (err error) { r.SlimLat, err = measure(t.slim, t.slimONNX, threads, runs, t.xs); return })
	}
	if err != nil {
		r.Notes = append(r.Notes, "latency: "+err.Error())
	}
}

func writeDetails(w io.Writer, r *result) {
	fmt.Fprintf(w, "\n### %s\n\n", r.Model.Name)
	fmt.Fprintf(w, "- from %s `%s` (%s licence); %s\n", r.Model.Package, r.Model.Path, r.Model.Licence, r.Model.Origin)
	fmt.Fprintf(w, "- file: producer %q, IR %d, opsets %s; initializer elements by type: %v\n", r.Info.Producer, r.Info.IR, r.Info.Opsets, r.Info.Weights)
	var ins []string
	for _, in := range r.Info.Inputs {
		ins = append(ins, in.String())
	}
	fmt.Fprintf(w, "- inputs: %s", strings.Join(ins, "; "))
	if s := r.Model.shapeString(); s != "" {
		fmt.Fprintf(w, " (bound: %s)", s)
	}
	fmt.Fprintf(w, "\n- outputs: %s\n- ops: %s\n", strings.Join(r.Info.Outputs, "; "), opList(r.Info.Ops))
	for _, s := range r.Stages {
		if s.Err != "" {
			fmt.Fprintf(w, "- %s: %s: `%s`\n", s.Name, s.Status, s.Err)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Groups) > 0 || len(r.Refused) > 0 {
		fmt.Fprintf(w, "- %d groups, %d refusals", len(r.Groups), len(r.Refused))
		if len(r.Refused) > maxRefusals {
			fmt.Fprintf(w, " (the first %d)", maxRefusals)
		}
		fmt.Fprintln(w, ":")
		for i, why := range r.Refused {
			if i == maxRefusals {
				break
			}
			why = clip(why, 300)
			fmt.Fprintf(w, "  - %s\n", why)
		}
	}
}

// clip shortens s to at most n bytes, at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + " …"
}

// si writes n with three significant digits and a k/M/G suffix.
func si(n int) string {
	v := float64(n)
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.3g G", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3g M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3g k", v/1e3)
	}
	return fmt.Sprint(n)
}

func bytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
