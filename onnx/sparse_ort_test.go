//go:build cgo

package onnx

import (
	"os"
	"slices"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/testutil"
)

// TestSparseInitializersORT checks that ONNX Runtime loads a model written
// with sparse initializers and gives exactly the outputs of the same model
// written dense, and shears' within 1e-4. The model is a 98%-sparse
// lenet300 (weights zeroed by magnitude), or the file in
// $SHEARS_SPARSE_MODEL (e.g. a pruned trained lenet300).
func TestSparseInitializersORT(t *testing.T) {
	needORT(t)
	g := sparseLeNet300(0.02)
	if path := os.Getenv("SHEARS_SPARSE_MODEL"); path != "" {
		var err error
		if g, err = Load(path); err != nil {
			t.Fatal(err)
		}
	}
	dense, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	sparse, err := EncodeWith(g, SaveOptions{SparseInitializers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: dense %d bytes, sparse initializers %d bytes (%.1f× smaller)", g.Name, len(dense), len(sparse), float64(len(dense))/float64(len(sparse)))
	shape := slices.Clone(g.Inputs[0].Shape)
	shape[0] = 4
	x := testutil.NormalTensor(testutil.NewRand(5, 7), shape...)
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	run := func(b []byte) []float32 {
		s, err := ortref.Open(b, ortref.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		matchORT(t, s, x, got)
		out, err := s.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Data
	}
	if d, s := run(dense), run(sparse); !slices.Equal(d, s) {
		t.Errorf("ONNX Runtime gives other outputs for the sparse file than for the dense one")
	}
}
