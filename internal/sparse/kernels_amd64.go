//go:build !noasm

package sparse

import "github.com/shearsml/shears/internal/cpu"

// The AVX2+FMA kernels of kernels_amd64.s. They do not check bounds: the
// Go wrappers in kernels.go pass only ranges the matrix and the checked
// operands guarantee.

var asmAvailable = cpu.AVX2FMA

// csrDotAVX2 is Σ_k val[k]·x[col[k]] for k < n, eight at a time with
// VGATHERDPS, the rest one at a time.
//
//go:noescape
func csrDotAVX2(val *float32, col *int32, n int, x *float32) float32

// csrDot16AVX2 is csrDotAVX2 with 16-bit columns.
//
//go:noescape
func csrDot16AVX2(val *float32, col *uint16, n int, x *float32) float32

// panelRowAVX2 sets out[j] = Σ_k val[k]·p[col[k]·ldp+j] (plus out[j] when
// acc != 0) for j < n, in column tiles of 64, 32 and 8 held in registers
// and a masked tile for the last n%8.
//
//go:noescape
func panelRowAVX2(out *float32, n int, val *float32, col *int32, nnz int, p *float32, ldp int, acc int)

// panelRow16AVX2 is panelRowAVX2 with 16-bit columns.
//
//go:noescape
func panelRow16AVX2(out *float32, n int, val *float32, col *uint16, nnz int, p *float32, ldp int, acc int)

// bsr1x8DotAVX2 is Σ_k Σ_c val[8k+c]·x[bcol[k]+c] over nb full blocks.
//
//go:noescape
func bsr1x8DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32

// bsr1x4DotAVX2 is bsr1x8DotAVX2 for 1×4 blocks, in SSE-width vectors.
//
//go:noescape
func bsr1x4DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32

// nmDotAVX2 is Σ_k val[k]·x[lane offset + pos[k]] for k < cnt (a multiple
// of 8): the offsets start at base and grow by step every eight values.
//
//go:noescape
func nmDotAVX2(val *float32, pos *uint8, cnt int, x *float32, base *[8]int32, step int) float32

// transpose8AVX sets dst[c·ldd+r] = src[r·lds+c] for r < 8 and
// c < 8·blocks.
//
//go:noescape
func transpose8AVX(src *float32, lds int, dst *float32, ldd int, blocks int)

// nmHalfDotAVX2 is Σ_k val[k]·x[16·(k/8) + 8·(k%8/4) + lane[k%8] + pos[k]]
// for k < 8·chunks: N:M rows with N/M = 1/2, M ≤ 8, gathered by permutes.
//
//go:noescape
func nmHalfDotAVX2(val *float32, pos *uint8, chunks int, x *float32, lane *[8]int32) float32

// csrRows16AVX2 sets y[o] = Σ_{ptr[o] ≤ k < ptr[o+1]} val[k]·x[col[k]] for
// o < rows.
//
//go:noescape
func csrRows16AVX2(y *float32, ptr *int32, rows int, val *float32, col *uint16, x *float32)

// bsr4x4DotAVX2 sets y[r] = Σ_k Σ_c val[16k+4r+c]·x[bcol[k]+c] over nb
// full 4×4 blocks.
//
//go:noescape
func bsr4x4DotAVX2(val *float32, bcol *int32, nb int, x *float32, y *[4]float32)
