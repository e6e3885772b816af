// Package cpu tells which SIMD instruction sets the assembly kernels of
// shears (internal/gemm, internal/vec) may use on this machine.
package cpu

// AVX2FMA is set when AVX2 and FMA3 are usable: the CPU has them and the
// OS saves the YMM registers.
var AVX2FMA bool

// AVX512 is set when AVX-512F with the VL, BW and DQ subsets is usable.
var AVX512 bool

func init() { AVX2FMA, AVX512 = features() }
