package openblas_test

import (
	"testing"

	"github.com/shearsml/shears/internal/gemm/gemmtest"
	"github.com/shearsml/shears/internal/gemm/openblas"
)

// TestConformance holds OpenBLAS to the same suite as the Go kernels, which
// checks the suite's expectations against an independent implementation.
func TestConformance(t *testing.T) {
	if !openblas.Available {
		t.Skip("built without -tags openblas")
	}
	t.Logf("OpenBLAS core: %s", openblas.CoreName())
	gemmtest.Run(t, openblas.Sgemm)
}

func TestDeterministic(t *testing.T) {
	if !openblas.Available {
		t.Skip("built without -tags openblas")
	}
	gemmtest.Deterministic(t, openblas.Sgemm, 0)
}
