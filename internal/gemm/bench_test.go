package gemm_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/gemm"
)

// benchSgemm times C = op(A)*op(B) (beta 0) and reports GFLOP/s.
func benchSgemm(b *testing.B, transA, transB bool, m, n, k, threads int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, bb, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	gemm.Sgemm(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n, threads)
	b.ResetTimer()
	for b.Loop() {
		gemm.Sgemm(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n, threads)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// Square sizes, default thread count (parallel.Threads()).
func BenchmarkSgemm256(b *testing.B)  { benchSgemm(b, false, false, 256, 256, 256, 0) }
func BenchmarkSgemm512(b *testing.B)  { benchSgemm(b, false, false, 512, 512, 512, 0) }
func BenchmarkSgemm1024(b *testing.B) { benchSgemm(b, false, false, 1024, 1024, 1024, 0) }

// Square sizes on one thread, to see the kernel without threading effects.
func BenchmarkSgemm512T1(b *testing.B)  { benchSgemm(b, false, false, 512, 512, 512, 1) }
func BenchmarkSgemm1024T1(b *testing.B) { benchSgemm(b, false, false, 1024, 1024, 1024, 1) }

// Batched im2col convolution with pixels as rows: 8192 pixels, 64 input
// channels × 3×3, 64 output channels.
func BenchmarkSgemmIm2col8192x64x576(b *testing.B) { benchSgemm(b, false, false, 8192, 64, 576, 0) }

// Per-image convolution shapes on one thread (callers parallelise over
// images). Forward: C[Cout×HW] = W[Cout×Cin·9] · col[Cin·9×HW].
func BenchmarkConvFwd16x784x9(b *testing.B)     { benchSgemm(b, false, false, 16, 784, 9, 1) }
func BenchmarkConvFwd32x784x144(b *testing.B)   { benchSgemm(b, false, false, 32, 784, 144, 1) }
func BenchmarkConvFwd64x196x576(b *testing.B)   { benchSgemm(b, false, false, 64, 196, 576, 1) }
func BenchmarkConvFwd128x49x1152(b *testing.B)  { benchSgemm(b, false, false, 128, 49, 1152, 1) }
func BenchmarkConvFwd128x196x1152(b *testing.B) { benchSgemm(b, false, false, 128, 196, 1152, 1) }

// Batch-1 inference shapes (resnet20's 7×7 and 28×28 convolutions as
// padded-rows GEMMs) on one and two threads: what a second worker gains on
// 20–70 µs multiplies. C of 64 rows is 8 row panels, which the row split
// must still cut in two.
func BenchmarkConvB1_64x63x576T1(b *testing.B)  { benchSgemm(b, false, false, 64, 63, 576, 1) }
func BenchmarkConvB1_64x63x576T2(b *testing.B)  { benchSgemm(b, false, false, 64, 63, 576, 2) }
func BenchmarkConvB1_16x840x144T1(b *testing.B) { benchSgemm(b, false, false, 16, 840, 144, 1) }
func BenchmarkConvB1_16x840x144T2(b *testing.B) { benchSgemm(b, false, false, 16, 840, 144, 2) }

// Input gradient: dcol[Cin·9×HW] = Wᵀ · dY[Cout×HW] (transA).
func BenchmarkConvBwdData144x784x32(b *testing.B)  { benchSgemm(b, true, false, 144, 784, 32, 1) }
func BenchmarkConvBwdData576x196x64(b *testing.B)  { benchSgemm(b, true, false, 576, 196, 64, 1) }
func BenchmarkConvBwdData1152x49x128(b *testing.B) { benchSgemm(b, true, false, 1152, 49, 128, 1) }

// Weight gradient: dW[Cout×Cin·9] = dY[Cout×HW] · colᵀ (transB).
func BenchmarkConvBwdWeight32x144x784(b *testing.B)  { benchSgemm(b, false, true, 32, 144, 784, 1) }
func BenchmarkConvBwdWeight64x576x196(b *testing.B)  { benchSgemm(b, false, true, 64, 576, 196, 1) }
func BenchmarkConvBwdWeight128x1152x49(b *testing.B) { benchSgemm(b, false, true, 128, 1152, 49, 1) }
