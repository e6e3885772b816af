package prune

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
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
			if _, err := MaskGroups(orig.Clone(), keep); err == nil {
				t.Fatal("MaskGroups accepted groups of another graph")
			}
			if err := PruneGroups(orig.Clone(), keep); err == nil {
				t.Fatal("PruneGroups accepted groups of another graph")
			}
			res := maskAndSlim(t, orig, d, keep, xs)
			_, tm, _ := graph.Stats(res.masked)
			if tm.Params != res.dense.Params || tm.Nonzero >= res.dense.Nonzero {
				t.Errorf("masked model: params %d nonzero %d, dense %d and %d", tm.Params, tm.Nonzero, res.dense.Params, res.dense.Nonzero)
			}
			for _, line := range Summary(orig, res.slim) {
				t.Log(line)
			}
		})
	}
}
