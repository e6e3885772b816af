//go:build !openblas || !cgo

// Package openblas exposes OpenBLAS's cblas_sgemm with the signature of
// gemm.Sgemm when built with -tags openblas (and cgo). Without the tag it
// compiles to this stub, so the default build stays pure Go.
package openblas

// Available reports whether this build links OpenBLAS.
const Available = false

// Sgemm panics: OpenBLAS is not linked into this build.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	panic("openblas: not built; use -tags openblas with cgo and libopenblas-dev")
}

// SetThreads does nothing without OpenBLAS.
func SetThreads(n int) {}

// CoreName is empty without OpenBLAS.
func CoreName() string { return "" }
