package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const overlayRecipe = `model: lenet5
data: {name: mnist, limit: 100}
method: {criterion: l1, granularity: filter}
target: {ratio: 0.5, layer_ratios: ['conv1=0']}
regularize: {kind: l1, lambda: 0.001, epochs: 3}
sensitivity: {keep: 0.5, split: train, holdout: 200, budget: params, ratios: [0.2, 0.4], csv: s.csv}
finetune: {epochs: 2, lr: 0.01}
output: {out: x.onnx}
`

// Every flag overrides exactly its recipe field: the flags that a recipe
// used to ignore (--lambda, --reg-epochs, --holdout, --holdout-split,
// --sensitivity-budget) take effect, --sensitivity-keep leaves the rest of
// the sensitivity section, and the overrides are listed with both values.
func TestPruneOverlay(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(file, []byte(overlayRecipe), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet := streams{io.Discard, io.Discard}
	c, err := parsePrune([]string{"--recipe", file, "--lambda", "0.01", "--reg-epochs", "5", "--holdout", "300", "--holdout-split", "test",
		"--sensitivity-budget", "macs", "--sensitivity-keep", "0.7", "--lr", "0.02", "--layer-ratio", "conv2=0.3", "--limit", "100"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	r := c.r
	if g := r.Regularize; g.Kind != "l1" || g.Lambda != 0.01 || g.Epochs != 5 {
		t.Errorf("regularize %+v", *g)
	}
	if s := r.Sensitivity; s.Keep != 0.7 || s.Split != "test" || s.Holdout != 300 || s.Budget != "macs" ||
		!slices.Equal(s.Ratios, []float64{0.2, 0.4}) || s.CSV != "s.csv" {
		t.Errorf("sensitivity %+v", *s)
	}
	if r.Finetune.LR != 0.02 || r.Finetune.Epochs != 2 || r.Data.Limit != 100 || r.Target.Ratio != 0.5 {
		t.Errorf("finetune %+v, data %+v, target %+v", r.Finetune, r.Data, r.Target)
	}
	if !slices.Equal(r.Target.LayerRatios, []string{"conv2=0.3"}) {
		t.Errorf("layer ratios %v: --layer-ratio replaces the recipe's list", r.Target.LayerRatios)
	}
	var got []string
	for _, o := range c.overrides {
		got = append(got, o.Flag+" "+o.Field+" "+o.Recipe+"→"+o.Value)
	}
	want := []string{"--layer-ratio target.layer_ratios [conv1=0]→[conv2=0.3]", "--sensitivity-keep sensitivity.keep 0.5→0.7",
		"--sensitivity-budget sensitivity.budget params→macs", "--holdout sensitivity.holdout 200→300",
		"--holdout-split sensitivity.split train→test", "--lambda regularize.lambda 0.001→0.01", "--reg-epochs regularize.epochs 3→5",
		"--lr finetune.lr 0.01→0.02"}
	if !slices.Equal(got, want) {
		t.Errorf("overrides\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Errors name the flag typed, or the recipe (with its line) when the
	// value came from there.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--recipe", file, "--holdout-split", "sideways"}, `--holdout-split: want test or train, have "sideways"`},
		{[]string{"--recipe", file, "--ratio", "1.5"}, "--ratio: "},
		{[]string{"--recipe", file, "--schedule", "iterative", "--finetune-epochs", "0"}, "--finetune-epochs: schedule iterative trains"},
		{[]string{"--recipe", file, "--schedule", "iterative", "--from-scratch"}, "--from-scratch: goes with the oneshot schedule only"},
	} {
		_, err := parsePrune(tc.args, quiet)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q…", tc.args, err, tc.want)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(overlayRecipe, "split: train", "split: sideways", 1)), 0o644)
	if _, err := parsePrune([]string{"--recipe", bad, "--lr", "0.1"}, quiet); err == nil || !strings.Contains(err.Error(), "recipe "+bad+": line 6: sensitivity.split") {
		t.Errorf("a bad recipe value: %v", err)
	}
}

// With --json, a prune run records the recipe's value and the flag's
// where they disagree.
func TestPruneJSONRecordsOverrides(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.yaml")
	os.WriteFile(file, []byte("model: lenet5\nmethod: {criterion: l1, granularity: filter}\ntarget: {ratio: 0.5}\nfinetune: {epochs: 0}\noutput: {out: "+
		filepath.Join(dir, "x.onnx")+", latency_runs: 0}\n"), 0o644)
	out, stderr, code := shears(t, "prune", "--recipe", file, "--ratio", "0.25", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := lastJSON(t, out)
	ov, _ := m["overrides"].([]any)
	if len(ov) != 2 || m["target_ratio"].(float64) != 0.25 { // --ratio, and --json over the recipe's false
		t.Fatalf("overrides %v, target %v", m["overrides"], m["target_ratio"])
	}
	if o := ov[0].(map[string]any); o["flag"] != "--ratio" || o["field"] != "target.ratio" || o["recipe"] != "0.5" || o["value"] != "0.25" {
		t.Errorf("override %v", o)
	}
}
