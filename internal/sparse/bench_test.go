package sparse

import (
	"fmt"
	"math"
	"testing"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/testutil"
)

// The benchmark suite. Each benchmark times shears' dense kernel and the
// sparse kernels on one shape, one sub-benchmark each, named
// .../kernel=FORMAT, so scripts/sparse_bench.sh can pair them into
// sparse/dense ratios. Weights are normal with the smallest magnitudes
// zeroed (unstructured), or the smallest n of every m (N:M). Threads are
// 1 unless the name says T2: the kernels, not the machine's other load.

// prunedWeight is a rows×cols normal weight with the given fraction of
// smallest-magnitude entries zeroed; with m > 0 the smallest m−n of every
// group of m inputs instead.
func prunedWeight(rows, cols int, zeros float64, n, m int) []float32 {
	r := testutil.NewRand(15, 99)
	w := testutil.NormalFloats(r, rows*cols)
	if m > 0 {
		for g := 0; g < len(w); g += m {
			grp := w[g:min(g+m, len(w))]
			for len(nonzero(grp)) > n {
				at, small := 0, math.Inf(1)
				for i, v := range grp {
					if a := math.Abs(float64(v)); v != 0 && a < small {
						at, small = i, a
					}
				}
				grp[at] = 0
			}
		}
		return w
	}
	// Zero a random subset of the given size: magnitude pruning of a
	// normal weight zeroes positions independent of where they are.
	k := int(zeros * float64(len(w)))
	for _, i := range r.Perm(len(w))[:k] {
		w[i] = 0
	}
	return w
}

func nonzero(s []float32) []float32 {
	var nz []float32
	for _, v := range s {
		if v != 0 {
			nz = append(nz, v)
		}
	}
	return nz
}

func benchKernels(b *testing.B, shape Shape, w []float32, threads int, fs ...Format) {
	r := testutil.NewRand(15, 98)
	in, out := shape.InOut()
	x, y := testutil.NormalFloats(r, in), make([]float32, out)
	epi := &gemm.Epilogue{Bias: testutil.NormalFloats(r, shape.Rows), Lo: 0, Hi: float32(math.Inf(1))}
	for _, f := range append([]Format{FormatDense}, fs...) {
		k, err := Build(shape, f, w)
		if err != nil {
			b.Fatal(err)
		}
		// One run first: BSR and N:M build their row form on first use
		// (Choose's warm runs do the same), which is not per-call work.
		if err := k.Run(x, y, epi, threads); err != nil {
			b.Fatal(err)
		}
		b.Run("kernel="+f.String(), func(b *testing.B) {
			for b.Loop() {
				if err := k.Run(x, y, epi, threads); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var unstructured = []Format{FormatCSR, FormatBSR1x8}

func benchLinear(b *testing.B, rows, cols int, threads int) {
	for _, zeros := range []float64{0.90, 0.95, 0.98} {
		w := prunedWeight(rows, cols, zeros, 0, 0)
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("sparsity=%.0f/batch=%d", 100*zeros, batch), func(b *testing.B) {
				benchKernels(b, LinearShape(rows, cols, batch), w, threads, unstructured...)
			})
		}
	}
}

// The 1024×4096 Gemm of the issue (1024 outputs, 4096 inputs).
func BenchmarkGemm1024x4096(b *testing.B)   { benchLinear(b, 1024, 4096, 1) }
func BenchmarkGemm1024x4096T2(b *testing.B) { benchLinear(b, 1024, 4096, 2) }

// lenet300's layers (784→300→100→10).
func BenchmarkLenet300FC1(b *testing.B) { benchLinear(b, 300, 784, 1) }
func BenchmarkLenet300FC2(b *testing.B) { benchLinear(b, 100, 300, 1) }
func BenchmarkLenet300FC3(b *testing.B) { benchLinear(b, 10, 100, 1) }

// 2:4 and 4:8 on the Gemm shape.
func BenchmarkGemm1024x4096NM(b *testing.B) {
	for _, f := range []Format{FormatNM2x4, FormatNM4x8} {
		w := prunedWeight(1024, 4096, 0, f.R, f.C)
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("pattern=%d:%d/batch=%d", f.R, f.C, batch), func(b *testing.B) {
				benchKernels(b, LinearShape(1024, 4096, batch), w, 1, f, FormatCSR)
			})
		}
	}
}

// mobilenet_v2's pointwise convolutions (inverted residual expand and
// project layers) at 90% unstructured sparsity, batch 1.
func BenchmarkMobilenetV2Pointwise(b *testing.B) {
	for _, l := range []struct{ in, out, hw int }{
		{32, 16, 112}, {24, 144, 56}, {144, 24, 56}, {192, 32, 28}, {384, 64, 14}, {576, 96, 14}, {960, 160, 7}, {320, 1280, 7},
	} {
		s := ConvShape{C: l.in, H: l.hw, W: l.hw, O: l.out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
		w := prunedWeight(l.out, l.in, 0.9, 0, 0)
		b.Run(fmt.Sprintf("conv=%dto%d@%d", l.in, l.out, l.hw), func(b *testing.B) {
			benchKernels(b, ConvNodeShape(s, 1), w, 1, FormatCSR, FormatBSR1x4, FormatBSR4x4)
		})
	}
}

// resnet18's 3×3 convolutions at 90% unstructured sparsity, batch 1:
// im2col + CSR and the direct sparse convolution against im2col + GEMM.
func BenchmarkResnet18Conv3x3(b *testing.B) {
	for _, l := range []struct{ c, hw, stride int }{{64, 56, 1}, {128, 28, 1}, {256, 14, 1}, {512, 7, 1}, {128, 56, 2}} {
		o := l.c
		if l.stride == 2 {
			o = 2 * l.c
		}
		s := ConvShape{C: l.c, H: l.hw, W: l.hw, O: o, KH: 3, KW: 3, StrideH: l.stride, StrideW: l.stride, DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		w := prunedWeight(o, l.c*9, 0.9, 0, 0)
		b.Run(fmt.Sprintf("conv=%dto%d@%ds%d", l.c, o, l.hw, l.stride), func(b *testing.B) {
			benchKernels(b, ConvNodeShape(s, 1), w, 1, FormatCSR, FormatDirect)
		})
	}
}

// blockPrunedWeight zeroes a random fraction of the r×c blocks of a
// normal weight: what a block granularity (prune's block1x4) leaves.
func blockPrunedWeight(rows, cols, r, c int, zeros float64) []float32 {
	rng := testutil.NewRand(15, 97)
	w := testutil.NormalFloats(rng, rows*cols)
	for b0 := 0; b0 < rows; b0 += r {
		for c0 := 0; c0 < cols; c0 += c {
			if rng.Float64() >= zeros {
				continue
			}
			for o := b0; o < min(b0+r, rows); o++ {
				clear(w[o*cols+c0 : o*cols+min(c0+c, cols)])
			}
		}
	}
	return w
}

// Block-sparse weights at 90% zero blocks on the Gemm shape: BSR in the
// matching block shape against CSR and dense.
func BenchmarkGemm1024x4096Blocks(b *testing.B) {
	for _, f := range []Format{FormatBSR1x4, FormatBSR1x8, FormatBSR4x4} {
		w := blockPrunedWeight(1024, 4096, f.R, f.C, 0.9)
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("block=%dx%d/batch=%d", f.R, f.C, batch), func(b *testing.B) {
				benchKernels(b, LinearShape(1024, 4096, batch), w, 1, f, FormatCSR)
			})
		}
	}
}
