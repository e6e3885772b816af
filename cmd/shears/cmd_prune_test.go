package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
)

func TestPruneLeNet5Filters(t *testing.T) {
	dir := t.TempDir()
	slim, masked := filepath.Join(dir, "slim.onnx"), filepath.Join(dir, "masked.onnx")
	out, stderr, code := shears(t, "prune", "lenet5", "--criterion", "l1", "--granularity", "filter", "--ratio", "0.5",
		"--finetune-epochs", "0", "--out", slim, "--masked-out", masked, "--latency-runs", "2", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "conv2: 20 → 10 inputs, 50 → 25 channels") {
		t.Errorf("no before/after summary in:\n%s", out)
	}
	m := lastJSON(t, out)
	met, _ := m["metrics"].(map[string]any)
	for _, k := range []string{"params", "nonzero_params", "compression", "macs", "effective_macs", "speedup", "slim_params", "slim_macs", "latency_ms", "layers"} {
		if met[k] == nil {
			t.Errorf("metrics lack %s: %v", k, met)
		}
	}
	if met["params"].(float64) != 431080 || met["slim_params"].(float64) >= 431080 || met["speedup"].(float64) <= 1 {
		t.Errorf("metrics %v", met)
	}
	for _, model := range []string{"dense", "masked", "slim"} {
		if lat, _ := met["latency_ms"].(map[string]any)[model].(map[string]any); lat["1"] == nil || lat["64"] == nil {
			t.Errorf("latency of %s: %v", model, met["latency_ms"])
		}
	}
	fs, _ := os.Stat(slim)
	fm, _ := os.Stat(masked)
	if fs == nil || fm == nil || fs.Size() >= fm.Size()/2 {
		t.Fatalf("slimmed file %v, masked %v: want the slimmed one much smaller", fs, fm)
	}
	g, err := onnx.Load(slim)
	if err != nil {
		t.Fatal(err)
	}
	_, total, err := graph.Stats(g)
	if err != nil || float64(total.Params) != met["slim_params"].(float64) || float64(total.MACs) != met["slim_macs"].(float64) {
		t.Errorf("reloaded: %d params, %d MACs, %v; JSON says %v, %v", total.Params, total.MACs, err, met["slim_params"], met["slim_macs"])
	}
	if !strings.Contains(g.Meta["shears.pruned"], "criterion l1") {
		t.Errorf("metadata %v", g.Meta)
	}
}

func TestPruneUnstructured(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "u.onnx")
	stdout, stderr, code := shears(t, "prune", "lenet300", "--criterion", "l1", "--granularity", "weight", "--ratio", "0.9",
		"--global", "--finetune-epochs", "0", "--out", out, "--latency-runs", "0", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote the masked model") {
		t.Errorf("output does not say the model is masked:\n%s", stdout)
	}
	met := lastJSON(t, stdout)["metrics"].(map[string]any)
	if c := met["compression"].(float64); c < 9 || c > 11 {
		t.Errorf("compression %g at 90%% of the weights", c)
	}
	g, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	_, total, _ := graph.Stats(g)
	if float64(total.Nonzero) != met["nonzero_params"].(float64) || total.Params != 266610 {
		t.Errorf("reloaded: %d of %d non-zero; JSON %v", total.Nonzero, total.Params, met["nonzero_params"])
	}
}

func TestPruneBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.onnx")
	base := []string{"prune", "lenet5", "--finetune-epochs", "0", "--out", out}
	bad := func(fragments []string, extra ...string) {
		t.Helper()
		wantError(t, fragments, append(append([]string{}, base...), extra...)...)
	}
	bad([]string{"--ratio", "[0, 1)", "1.5"}, "--ratio", "1.5")
	bad([]string{"--ratio", "empty a layer"}, "--ratio", "1")
	bad([]string{"--max-layer-ratio", "empty a layer"}, "--ratio", "0.5", "--global", "--max-layer-ratio", "1")
	bad([]string{"criterion taylor needs labelled data: pass --data mnist|fashion-mnist"}, "--criterion", "taylor")
	bad([]string{"criterion apoz needs calibration data"}, "--criterion", "apoz")
	bad([]string{`"conv9$" matches no layer`, "conv1"}, "--ratio", "0.5", "--layer-ratio", "conv9$=0.5")
	bad([]string{"unknown criterion", "l3"}, "--criterion", "l3")
	bad([]string{"unknown granularity", "kernel"}, "--granularity", "kernel")
	bad([]string{"criterion fpgm scores channels"}, "--criterion", "fpgm", "--granularity", "weight")
	bad([]string{"global ratio 0.99 cannot be met"}, "--ratio", "0.99", "--global", "--max-layer-ratio", "0.9")
	bad([]string{"--masked-out", "only masks"}, "--granularity", "weight", "--masked-out", filepath.Join(dir, "m.onnx"))
	wantError(t, []string{"fine-tuning needs data", "--finetune-epochs 0"}, "prune", "lenet5", "--out", out)
	wantError(t, []string{"schedule agp trains and needs data"}, "prune", "lenet5", "--schedule", "agp", "--ratio", "0.5", "--out", out)
	wantError(t, []string{"--out"}, "prune", "lenet5", "--finetune-epochs", "0")
	wantError(t, []string{"unknown model", "lenet6"}, "prune", "lenet6", "--finetune-epochs", "0", "--out", out)

	recipe := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipe, []byte("model: lenet5\nmethod:\n  criterion: l1\n  granularity: filter\ntarget:\n  ratio: 0.5\n  round: 8\noutput: {out: x.onnx}\n"), 0o644)
	wantError(t, []string{"r.yaml", "line 7", `unknown key "round"`}, "prune", "--recipe", recipe)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed prune wrote %s", out)
	}
}

