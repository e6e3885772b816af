//go:build cgo

package prune

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
)

// TestShapeModelsORT runs each model of shapeModels in ONNX Runtime, as
// exported and after slimming 30% of every group: shears' outputs must
// match ORT's (1e-4 relative), so that the import's rewrites (folded shape
// subgraphs, fills made Pads) and surgery's shape edits are what ONNX
// means, not only what shears computes.
func TestShapeModelsORT(t *testing.T) {
	if err := ortref.Init(); err != nil {
		if errors.Is(err, ortref.ErrNoLibrary) {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
	for _, m := range shapeModels {
		for _, suffix := range []string{"", "_static"} {
			name := m.name + suffix
			t.Run(name, func(t *testing.T) {
				path := filepath.Join("testdata", "shapes", name+".onnx")
				g, err := onnx.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(5, uint64(len(name))))
				xs := randInput(g, 1, r)
				s, err := ortref.OpenFile(path, ortref.Options{Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				matchORTOutputs(t, "as exported", s, xs, run(t, g, xs))
				d, err := Analyze(g)
				if err != nil {
					t.Fatal(err)
				}
				if err := PruneGroups(g, randomKeep(d, r)); err != nil {
					t.Fatal(err)
				}
				b, err := onnx.Encode(g)
				if err != nil {
					t.Fatal(err)
				}
				s2, err := ortref.Open(b, ortref.Options{Threads: 1})
				if err != nil {
					t.Fatalf("ORT refuses the slimmed model: %v", err)
				}
				matchORTOutputs(t, "slimmed", s2, xs, run(t, g, xs))
			})
		}
	}
}

func matchORTOutputs(t *testing.T, what string, s *ortref.Session, xs, got []*tensor.Tensor) {
	t.Helper()
	want, err := s.Run(xs...)
	if err != nil {
		t.Fatalf("%s: ORT: %v", what, err)
	}
	if len(want) != len(got) {
		t.Fatalf("%s: ORT gives %d outputs, shears %d", what, len(want), len(got))
	}
	for k := range want {
		if e := tensor.RelDiff(got[k], want[k]); !(e <= 1e-4) {
			t.Errorf("%s: output %d (%s vs ORT %s): relative error %.2g > 1e-4", what, k,
				tensor.ShapeString(got[k].Shape), tensor.ShapeString(want[k].Shape), e)
		}
	}
}
