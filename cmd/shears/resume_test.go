package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cancelWriter is a stderr that cancels a context at the first line
// starting with at after a line starting with after (armed from the
// start when after is empty).
type cancelWriter struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	after, at string
	armed     bool
	cancel    context.CancelFunc
	pending   []byte
}

func (w *cancelWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	w.pending = append(w.pending, b...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		line := string(w.pending[:i])
		w.pending = w.pending[i+1:]
		if !w.armed && strings.HasPrefix(line, w.after) {
			w.armed = true
			continue
		}
		if w.armed && strings.HasPrefix(line, w.at) {
			w.cancel()
		}
	}
	return len(b), nil
}

// shearsCancelled runs a command line in-process and cancels it at the
// first stderr line starting with at after one starting with after.
func shearsCancelled(t *testing.T, after, at string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelWriter{after: after, at: at, armed: after == "", cancel: cancel}
	var out bytes.Buffer
	code = run(ctx, args, &out, w)
	return out.String(), w.buf.String(), code
}

// comparableJSON is a run's JSON report without what differs between
// runs of the same work: timings, speeds, provenance and how it was run.
func comparableJSON(t *testing.T, stdout string) string {
	t.Helper()
	m := lastJSON(t, stdout)
	for _, k := range []string{"seconds", "provenance", "images_per_second", "resumed"} {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameFiles fails unless the two files hold the same bytes.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ: the resumed run did not end as the uninterrupted one", a, b)
	}
}

// interruptResume runs args to completion writing the files outs (the
// first is --out), keeps them, runs args again cancelled as after and at
// say, checks the message, resumes with resume (which names the
// checkpoint), and compares the files byte for byte and the JSON
// reports.
func interruptResume(t *testing.T, outs []string, after, at string, args, resume []string) {
	t.Helper()
	out := outs[0]
	stdout, stderr, code := shears(t, args...)
	if code != 0 {
		t.Fatalf("uninterrupted: exit %d: %s", code, stderr)
	}
	whole := comparableJSON(t, stdout)
	for _, o := range outs {
		if err := os.Rename(o, o+".whole"); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, code = shearsCancelled(t, after, at, args...)
	ckpt := out + ".ckpt"
	if code != 130 || !strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "--resume "+ckpt) {
		t.Fatalf("interrupted: exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatalf("the interrupted run wrote %s", out)
	}
	stdout, stderr, code = shears(t, resume...)
	if code != 0 {
		t.Fatalf("resumed: exit %d: %s", code, stderr)
	}
	for _, o := range outs {
		sameFiles(t, o+".whole", o)
	}
	if got := comparableJSON(t, stdout); got != whole {
		t.Errorf("JSON reports differ:\nuninterrupted %s\nresumed       %s", whole, got)
	}
	if _, err := os.Stat(ckpt); err == nil {
		t.Errorf("the checkpoint is left after the resumed run finished")
	}
}

// An iterative prune interrupted inside a round's fine-tuning and resumed
// from its checkpoint alone ends with the uninterrupted run's model file
// and report, as does one interrupted between rounds.
func TestPruneInterruptResume(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes lenet5 six times per case")
	}
	for _, tc := range []struct{ name, after, at string }{
		{"inside round 2's fine-tuning", "round 1/3", "epoch 1/2"},
		{"after round 2", "", "round 2/3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p.onnx")
			args := []string{"prune", "lenet5", "--schedule", "iterative", "--rounds", "3", "--ratio", "0.5", "--data", "mnist", "--limit", "384",
				"--finetune-epochs", "2", "--batch", "64", "--latency-runs", "0", "--threads", "2", "--json", "--out", out, "--masked-out", out + ".masked"}
			interruptResume(t, []string{out, out + ".masked"}, tc.after, tc.at, args, []string{"prune", "--resume", out + ".ckpt", "--quiet"})
		})
	}
}

// A training run interrupted in its second epoch resumes to the same
// model file and report.
func TestTrainInterruptResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains lenet5 twice")
	}
	out := filepath.Join(t.TempDir(), "t.onnx")
	args := []string{"train", "--model", "lenet5", "--data", "mnist", "--limit", "512", "--epochs", "3", "--batch", "32", "--threads", "2", "--json", "--out", out}
	interruptResume(t, []string{out}, "", "epoch 1/3", args, []string{"train", "--resume", out + ".ckpt", "--out", out, "--threads", "2", "--json", "--quiet"})
}
