package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shearsml/shears/onnx"
)

// prune and export with --sparse-initializers write a 98%-sparse lenet300
// at least 15× smaller than dense, with the same weights on reload.
func TestSparseInitializersFlag(t *testing.T) {
	dir := t.TempDir()
	dense, sparse := filepath.Join(dir, "dense.onnx"), filepath.Join(dir, "sparse.onnx")
	args := []string{"prune", "lenet300", "--criterion", "l1", "--granularity", "weight", "--global", "--ratio", "0.98",
		"--finetune-epochs", "0", "--latency-runs", "0", "--quiet"}
	if _, stderr, code := shears(t, append(args, "--out", dense)...); code != 0 {
		t.Fatalf("prune: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := shears(t, append(args, "--out", sparse, "--sparse-initializers")...); code != 0 {
		t.Fatalf("prune --sparse-initializers: exit %d\n%s", code, stderr)
	}
	ds, _ := os.Stat(dense)
	ss, _ := os.Stat(sparse)
	if ratio := float64(ds.Size()) / float64(ss.Size()); ratio < 15 {
		t.Errorf("dense %d bytes, sparse %d: %.1f× smaller, want ≥ 15×", ds.Size(), ss.Size(), ratio)
	}
	a, err := onnx.Load(dense)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Load(sparse)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Params {
		if q := b.Param(p.Name); q == nil || !slices.Equal(p.Value.Data, q.Value.Data) {
			t.Fatalf("param %q differs in the sparse file", p.Name)
		}
	}
	again := filepath.Join(dir, "again.onnx")
	if _, stderr, code := shears(t, "export", sparse, "--sparse-initializers", "--out", again); code != 0 {
		t.Fatalf("export --sparse-initializers: exit %d\n%s", code, stderr)
	}
	if as, _ := os.Stat(again); as.Size() != ss.Size() {
		t.Errorf("export of the sparse file: %d bytes, want %d", as.Size(), ss.Size())
	}
}
