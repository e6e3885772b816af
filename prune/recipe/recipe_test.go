package recipe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecipeErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"model: lenet5\nmethod:\n  criterion: l1\n  granularty: filter\noutput: {out: x.onnx}\n", []string{"line 4", `unknown key "granularty"`}},
		{"model: lenet5\nmethod:\n  criterion: l7\noutput: {out: x.onnx}\n", []string{"line 3", "method.criterion", `unknown criterion "l7"`}},
		{"model: lenet5\ntarget:\n  ratio: lots\noutput: {out: x.onnx}\n", []string{"line 3", "cannot unmarshal"}},
		{"model: lenet5\ntarget:\n  ratio: 1.5\noutput: {out: x.onnx}\n", []string{"line 3", "target.ratio", "[0, 1)"}},
		{"model: lenet5\ntarget:\n  layer_ratios:\n    - 'conv1=0.5'\n    - 'conv2'\noutput: {out: x.onnx}\n", []string{"line 5", "REGEX=RATIO"}},
		{"model: lenet5\nschedule: {kind: cubic}\noutput: {out: x.onnx}\n", []string{"line 2", "unknown schedule"}},
		{"model: lenet5\nmethod: {criterion: apoz, granularity: weight}\noutput: {out: x.onnx}\n", []string{"line 2", "scores channels"}},
		{"model: lenet5\n", []string{"output.out", "missing"}},
		{"model: lenet5\noutput: {out: x.onnx}\n---\nmodel: vgg-s\n", []string{"line 3", "one YAML document"}},
		{"model: [\n", []string{"line"}},
		{"", []string{"empty"}},
		{"model: lenet5\ntarget: {ratios: [0.5, 0.9]}\noutput: {out: x.onnx}\n", []string{"{ratio}"}},
	} {
		_, err := Parse([]byte(tc.yaml), "r.yaml")
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%q: error has several lines: %q", tc.yaml, msg)
		}
		for _, w := range append(tc.want, "recipe r.yaml") {
			if !strings.Contains(msg, w) {
				t.Errorf("%q: error %q lacks %q", tc.yaml, msg, w)
			}
		}
	}
}

func TestRecipeSweepAndDefaults(t *testing.T) {
	r, err := Parse([]byte("model: lenet300\nmethod: {granularity: weight}\ntarget: {ratios: [0.5, 0.98], global: true}\noutput: {out: 'o/m-{ratio}.onnx'}\n"), "r")
	if err != nil {
		t.Fatal(err)
	}
	if r.Method.Criterion != "l1" || r.Finetune.Epochs != 10 || r.Data.Calib != 256 || r.Output.LatencyRuns != 5 {
		t.Errorf("defaults lost: %+v", r)
	}
	rs := r.Sweep()
	if len(rs) != 2 || rs[1].Target.Ratio != 0.98 || rs[1].Output.Out != "o/m-0.98.onnx" || !rs[1].Target.Global {
		t.Errorf("sweep %+v", rs)
	}
}

// TestExampleRecipes parses every recipe in recipes/.
func TestExampleRecipes(t *testing.T) {
	files, _ := filepath.Glob("../../recipes/*.yaml")
	if len(files) < 8 {
		t.Fatalf("%d example recipes", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b, f); err != nil {
			t.Error(err)
		}
	}
}
