package prune

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/testmodels"
	"github.com/shearsml/shears/onnx"
)

// slimReport is where TestTorchvisionMaskedEqualsSlimmed writes a Markdown
// table:
//
//	go test -run TestTorchvisionMaskedEqualsSlimmed ./prune/ -args -slimreport slim.md
var slimReport = flag.String("slimreport", "", "TestTorchvisionMaskedEqualsSlimmed: write a Markdown table of the models to this file")

// TestTorchvisionMaskedEqualsSlimmed does on real architectures what
// TestZooMaskedEqualsSlimmed does on the zoo: torchvision models exported
// by scripts/export_torchvision.py (BatchNorm folded, and kept) lose 30% of
// the channels of every prunable group (random channels), masked and
// slimmed; both must compute the same outputs, and the slimmed model must
// be smaller and reload from ONNX as it is. Channels the analysis cannot
// prune are logged with the reason and counted in the report.
func TestTorchvisionMaskedEqualsSlimmed(t *testing.T) {
	if testing.Short() {
		t.Skip("pruning every torchvision and hand-built export takes minutes: -short")
	}
	files, dirs := testmodels.Torchvision("..")
	if len(files) == 0 {
		t.Skipf("skipping: no models in %s; export them with /usr/bin/python3 scripts/export_torchvision.py", dirs)
	}
	sort.Strings(files)
	var report []string
	defer func() {
		if *slimReport != "" && len(report) > 0 {
			head := "| model | groups pruned | channels refused | params dense → slim | MACs dense → slim | max rel. diff slim vs masked |\n| --- | ---: | ---: | --- | --- | ---: |\n"
			if err := os.WriteFile(*slimReport, []byte(head+strings.Join(report, "")), 0o644); err != nil {
				t.Error(err)
			}
		}
	}()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		t.Run(name, func(t *testing.T) {
			if testmodels.SkipSlow(name) {
				t.Skip("530 MB; SHEARS_TORCHVISION=all runs it (vgg11_bn covers the architecture)")
			}
			orig, err := onnx.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Analyze(orig)
			if err != nil {
				t.Fatal(err)
			}
			checkCovered(t, orig, d)
			if len(d.Groups()) == 0 {
				t.Fatal("no prunable group")
			}
			refused := 0
			for _, why := range d.Unprunable() {
				refused += why.Channels
				t.Log("refused: ", why)
			}
			r := rand.New(rand.NewPCG(11, uint64(len(name))))
			keep := randomKeep(d, r)
			res := maskAndSlim(t, orig, d, keep, randInput(orig, 1, r))
			tb, ts := res.dense, res.small
			report = append(report, fmt.Sprintf("| %s | %d | %d | %s → %s | %s → %s | %.1e |\n", name, len(d.Groups()), refused,
				siCount(tb.Params), siCount(ts.Params), siCount(tb.MACs), siCount(ts.MACs), res.diff))
		})
	}
}

// siCount writes n with three significant digits and a k/M/G suffix.
func siCount(n int) string {
	v := float64(n)
	for _, u := range []struct {
		s string
		f float64
	}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if v >= u.f {
			return fmt.Sprintf("%.3g %s", v/u.f, u.s)
		}
	}
	return fmt.Sprint(n)
}
