// Package sparse holds inference kernels for weights with many zeros:
// sparse weights times dense activations, for fully connected layers
// (Gemm/MatMul) and convolutions, in the formats that pruning produces.
//
// # Formats
//
// A Matrix is an O×I weight (rows are outputs, columns inputs, as a Gemm
// weight with transB or a convolution weight flattened to O×(C·KH·KW))
// built from its dense form by an exact zero test (v != 0: no tolerance,
// so a model's numbers are the dense model's numbers):
//
//   - CSR: unstructured sparsity. Each nonzero costs a value and a column.
//   - BSR: R×C blocks, stored whole when any entry is nonzero. 1×8 fits one
//     AVX2 vector of float32; 4×4 and 1×4 are what prune's block
//     granularities make. Columns (rows) past the matrix edge inside an
//     edge block are stored as zeros and never read from the input.
//   - NM: N:M sparsity along the input axis (2:4, 4:8): every group of M
//     consecutive inputs of a row holds at most N nonzeros; the values are
//     packed N per group with one byte each saying where in the group they
//     sit. A weight that breaks the pattern is refused with an error.
//
// Format names a format ("csr", "bsr1x8", "nm2:4", ...) and builds it;
// Dense is the marker for "keep the dense kernel" in a Plan.
//
// # Kernels
//
// MatMul computes Y[b][o] = Σ_i X[b][i]·W[o][i] with a fused epilogue
// (bias, residual, clamp: the same gemm.Epilogue the dense kernels take, so
// ReLU is Lo=0 and ReLU6 is Lo=0, Hi=6). At batch 1 it is a sparse
// matrix–vector product that reads each stored weight once. At larger
// batches X is transposed to I×B first, so that one nonzero updates a whole
// B-vector of outputs from one contiguous row of Xᵀ ("dense panel"): the
// weight is read once per call instead of once per batch row, and the inner
// loop is vector FMAs with the weight broadcast.
//
// Conv1x1 is that panel product per image in NCHW without any transpose:
// the channel-major layout makes the spatial axis the vector axis (the
// XNNPACK idea). Conv is a direct k×k convolution (strides, dilations,
// padding) for the general case: per output channel and output row it sums
// the nonzero taps over shifted rows of the zero-padded input.
//
// Every kernel has a portable Go version; on amd64 with AVX2+FMA the hot
// loops (CSR and BSR against dense panels, CSR, BSR 1×8 and N:M
// matrix–vector products) run in hand-written Go assembly (kernels_amd64.s,
// with kernels_noasm.go as the portable fallback under the noasm tag or on
// other architectures). This machine has no AVX-512, so there are no
// AVX-512 kernels: they could not be tested here.
//
// # Threads
//
// Work is split over output rows (row blocks for BSR) with
// internal/parallel, in ranges of about equal stored work rather than equal
// row counts, so rows that kept many weights do not leave one worker
// running alone. Each output is computed whole by one worker in a fixed
// order, so results are bit-identical across runs and thread counts.
// Small products run on the calling goroutine. Scratch buffers (the
// transposed input, the padded image) come from a sync.Pool.
//
// # Choosing a kernel
//
// A sparse kernel is not faster than the dense one at every sparsity and
// shape: Choose times the candidates (dense, CSR, BSR, N:M when the pattern
// allows) on the real shape with a few warm runs and keeps the fastest,
// with the timings so a profile can say why. A Cache keyed by shape,
// pattern digest, machine and threads remembers the choices and persists as
// JSON next to a model, so the timing runs once per model and machine. See
// choose.go for the intended call site in the CPU backend.
package sparse
