// Package cpu is shears' CPU backend: programs that run a graph with the
// pure-Go kernels of internal/gemm, internal/kernels and internal/vec, on
// all cores, and for inference the fusion passes and, on machines with
// AVX-512, the NCHW16c lowering of internal/blocked.
//
// Callers compile with Compile (training and inference) or
// CompileInference (inference only, fused) and run the returned *Program;
// Backend is the same behind the backend.Backend interface. The
// implementation still lives in package graph (Compile,
// Program); the names here are what callers use, so that it can
// move here without changing them.
package cpu
