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
// Dense is the marker for "keep the dense kernel" in a Plan, Direct the
// direct convolution (below). CSR columns are 16-bit when the weight has
// at most 2¹⁶ inputs.
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
// The panel product works on column tiles of 128 and, when the panel is
// larger than about 192 KiB, on blocks of inputs, so that the rows of the
// panel the nonzeros load come from L2 rather than L3.
//
// Conv1x1 is that panel product per image in NCHW without any transpose:
// the channel-major layout makes the spatial axis the vector axis (the
// XNNPACK idea). A k×k convolution (strides, dilations, padding) runs
// either as the sparse weight times the image's im2col matrix (Build with
// a matrix format; the im2col is the dense path's) or as Conv, a direct
// convolution (format Direct): per output channel and output row it sums
// the nonzero taps over shifted rows of the zero-padded input, with no
// column matrix but short vectors on small maps. Choose times both.
//
// Every kernel has a portable Go version; on amd64 with AVX2+FMA the hot
// loops run in hand-written Go assembly (kernels_amd64.s, with
// kernels_noasm.go as the stubs under the noasm tag or on other
// architectures):
//
//   - CSR × vector: all rows of a range in one call, 16 nonzeros at a time
//     by VGATHERDPS, the rest in four scalar FMA chains;
//   - BSR × vector: 1×8 and 1×4 blocks take one vector load of x each,
//     4×4 blocks one 128-bit load broadcast to both halves for two
//     two-row accumulators; other block shapes run in Go;
//   - N:M × vector: 2:4 and 4:8 (N/M = 1/2) take eight kept values from
//     two vectors of x with two VPERMPS and a blend; other N:M use gathers;
//   - sparse × panel: per nonzero, a broadcast and FMAs into 8, 4 or 1
//     vector accumulators across 64-, 32- and 8-column tiles, a masked tile
//     for the last columns. BSR and N:M run it over a row form of the
//     matrix built on first use (block and padding zeros kept as values): a
//     kernel that reuses each panel row across a block's R rows is not
//     written;
//   - the 8×8 transposes around the batched product.
//
// The machine these were written on has AVX2 but no AVX-512, so there are
// no AVX-512 kernels: they could not have been run or tested.
//
// The zero test is exact, so CSR skips every weight the dense kernel
// multiplies by zero: an infinite or NaN input meeting a zero weight gives
// 0·Inf = NaN on the dense path (and in the zeros a BSR block or an N:M
// group stores) but not in CSR.
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
// allows, direct for a k×k convolution) on the real shape with a few warm
// runs and keeps the fastest,
// with the timings so a profile can say why. A Cache keyed by shape,
// pattern digest, machine and threads remembers the choices and persists as
// JSON next to a model, so the timing runs once per model and machine. See
// choose.go for the intended call site in the CPU backend.
package sparse
