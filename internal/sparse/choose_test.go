package sparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shearsml/shears/internal/testutil"
)

// quick keeps Choose's timing short in tests.
var quick = Options{Warm: 1, Rounds: 3, Threads: 1, MinRunTime: 20 * time.Microsecond}

func TestChooseKeepsDenseForDenseWeight(t *testing.T) {
	r := testutil.NewRand(15, 10)
	w := testutil.NormalFloats(r, 64*256) // no zeros
	plan, k, err := Choose(LinearShape(64, 256, 1), w, quick)
	if err != nil {
		t.Fatal(err)
	}
	// Every sparse format either stores everything (skipped) or has to
	// gather: none can beat the dense product by 5% on a dense weight,
	// except by timing noise, which MinSpeedup absorbs.
	for _, tm := range plan.Timings {
		if tm.Format != FormatDense && tm.Format.Kind != NM && tm.Skipped == "" {
			t.Errorf("%v was timed on a dense weight (stores %d of %d)", tm.Format, tm.Stored, len(w))
		}
		if tm.Format.Kind == NM && !strings.Contains(tm.Skipped, "nonzeros in a group") {
			t.Errorf("%v on a dense weight: skipped %q, want the pattern error", tm.Format, tm.Skipped)
		}
	}
	if plan.Format != FormatDense || k.Format() != FormatDense {
		t.Errorf("dense weight: chose %v (%s)", plan.Format, plan.Reason())
	}
}

func TestChoosePicksSparseAt98Percent(t *testing.T) {
	w := prunedWeight(256, 1024, 0.98, 0, 0)
	plan, k, err := Choose(LinearShape(256, 1024, 1), w, quick)
	if err != nil {
		t.Fatal(err)
	}
	// 2% of the weights: the dense product does 50× the multiply-adds.
	if plan.Format.Kind == Dense || plan.Speedup < 1.05 {
		t.Errorf("98%% sparse: chose %v (%s)", plan.Format, plan.Reason())
	}
	if k.Format() != plan.Format {
		t.Errorf("kernel %v, plan %v", k.Format(), plan.Format)
	}
	if !strings.Contains(plan.Reason(), "dense") {
		t.Errorf("reason %q does not mention the dense timing", plan.Reason())
	}
}

func TestCacheRoundTrip(t *testing.T) {
	w := prunedWeight(64, 128, 0.9, 0, 0)
	shape := LinearShape(64, 128, 2)
	c := NewCache()
	plan, _, err := c.Choose(shape, w, quick)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Changed() {
		t.Error("a new plan does not mark the cache changed")
	}
	path := filepath.Join(t.TempDir(), "model.kernels.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	// A hit builds the cached format without timing: the plan comes back
	// unchanged, measurement time included.
	again, k, err := loaded.Choose(shape, w, quick)
	if err != nil {
		t.Fatal(err)
	}
	if again.Measured != plan.Measured || again.Format != plan.Format || k.Format() != plan.Format || loaded.Changed() {
		t.Errorf("cached plan %+v, first %+v (changed %v)", again, plan, loaded.Changed())
	}
	// Another pattern, another thread count: other keys.
	w2 := append([]float32(nil), w...)
	for i := range w2 {
		if w2[i] == 0 {
			w2[i] = 1
			break
		}
	}
	if Key(shape, w, 1) == Key(shape, w2, 1) || Key(shape, w, 1) == Key(shape, w, 2) {
		t.Error("keys ignore the pattern or the threads")
	}
	scaled := append([]float32(nil), w...)
	for i := range scaled {
		scaled[i] *= 3
	}
	if Key(shape, w, 1) != Key(shape, scaled, 1) {
		t.Error("the key depends on the values, not only the pattern")
	}
	if len(loaded.Plans()) != 1 {
		t.Errorf("%d plans after one node", len(loaded.Plans()))
	}
}

func TestLoadCacheErrors(t *testing.T) {
	dir := t.TempDir()
	if c, err := LoadCache(filepath.Join(dir, "missing.json")); err != nil || len(c.Plans()) != 0 {
		t.Errorf("missing file: %v, %v", c, err)
	}
	for name, text := range map[string]string{
		"garbage":     "not json",
		"version":     `{"version": 99, "plans": {}}`,
		"bad format":  `{"version": 1, "plans": {"k": {"format": "bsr0x3"}}}`,
		"unknown fmt": `{"version": 1, "plans": {"k": {"format": "ell"}}}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCache(path); err == nil || !strings.Contains(err.Error(), "kernel cache") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestChooseConv(t *testing.T) {
	s := ConvShape{C: 16, H: 14, W: 14, O: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	w := prunedWeight(32, 16*9, 0.95, 0, 0)
	plan, _, err := Choose(ConvNodeShape(s, 1), w, quick)
	if err != nil {
		t.Fatal(err)
	}
	// Every matrix format runs against the im2col matrix, and the direct
	// convolution is a candidate too.
	timed := map[Format]bool{}
	for _, tm := range plan.Timings {
		timed[tm.Format] = true
	}
	for _, f := range append([]Format{FormatDense, FormatDirect}, DefaultFormats...) {
		if !timed[f] {
			t.Errorf("conv candidates %v lack %v", plan.Timings, f)
		}
	}
	lin, _, err := Choose(LinearShape(32, 144, 1), w, quick)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range lin.Timings {
		if tm.Format == FormatDirect {
			t.Errorf("a linear node timed the direct convolution")
		}
	}
}
