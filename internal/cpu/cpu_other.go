//go:build !amd64 || noasm

package cpu

// Without amd64 assembly no SIMD kernel is built.
func features() (avx2FMA, avx512 bool) { return false, false }