func TestPruneRecipe(t *testing.T) {
	dir := t.TempDir()
	recipe := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipe, []byte(`model: resnet20
method: {criterion: l1, granularity: filter}
target:
  ratios: [0.3, 0.5]
  layer_ratios: ['^conv1$=0', '^layer[23]\.0\.conv2$=0']
finetune: {epochs: 0}
output:
  out: `+dir+`/res-{ratio}.onnx
  layers_csv: `+dir+`/res-{ratio}.csv
  latency_runs: 0
`), 0o644)
	// --json on the command line adds to the recipe.
	out, stderr, code := shears(t, "prune", "--recipe", recipe, "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	runs, _ := lastJSON(t, out)["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("runs %v", runs)
	}
	// Each run's report also comes out as it ends.
	var each []float64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &m) == nil && m["target_ratio"] != nil {
			each = append(each, m["target_ratio"].(float64))
		}
	}
	if len(each) != 2 || each[0] != 0.3 || each[1] != 0.5 {
		t.Errorf("per-run reports for ratios %v, want [0.3 0.5]", each)
	}
	for _, r := range []string{"0.3", "0.5"} {
		g, err := onnx.Load(filepath.Join(dir, "res-"+r+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		// Only the first conv of each block loses filters.
		if s := g.Param("layer1.0.conv1.weight").Value.Shape[0]; s >= 16 {
			t.Errorf("ratio %s: layer1.0.conv1 has %d filters", r, s)
		}
		for p, want := range map[string]int{"conv1.weight": 16, "layer1.0.conv2.weight": 16, "layer2.0.conv2.weight": 32, "layer3.2.conv2.weight": 64} {
			if s := g.Param(p).Value.Shape[0]; s != want {
				t.Errorf("ratio %s: %s has %d filters, want %d", r, p, s, want)
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "res-"+r+".csv")); err != nil || !strings.HasPrefix(string(b), "layer,op,params") {
			t.Errorf("per-layer CSV: %v", err)
		}
	}
}

// TestPruneWarnsUnprunable prunes a model whose first conv feeds a Softmax
// across channels: that conv cannot lose channels, which the command says,
// and the rest is pruned.
func TestPruneWarnsUnprunable(t *testing.T) {
	g := &graph.Graph{Name: "soft", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 1, 28, 28}}}, Meta: map[string]string{}}
	param := func(name string, shape ...int) string {
		p := tensor.New(shape...)
		for i := range p.Data {
			p.Data[i] = float32(i%7) - 3
		}
		g.AddParam(name, p, true)
		return name
	}
	node := func(name, op string, attrs graph.Attrs, in ...string) string {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs})
		return name
	}
	conv := graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}
	x := node("conv1", "Conv", conv, "x", param("conv1.weight", 4, 1, 3, 3))
	x = node("softmax", "Softmax", graph.Attrs{"axis": 1}, x)
	x = node("conv2", "Conv", conv, x, param("conv2.weight", 6, 4, 3, 3), param("conv2.bias", 6))
	x = node("flatten", "Flatten", graph.Attrs{"axis": 1}, node("gap", "GlobalAveragePool", nil, node("relu", "Relu", nil, x)))
	x = node("fc", "Gemm", graph.Attrs{"transB": 1}, x, param("fc.weight", 10, 6), param("fc.bias", 10))
	g.Outputs = []graph.ValueInfo{{Name: x}}
	graph.LabelAxes(g)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "soft.onnx"), filepath.Join(dir, "slim.onnx")
	if err := onnx.Save(in, g); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := shears(t, "prune", in, "--ratio", "0.5", "--finetune-epochs", "0", "--out", out, "--latency-runs", "0", "--quiet")
	if code != 0 || !strings.Contains(stderr, "warning: conv1: 4 channels not prunable") || !strings.Contains(stderr, "Softmax") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	s, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if c1, c2 := s.Param("conv1.weight").Value.Shape[0], s.Param("conv2.weight").Value.Shape[0]; c1 != 4 || c2 != 3 {
		t.Errorf("conv1 %d, conv2 %d filters", c1, c2)
	}
}

