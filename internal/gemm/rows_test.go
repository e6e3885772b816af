package gemm_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/gemm"
)

// randRowsB scatters a rows×cols matrix through a larger buffer: rows at
// random, possibly overlapping offsets, columns in segments of seg.
func randRowsB(rng *rand.Rand, rows, cols, seg int) (*gemm.RowsB, []float32) {
	segs := (cols + seg - 1) / seg
	stride := seg + rng.IntN(3)
	span := (segs-1)*stride + seg
	b := &gemm.RowsB{Seg: seg, SegStride: stride, RowOff: make([]int, rows)}
	for r := range b.RowOff {
		b.RowOff[r] = rng.IntN(3 * rows)
	}
	b.Data = randSlice(rng, 3*rows+span)
	dense := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			dense[r*cols+j] = b.Data[(j/seg)*stride+b.RowOff[r]+j%seg]
		}
	}
	return b, dense
}

// TestRowsB checks SgemmRowsB against Sgemm on the materialised matrix
// (bit for bit: the same values are packed and multiplied in the same
// order) and against a float64 reference, for both transposes, ragged
// sizes, segment widths from 1 to wider than the matrix, every kernel,
// default and tiny blocking, and 1–3 threads.
func TestRowsB(t *testing.T) {
	for _, tiny := range []bool{false, true} {
		t.Run(fmt.Sprintf("tiny=%v", tiny), func(t *testing.T) {
			if tiny {
				defer gemm.SetTinyBlocking()()
			}
			forEachKernel(t, func(t *testing.T) { checkRowsB(t) })
		})
	}
}

func checkRowsB(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	sizes := []int{1, 7, 33, 257}
	for _, transB := range []bool{false, true} {
		// 16 and 24 rows are whole register panels, which reads B in place
		// (rows kernels) when its panels lie inside a segment.
		for _, m := range append(sizes, 16, 24) {
			for _, n := range sizes {
				for _, k := range sizes {
					cols := n // B's row width
					rows := k
					if transB {
						rows, cols = n, k
					}
					for _, seg := range []int{1, 5, cols + 3} {
						b, dense := randRowsB(rng, rows, cols, seg)
						a := randSlice(rng, m*k)
						c0 := randSlice(rng, m*n)
						alpha, beta := float32(0.7), []float32{0, 1, 0.3}[rng.IntN(3)]
						th := 1 + rng.IntN(3)
						got := append([]float32(nil), c0...)
						want := append([]float32(nil), c0...)
						gemm.SgemmRowsB(transB, m, n, k, alpha, a, k, b, beta, got, n, th)
						gemm.Sgemm(false, transB, m, n, k, alpha, a, k, dense, cols, beta, want, n, th)
						for i := range got {
							if got[i] != want[i] {
								t.Fatalf("transB=%v m=%d n=%d k=%d seg=%d threads=%d: C[%d] = %v, Sgemm on the dense matrix gives %v", transB, m, n, k, seg, th, i, got[i], want[i])
							}
						}
						// float64 reference on one column, to catch a shared
						// mistake of both paths.
						j := rng.IntN(n)
						for i := 0; i < m; i++ {
							var s float64
							for p := 0; p < k; p++ {
								var bv float32
								if transB {
									bv = dense[j*cols+p]
								} else {
									bv = dense[p*cols+j]
								}
								s += float64(a[i*k+p]) * float64(bv)
							}
							ref := float64(alpha)*s + float64(beta)*float64(c0[i*n+j])
							if d := math.Abs(float64(got[i*n+j]) - ref); d > 1e-4*(1+math.Abs(ref))*math.Sqrt(float64(k)) {
								t.Fatalf("transB=%v m=%d n=%d k=%d seg=%d: C[%d,%d] = %v, reference %v", transB, m, n, k, seg, i, j, got[i*n+j], ref)
							}
						}
					}
				}
			}
		}
	}
}

// TestRowsBBounds: a RowsB that reaches past its buffer is refused before
// anything is read.
func TestRowsBBounds(t *testing.T) {
	b := &gemm.RowsB{Data: make([]float32, 20), RowOff: []int{0, 11}, Seg: 5, SegStride: 6}
	// 2 rows × 10 columns: row 1 ends at 11 + 6 + 4 = 21 ≥ 20.
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a RowsB past the end of its buffer")
		}
	}()
	c := make([]float32, 10)
	gemm.SgemmRowsB(false, 1, 10, 2, 1, []float32{1, 1}, 2, b, 0, c, 10, 1)
}

// TestRowsA checks SgemmRowsA against Sgemm on the materialised A, bit for
// bit, with rows evenly spaced in runs (read in place) and scattered
// (gathered), both transposes of B, ragged sizes, every kernel, default
// and tiny blocking.
func TestRowsA(t *testing.T) {
	for _, tiny := range []bool{false, true} {
		t.Run(fmt.Sprintf("tiny=%v", tiny), func(t *testing.T) {
			if tiny {
				defer gemm.SetTinyBlocking()()
			}
			forEachKernel(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(9, 10))
				for _, transB := range []bool{false, true} {
					for _, m := range []int{1, 7, 16, 24, 33, 72} {
						for _, n := range []int{1, 7, 33, 257} {
							for _, k := range []int{1, 7, 33, 257} {
								for _, even := range []bool{true, false} {
									a, dense := randRowsA(rng, m, k, even)
									var b []float32
									ldb := n
									if transB {
										ldb = k
									}
									b = randSlice(rng, k*n)
									c0 := randSlice(rng, m*n)
									beta := []float32{0, 1, 0.3}[rng.IntN(3)]
									th := 1 + rng.IntN(3)
									got := append([]float32(nil), c0...)
									want := append([]float32(nil), c0...)
									gemm.SgemmRowsA(m, n, k, 0.7, a, transB, b, ldb, beta, got, n, th)
									gemm.Sgemm(false, transB, m, n, k, 0.7, dense, k, b, ldb, beta, want, n, th)
									for i := range got {
										if got[i] != want[i] {
											t.Fatalf("transB=%v m=%d n=%d k=%d even=%v threads=%d: C[%d] = %v, Sgemm on the dense matrix gives %v", transB, m, n, k, even, th, i, got[i], want[i])
										}
									}
								}
							}
						}
					}
				}
			})
		})
	}
}

// randRowsA makes an m×k RowsB of one segment: with even, rows come in
// runs of 8 at a constant stride (as a convolution's channels at one
// kernel position), otherwise at random offsets.
func randRowsA(rng *rand.Rand, m, k int, even bool) (*gemm.RowsB, []float32) {
	a := &gemm.RowsB{Seg: k + rng.IntN(3), RowOff: make([]int, m)}
	span := 0
	for r := range a.RowOff {
		if even {
			run, stride := r/8, k+1+(r/8)%3
			a.RowOff[r] = run*8*(k+4) + (r%8)*stride
		} else {
			a.RowOff[r] = rng.IntN(2*m*k + 1)
		}
		span = max(span, a.RowOff[r]+k)
	}
	a.Data = randSlice(rng, span+1)
	dense := make([]float32, m*k)
	for r, o := range a.RowOff {
		copy(dense[r*k:(r+1)*k], a.Data[o:])
	}
	return a, dense
}
