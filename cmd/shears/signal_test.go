package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shearsml/shears/onnx"
)

// started starts the binary and returns it with a reader of its stderr
// lines.
func started(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stderr), &out
}

// terminate sends SIGTERM and returns the exit status, the rest of
// stderr, and how long the process took to stop.
func terminate(t *testing.T, cmd *exec.Cmd, sc *bufio.Scanner) (int, string, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	err := cmd.Wait()
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, rest.String(), took
}

// A training run stopped by SIGTERM ends within a couple of seconds with
// status 130, writes its checkpoint and says how to resume; resumed with
// --resume alone, it ends with the weights of an uninterrupted run, bit
// for bit.
func TestTrainSIGTERMResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains lenet5 three times")
	}
	dir := t.TempDir()
	args := []string{"train", "--model", "lenet5", "--data", "mnist", "--limit", "3000", "--epochs", "3", "--batch", "32", "--threads", "2"}
	whole := filepath.Join(dir, "whole.onnx")
	if _, stderr, code := shears(t, append(args, "--out", whole, "--quiet")...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, stderr)
	}

	out := filepath.Join(dir, "cut.onnx")
	cmd, sc, _ := started(t, append(args, "--out", out)...)
	for sc.Scan() { // one epoch done: the second is under way
		if strings.HasPrefix(sc.Text(), "epoch 1/3") {
			break
		}
	}
	code, rest, took := terminate(t, cmd, sc)
	ckpt := out + ".ckpt"
	if code != 130 || !strings.Contains(rest, "training interrupted") || !strings.Contains(rest, "shears train --resume "+ckpt+" --out "+out) {
		t.Fatalf("after SIGTERM: exit %d in %v, stderr:\n%s", code, took, rest)
	}
	if took > 3*time.Second {
		t.Errorf("training took %v to stop after SIGTERM", took)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("an interrupted run wrote its model")
	}
	if _, stderr, code := shears(t, "train", "--resume", ckpt, "--out", out, "--threads", "2", "--quiet"); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	a, err := onnx.Load(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Params {
		if q := b.Param(p.Name); q == nil || !slices.Equal(p.Value.Data, q.Value.Data) {
			t.Errorf("param %s differs between the uninterrupted and the resumed run", p.Name)
		}
	}
	if _, err := os.Stat(ckpt); err == nil {
		t.Errorf("the checkpoint is left after the resumed run finished")
	}
}

// An iterative prune stopped by SIGTERM inside a round's fine-tuning ends
// within a couple of seconds with status 130 and says how to resume;
// resumed with --resume alone, it writes the uninterrupted run's model
// file, byte for byte, and the same report.
func TestPruneSIGTERMResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes lenet5 six times")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "p.onnx")
	args := []string{"prune", "lenet5", "--schedule", "iterative", "--rounds", "3", "--ratio", "0.5", "--data", "mnist", "--limit", "384",
		"--finetune-epochs", "2", "--batch", "64", "--latency-runs", "0", "--threads", "2", "--json", "--out", out}
	stdout, stderr, code := shears(t, append(args, "--quiet")...)
	if code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, stderr)
	}
	whole := comparableJSON(t, stdout)
	if err := os.Rename(out, out+".whole"); err != nil {
		t.Fatal(err)
	}
	cmd, sc, _ := started(t, args...)
	armed := false
	for sc.Scan() { // round 1 done, round 2's first epoch too: inside its fine-tuning
		if strings.HasPrefix(sc.Text(), "round 1/3") {
			armed = true
		} else if armed && strings.HasPrefix(sc.Text(), "epoch 1/2") {
			break
		}
	}
	code, rest, took := terminate(t, cmd, sc)
	ckpt := out + ".ckpt"
	if code != 130 || !strings.Contains(rest, "interrupted") || !strings.Contains(rest, "checkpoint written to "+ckpt+": continue with shears prune --resume "+ckpt) {
		t.Fatalf("after SIGTERM: exit %d in %v, stderr:\n%s", code, took, rest)
	}
	if took > 3*time.Second {
		t.Errorf("pruning took %v to stop after SIGTERM", took)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("an interrupted run wrote its model")
	}
	stdout, stderr, code = shears(t, "prune", "--resume", ckpt, "--quiet")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	sameFiles(t, out+".whole", out)
	if got := comparableJSON(t, stdout); got != whole {
		t.Errorf("JSON reports differ:\nuninterrupted %s\nresumed       %s", whole, got)
	}
	if _, err := os.Stat(ckpt); err == nil {
		t.Errorf("the checkpoint is left after the resumed run finished")
	}
}

// SIGTERM during prune's latency timing ends the run within a couple of
// seconds with status 130 and writes no output: a run without training
// says that nothing was written, one with fine-tuning that its checkpoint
// (after the fine-tuning) resumes it.
func TestPruneTimingSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		name, ready string
		extra       []string
		says        string
	}{
		{"one-shot", "pruning lenet5", nil, "latency timing interrupted"},
		{"fine-tuned", "epoch 1/1", []string{"--data", "mnist", "--limit", "64", "--finetune-epochs", "1", "--batch", "64"}, "checkpoint written to "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p.onnx")
			args := append([]string{"prune", "lenet5", "--ratio", "0.5", "--finetune-epochs", "0", "--latency-runs", "100000000", "--out", out}, tc.extra...)
			cmd, sc, _ := started(t, args...)
			for sc.Scan() && !strings.HasPrefix(sc.Text(), tc.ready) {
			}
			time.Sleep(time.Second) // into the timing
			code, rest, took := terminate(t, cmd, sc)
			if code != 130 || took > 2*time.Second || !strings.Contains(rest, "latency timing interrupted") || !strings.Contains(rest, tc.says) {
				t.Fatalf("exit %d after %v, stderr:\n%s", code, took, rest)
			}
			if tc.extra == nil && !strings.Contains(rest, "nothing of it was written") {
				t.Errorf("the message does not say that nothing was written:\n%s", rest)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("the interrupted run wrote %s", out)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// Timing runs, evaluation and pruning's fine-tuning stop on SIGTERM too.
func TestRunEvalSIGTERM(t *testing.T) {
	for _, args := range [][]string{
		{"run", "lenet5", "--random-input", "--batch", "8", "--repeat", "100000000"},
		{"eval", "lenet5", "--batch", "1", "--threads", "1"},
		{"prune", "lenet5", "--ratio", "0.5", "--data", "mnist", "--finetune-epochs", "50", "--latency-runs", "0", "--out", filepath.Join(t.TempDir(), "p.onnx")},
	} {
		cmd, sc, _ := started(t, args...)
		time.Sleep(time.Second)
		code, rest, took := terminate(t, cmd, sc)
		if code != 130 || took > 2*time.Second || !strings.Contains(rest, "interrupted") {
			t.Errorf("%v: exit %d after %v, stderr:\n%s", args, code, took, rest)
		}
	}
}