// A model that reads MNIST images but gives a per-pixel map, not class
// scores, prunes with a label-free criterion (the images calibrate it),
// and is refused, naming its output, for anything that needs labels.
func TestPruneSegmentationCalibration(t *testing.T) {
	g := &graph.Graph{Name: "seg", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 1, 28, 28}}}, Meta: map[string]string{}}
	param := func(name string, shape ...int) string {
		p := tensor.New(shape...)
		for i := range p.Data {
			p.Data[i] = float32(i%7)/7 - 0.4
		}
		g.AddParam(name, p, true)
		return name
	}
	node := func(name, op string, attrs graph.Attrs, in ...string) string {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs})
		return name
	}
	conv := graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}
	x := node("relu1", "Relu", nil, node("conv1", "Conv", conv, "x", param("conv1.weight", 8, 1, 3, 3), param("conv1.bias", 8)))
	x = node("conv2", "Conv", conv, x, param("conv2.weight", 3, 8, 3, 3))
	g.Outputs = []graph.ValueInfo{{Name: x}}
	graph.LabelAxes(g)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "seg.onnx"), filepath.Join(dir, "slim.onnx")
	if err := onnx.Save(in, g); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := shears(t, "prune", in, "--criterion", "apoz", "--ratio", "0.5", "--finetune-epochs", "0", "--data", "mnist",
		"--limit", "64", "--out", out, "--latency-runs", "0", "--quiet")
	if code != 0 || !strings.Contains(stderr, "calibration data only") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if s, err := onnx.Load(out); err != nil || s.Param("conv1.weight").Value.Shape[0] != 4 {
		t.Fatalf("slimmed model: %v", err)
	}
	for _, args := range [][]string{
		{"--criterion", "taylor", "--finetune-epochs", "0"},
		{"--criterion", "apoz", "--finetune-epochs", "1"},
	} {
		_, stderr, code := shears(t, append([]string{"prune", in, "--ratio", "0.5", "--data", "mnist", "--limit", "64", "--out", out, "--quiet"}, args...)...)
		if code == 0 || !strings.Contains(stderr, `model output "conv2"`) {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
}

// The lottery schedule reports every training with its test accuracy per
// epoch, and plots dense, ticket and control.
func TestPruneLottery(t *testing.T) {
	dir := t.TempDir()
	plot := filepath.Join(dir, "ticket.png")
	out, stderr, code := shears(t, "prune", "lenet300", "--criterion", "l1", "--granularity", "weight", "--ratio", "0.5",
		"--global", "--schedule", "lottery", "--rounds", "2", "--reinit-control", "--data", "mnist", "--limit", "600",
		"--finetune-epochs", "2", "--finetune-recipe", "dense-mnist", "--latency-runs", "0", "--out", filepath.Join(dir, "t.onnx"),
		"--plot", plot, "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	runs, _ := lastJSON(t, out)["lottery"].([]any)
	var names []string
	for _, r := range runs {
		m := r.(map[string]any)
		acc, _ := m["epoch_accuracy"].([]any)
		names = append(names, fmt.Sprintf("%v/%d", m["name"], len(acc)))
	}
	if got := strings.Join(names, " "); got != "dense/2 round 2/2 control/2 ticket/2" {
		t.Errorf("lottery runs %q", got)
	}
	if b, err := os.ReadFile(plot); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("plot: %v", err)
	}
	// A plot needs the lottery schedule.
	_, stderr, code = shears(t, "prune", "lenet300", "--ratio", "0.5", "--granularity", "weight", "--plot", plot,
		"--finetune-epochs", "0", "--out", filepath.Join(dir, "x.onnx"))
	if code == 0 || !strings.Contains(stderr, "only the lottery schedule draws a plot") {
		t.Errorf("plot without lottery: exit %d, %s", code, stderr)
	}
}

// Settings whose pruning step removes no channel used to crash with a nil
// pointer dereference; they write the model unchanged, with a note. AGP's
// first steps on filters remove nothing too.
func TestPruneRemovesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "p.onnx")
	for _, extra := range [][]string{
		{"--ratio", "0"},
		{"--ratio", "0.5", "--layer-ratio", ".*=0"},
		{"--ratio", "0.5", "--round-to", "1000000"},
	} {
		args := append([]string{"prune", "lenet5", "--granularity", "filter", "--finetune-epochs", "0", "--latency-runs", "0", "--out", out, "--quiet"}, extra...)
		_, stderr, code := shears(t, args...)
		if code != 0 || !strings.Contains(stderr, "note: the settings remove no channel: the model is written unchanged") {
			t.Errorf("%v: exit %d, stderr:\n%s", extra, code, stderr)
		}
		g, err := onnx.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if _, total, _ := graph.Stats(g); total.Params != 431080 {
			t.Errorf("%v: %d params, want lenet5's 431080", extra, total.Params)
		}
	}
	_, stderr, code := shears(t, "prune", "lenet5", "--granularity", "filter", "--schedule", "agp", "--ratio", "0.5", "--rounds", "4",
		"--data", "mnist", "--limit", "200", "--finetune-epochs", "1", "--latency-runs", "0", "--out", out, "--quiet")
	if code != 0 {
		t.Errorf("agp on filters: exit %d, stderr:\n%s", code, stderr)
	}
}
