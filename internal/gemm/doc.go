// Package gemm is shears' single-precision matrix multiply: Sgemm computes
// C = alpha*op(A)*op(B) + beta*C in pure Go plus Go assembly, without cgo.
//
// # Conventions
//
// Matrices are row-major, as everywhere in shears: element (i, j) of a
// matrix with leading dimension ld is at index i*ld+j, and ld may exceed the
// row width to describe a view into a larger matrix. op(X) is X or its
// transpose, so transA means A is stored k×m. The argument order follows
// CBLAS's cblas_sgemm with CblasRowMajor, minus the layout argument, plus a
// thread count. beta == 0 overwrites C without reading it (NaNs in C do not
// propagate), as BLAS specifies; alpha == 0 only scales C.
//
// # Algorithm
//
// Sgemm follows GotoBLAS/BLIS. C is computed in mr×nr register tiles by a
// micro-kernel that keeps the whole tile in vector registers, broadcasting
// one element of A per row and loading nr consecutive elements of B per k
// step. Around it:
//
//   - k is cut into blocks of about kc (256) so that one mr×kc micro-panel
//     of A (8 KiB) stays in L1 while the kernel sweeps across the B panels
//     of a block;
//   - op(B) is packed kc×nc at a time (nc = 512 columns, 512 KiB) into
//     nr-wide panels that stay in the core's private L2;
//   - op(A) is packed once per call and worker (up to 16 MiB; taller A is
//     done in row blocks) into mr-row panels in k order, read from L3.
//
// Packing makes the kernel's loads unit-stride whatever the transposes and
// zero-pads ragged edges, so the kernel has no edge cases: partial tiles are
// computed into a stack scratch tile and only their valid part is written
// back. Packing is skipped where it does not pay: when op(B) is only a few
// panels wide each element of A is used only a few times, so A is read in
// place (the kernels take arbitrary strides for A, so this works for both
// transA values); likewise an untransposed B is read in place when op(A) is
// only a few panels tall, the usual shape of a convolution's forward pass
// (few output channels, many pixels). Transposed operands are packed with an
// 8×8 AVX transpose. The ragged right edge of C uses narrower tiles (16 and
// 8 columns), so that n=49 costs 56 columns of work rather than 64. One
// assembly call computes all full-width tiles of a row panel, so Go-side
// overhead per tile does not swamp small-k products (k = 9 for a 3×3
// convolution of one input channel).
//
// # Operands given as row offsets (implicit GEMM)
//
// SgemmRowsB and SgemmRowsA take one operand as a RowsB: rows anywhere in
// one buffer, given by their offsets, columns optionally in segments (images
// side by side). A stride-1 convolution's column matrix is such a matrix,
// each row the padded input image shifted by one kernel position, so the
// convolution multiplies straight out of the padded image instead of
// copying K rows of pixels first:
//
//   - B as RowsB (forward and input-gradient products): B is packed from the
//     offsets, or, when op(A) is short, read in place by the "rows" variants
//     of the main tiles, which load each k-row of B through an offset table
//     (kernelAVX512x32Rows, kernelAVX2x16Rows);
//   - A as RowsB (weight gradients, rows ordered kernel position then
//     channel): every register panel whose rows are evenly spaced is read in
//     place as a strided A; the others are gathered.
//
// Both give bit-identical results to Sgemm on the materialised matrix.
//
// # Kernels
//
// The micro-kernel is chosen at start-up from what the CPU and OS support,
// detected with CPUID and XGETBV (the module has no dependencies, so not
// golang.org/x/sys/cpu):
//
//   - "avx512": 8×32 tiles, 16 zmm accumulators (plus 8×16 and 8×8 edge
//     tiles). 8 rows divide the channel counts convolutions use.
//   - "avx2": 6×16 tiles with FMA, 12 ymm accumulators (plus 6×8).
//   - "generic": a portable 4×4 Go kernel, used on other architectures and
//     with the noasm build tag.
//
// Kernel reports the choice, Kernels lists what the CPU can run, and
// SetKernel overrides it for tests and benchmarks. The assembly is generated
// by internal/asmgen (go generate).
//
// # Threads
//
// threads <= 0 means parallel.Threads(). With more than one thread C is
// cut into units of whole nr-column panels (or whole mr-row panels when C is
// tall and thin), about four per worker, which workers claim from an atomic
// counter: waking an idle core can take longer than a small multiply (about
// 100µs on the development VM) and other processes may hold a core, so a
// static split would leave the calling goroutine waiting. With a column
// split each worker packs its own copy of A (sharing one would need a
// barrier, and a worker descheduled mid-pack by another process would stall
// the others for a scheduler slice) and then packs B unit by unit.
// Problems below about 160³ (2^22 multiply-adds) run on one thread. threads == 1 runs on the
// calling goroutine and, with packing buffers recycled through a sync.Pool,
// does not allocate in steady state, so callers can parallelise over images
// by calling Sgemm from many goroutines at once.
//
// # Determinism
//
// Work is never split along k, and every C tile is computed by the same
// sequence of operations whichever worker claims it, so for a given kernel
// the result is bit-identical from run to run and across thread counts.
//
// The subpackage gemmtest is the conformance suite every implementation is
// held to; openblas wraps OpenBLAS (build tag openblas, cgo) for comparison.
package gemm
