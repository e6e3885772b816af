//go:build openblas && cgo

// Package openblas exposes OpenBLAS's cblas_sgemm with the signature of
// gemm.Sgemm, as a reference for conformance tests and benchmarks. It is
// only built with -tags openblas (and cgo); Debian's libopenblas-dev
// provides the library and cblas.h.
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Available reports whether this build links OpenBLAS.
const Available = true

// Sgemm computes C = alpha*op(A)*op(B) + beta*C with cblas_sgemm in
// row-major order. OpenBLAS picks its own thread count (OPENBLAS_NUM_THREADS,
// or openblas_set_num_threads); the threads argument is ignored, because
// changing the pool size on every call is costly.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	check("A", a, transA, m, k, lda)
	check("B", b, transB, k, n, ldb)
	check("C", c, false, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	ta, tb := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), ptr(a), C.blasint(lda), ptr(b), C.blasint(ldb),
		C.float(beta), ptr(c), C.blasint(ldc))
}

// ptr returns a pointer for cblas, which may be nil for empty operands
// (OpenBLAS never dereferences them then).
func ptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// check mirrors gemm's argument checks: cblas would print to stderr and
// carry on, or read out of bounds.
func check(name string, s []float32, trans bool, rows, cols, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if rows < 0 || cols < 0 || ld < max(1, cols) {
		panic(fmt.Sprintf("openblas: bad %s: %d×%d with leading dimension %d", name, rows, cols, ld))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("openblas: len(%s) = %d too short for %d×%d with leading dimension %d", name, len(s), rows, cols, ld))
	}
}

// SetThreads sets OpenBLAS's worker count.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// CoreName is the kernel family OpenBLAS picked for this CPU.
func CoreName() string { return C.GoString(C.openblas_get_corename()) }
