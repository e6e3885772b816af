package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/zoo"
)

// shears runs a command line in-process and returns stdout, stderr and
// the exit status.
func shears(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var so, se strings.Builder
	code := run(context.Background(), args, &so, &se)
	return so.String(), se.String(), code
}

var (
	buildOnce sync.Once
	bin       string
	buildErr  error
)

// buildBinary builds the command once, for the tests that need a real process
// (signals, exit statuses as the shell sees them).
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shears-cli")
		if err != nil {
			buildErr = err
			return
		}
		bin = filepath.Join(dir, "shears")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin != "" {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// wantError checks for a non-zero exit with a one-line message that
// contains every fragment and no panic trace.
func wantError(t *testing.T, fragments []string, args ...string) {
	t.Helper()
	_, stderr, code := shears(t, args...)
	if code == 0 {
		t.Fatalf("shears %v: exit 0, want an error", args)
	}
	msg := strings.TrimSpace(stderr)
	if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
		t.Fatalf("shears %v: panic trace:\n%s", args, stderr)
	}
	if lines := strings.Split(msg, "\n"); len(lines) != 1 {
		t.Errorf("shears %v: want one line of error, have:\n%s", args, msg)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("shears %v: error %q lacks %q", args, msg, f)
		}
	}
}

func lastJSON(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	return m
}

func TestInfoJSON(t *testing.T) {
	out, _, code := shears(t, "info", "resnet20", "--json")
	m := lastJSON(t, out)
	if code != 0 || m["params"].(float64) != 272186 || m["macs"].(float64) != 31021952 {
		t.Fatalf("exit %d, %v", code, m)
	}
}

func TestInfoGroups(t *testing.T) {
	out, _, code := shears(t, "info", "resnet20", "--groups", "--json")
	m := lastJSON(t, out)
	groups, _ := m["groups"].([]any)
	refused, _ := m["unprunable"].([]any)
	if code != 0 || len(groups) != 12 || len(refused) != 2 {
		t.Fatalf("exit %d, %d groups, %d refused", code, len(groups), len(refused))
	}
	if !strings.Contains(out, "layer1.0.conv1: 16 channels: layer1.0.conv1.weight[out 0:16] → layer1.0.bn1.") ||
		!strings.Contains(out, `graph input "input": its channels cannot change`) {
		t.Errorf("group details missing:\n%s", out)
	}
}

func TestTrainEvalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	out, _, code := shears(t, "train", "--model", "lenet300", "--data", "mnist", "--limit", "2000", "--epochs", "1",
		"--threads", "2", "--out", model, "--json", "--quiet")
	m := lastJSON(t, out)
	if code != 0 || m["test_accuracy"].(float64) < 0.7 || m["images_per_second"].(float64) <= 0 || m["seconds"] == nil {
		t.Fatalf("train: exit %d, %v", code, m)
	}
	out, _, code = shears(t, "eval", model, "--data", "mnist", "--json", "--quiet")
	e := lastJSON(t, out)
	if code != 0 || e["test_accuracy"] != m["test_accuracy"] {
		t.Fatalf("eval: exit %d, accuracy %v, train said %v", code, e["test_accuracy"], m["test_accuracy"])
	}
	if _, err := os.Stat(model + ".ckpt"); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a finished run: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	wantError(t, []string{"unknown model", "resnet21"}, "train", "--model", "resnet21", "--data", "mnist", "--out", out)
	wantError(t, []string{"fashion-mnist", "/nonexistent"}, "train", "--model", "vgg-s", "--data", "fashion-mnist", "--data-dir", "/nonexistent", "--out", out)
	wantError(t, []string{"unknown", "cifar"}, "train", "--model", "lenet5", "--data", "cifar", "--out", out)

	// A corrupt IDX file is named in the error.
	idx := filepath.Join(dir, "idx")
	os.MkdirAll(idx, 0o755)
	for _, f := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		os.WriteFile(filepath.Join(idx, f), []byte("not an idx file at all"), 0o644)
	}
	wantError(t, []string{"train-images-idx3-ubyte"}, "train", "--model", "lenet5", "--data", "mnist", "--data-dir", idx, "--out", out)

	// A truncated model file.
	good := filepath.Join(dir, "good.onnx")
	if err := onnx.Save(good, zoo.LeNet5(1)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "trunc.onnx")
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	wantError(t, []string{"trunc.onnx"}, "eval", trunc, "--data", "mnist")
	wantError(t, []string{"nosuch.onnx"}, "info", filepath.Join(dir, "nosuch.onnx"))

	// A model whose shapes are inconsistent: fc1 expects 800 inputs, give it 799.
	bad := filepath.Join(dir, "badshape.onnx")
	os.WriteFile(bad, shrinkInitializer(t, b, "fc1.weight", 500, 799), 0o644)
	wantError(t, []string{"fc1", "799"}, "info", bad)
	wantError(t, []string{"fc1", "799"}, "eval", bad, "--data", "mnist")

	// A truncated checkpoint.
	ck := filepath.Join(dir, "run.ckpt")
	os.WriteFile(ck, []byte("SHRSCKPT\x01\x00\x00\x00"), 0o644)
	wantError(t, []string{"run.ckpt", "truncated"}, "train", "--resume", ck, "--data", "mnist", "--out", out)

	// NaN loss: a clear message, no model written.
	wantError(t, []string{"NaN"}, "train", "--model", "lenet5", "--data", "mnist", "--limit", "1000", "--lr", "1000", "--out", out, "--quiet")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a model was written after a NaN loss")
	}

	wantError(t, []string{"--out"}, "train", "--model", "lenet5")
	wantError(t, []string{"unknown command"}, "trian")
}

