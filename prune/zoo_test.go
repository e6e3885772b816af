package prune

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/zoo"
)

// TestZooMaskedEqualsSlimmed prunes 30% of every group of every zoo model
// (random channels) both ways, masked and slimmed, and checks that they
// compute the same thing, that the slimmed model is smaller and that it
// reloads from ONNX as it is.
func TestZooMaskedEqualsSlimmed(t *testing.T) {
	wantGroups := map[string]int{"lenet300": 2, "lenet5": 3, "vgg-s": 7, "resnet20": 12, "mobilenetv2-s": 12}
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			m, _ := zoo.Get(name)
			r := rand.New(rand.NewPCG(7, uint64(len(name))))
			orig := m.Build(3)
			randomizeBN(orig, r)
			d, err := Analyze(orig)
			if err != nil {
				t.Fatal(err)
			}
			checkCovered(t, orig, d)
			if n := len(d.Groups()); n != wantGroups[name] {
				t.Errorf("%d groups, want %d", n, wantGroups[name])
			}
			keep := randomKeep(d, r)
			xs := randInput(orig, 3, r)
			dense := run(t, orig, xs)

			masked := orig.Clone()
			if _, err := MaskGroups(masked, keep); err == nil {
				t.Fatal("MaskGroups accepted groups of another graph")
			}
			slim := orig.Clone()
			if err := PruneGroups(slim, keep); err == nil {
				t.Fatal("PruneGroups accepted groups of another graph")
			}
			// Groups belong to the graph they were analysed on: mask and
			// prune copies through their own analyses, keeping the same
			// channels (groups come out in the same order).
			dm, _ := Analyze(masked)
			ds, _ := Analyze(slim)
			remap := func(d2 *DepGraph) map[*Group][]int {
				k2 := map[*Group][]int{}
				for i, g := range d.Groups() {
					k2[d2.Groups()[i]] = keep[g]
				}
				return k2
			}
			if _, err := MaskGroups(masked, remap(dm)); err != nil {
				t.Fatal(err)
			}
			if err := PruneGroups(slim, remap(ds)); err != nil {
				t.Fatal(err)
			}
			ym, ys := run(t, masked, xs), run(t, slim, xs)
			sameOutputs(t, "slimmed vs masked", ym, ys, 1e-4)
			if relErr(dense[0], ym[0]) < 1e-3 {
				t.Errorf("masking 30%% of every group barely changed the output (%.3g): the test cannot tell", relErr(dense[0], ym[0]))
			}

			_, tb, err := graph.Stats(orig)
			if err != nil {
				t.Fatal(err)
			}
			_, ts, err := graph.Stats(slim)
			if err != nil {
				t.Fatal(err)
			}
			if !(ts.Params < tb.Params && ts.MACs < tb.MACs) {
				t.Errorf("slimmed params %d MACs %d, dense %d and %d", ts.Params, ts.MACs, tb.Params, tb.MACs)
			}
			_, tm, _ := graph.Stats(masked)
			if tm.Params != tb.Params || tm.Nonzero >= tb.Nonzero {
				t.Errorf("masked model: params %d nonzero %d, dense %d and %d", tm.Params, tm.Nonzero, tb.Params, tb.Nonzero)
			}

			path := filepath.Join(t.TempDir(), name+".onnx")
			if err := onnx.Save(path, slim); err != nil {
				t.Fatal(err)
			}
			back, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			sameOutputs(t, "reloaded vs slimmed", ys, run(t, back, xs), 0)
			for _, line := range Summary(orig, slim) {
				t.Log(line)
			}
		})
	}
}