// shrinkInitializer rewrites one initializer of an encoded model to the
// given dims (zero data), producing a file whose shapes disagree: the
// encoder itself refuses such graphs, so the test edits the protobuf.
func shrinkInitializer(t *testing.T, model []byte, name string, dims ...int64) []byte {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		t.Fatal(err)
	}
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	found := false
	for _, init := range m.GetGraph().GetInitializer() {
		if init.GetName() == name {
			init.Dims = dims
			init.RawData = make([]byte, 4*n)
			init.FloatData = nil
			found = true
		}
	}
	if !found {
		t.Fatalf("no initializer %s", name)
	}
	b, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each command's -h starts with a usage line and two examples, goes to
// stdout with exit status 0, says each default at most once, and prune's
// groups its flags.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		out, stderr, code := shears(t, c.name, "-h")
		if code != 0 || stderr != "" {
			t.Errorf("%s -h: exit %d, stderr %q", c.name, code, stderr)
		}
		lines := strings.Split(out, "\n")
		if !strings.HasPrefix(lines[0], "usage: shears "+c.name+" ") {
			t.Errorf("%s -h starts %q", c.name, lines[0])
		}
		ex := strings.Index(out, "\nexamples:\n")
		if ex < 0 {
			t.Errorf("%s -h has no examples", c.name)
			continue
		}
		examples := strings.Split(out[ex+len("\nexamples:\n"):], "\n")
		if len(examples) < 2 || !strings.HasPrefix(examples[0], "  shears "+c.name) || !strings.HasPrefix(examples[1], "  shears "+c.name) {
			t.Errorf("%s -h: want two examples, have %q", c.name, examples[:min(2, len(examples))])
		}
		for _, l := range lines {
			if strings.Count(l, "default") > 1 {
				t.Errorf("%s -h says a default twice: %q", c.name, l)
			}
		}
	}
	out, _, _ := shears(t, "prune", "-h")
	last := -1
	for _, g := range []string{"\nmethod:\n", "\ntarget:\n", "\nschedule:\n", "\nrecovery:\n", "\ndata and machine:\n", "\noutputs:\n"} {
		i := strings.Index(out, g)
		if i < last {
			t.Errorf("prune -h: group %q missing or out of order", strings.TrimSpace(g))
		}
		last = i
	}
	if strings.Contains(out, "other flags:") {
		t.Errorf("prune -h has flags outside the groups")
	}
}

// Flags that have no effect are warnings, the work still done; a batch
// larger than the data set is capped by it, with a note.
func TestNoEffectWarnings(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := shears(t, "prune", "lenet5", "--ratio", "0.5", "--max-layer-ratio", "0.5", "--finetune-epochs", "0",
		"--latency-runs", "0", "--out", filepath.Join(dir, "p.onnx"), "--quiet")
	if code != 0 || !strings.Contains(stderr, "warning: --max-layer-ratio has no effect without --global") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	out, stderr, code := shears(t, "eval", "lenet5", "--limit", "50", "--batch", "1000000000", "--json", "--quiet")
	if code != 0 || !strings.Contains(stderr, "note: --batch 1000000000 is larger than the 50 images: batches of 50") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if m := lastJSON(t, out); m["test_images"].(float64) != 50 || m["version"].(float64) != 1 || m["provenance"] == nil {
		t.Errorf("eval JSON %v", m)
	}
	_, stderr, code = shears(t, "run", "lenet5", "--input", filepath.Join(dir, "nosuch.npy"), "--batch", "4")
	if code == 0 || !strings.Contains(stderr, "warning: --batch has no effect without --random-input") {
		t.Errorf("run --batch with --input: exit %d, stderr:\n%s", code, stderr)
	}
}
