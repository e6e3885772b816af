//go:build !noasm

package gemm

import "github.com/shearsml/shears/internal/cpu"

// The assembly micro-kernels, generated into kernel_amd64.s by
// internal/asmgen. They are noescape so that the stack tile used for edge
// tiles does not move to the heap.

//go:noescape
func kernelAVX512x32(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

//go:noescape
func kernelAVX512x16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

//go:noescape
func kernelAVX512x8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

//go:noescape
func kernelAVX2x16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

//go:noescape
func kernelAVX2x8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

//go:noescape
func kernelAVX512x32Rows(k int, a *float32, rsa, csa int, b *float32, boff *int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

//go:noescape
func kernelAVX2x16Rows(k int, a *float32, rsa, csa int, b *float32, boff *int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int)

// asmKernels lists the assembly kernels this CPU can run, best first.
func asmKernels() []*kernel {
	avx2FMA, avx512 := cpu.AVX2FMA, cpu.AVX512
	var ks []*kernel
	if avx512 {
		ks = append(ks, avx512Kernel)
	}
	if avx2FMA {
		ks = append(ks, avx2Kernel)
	}
	return ks
}

//go:noescape
func transpose8AVX(src *float32, lds int, dst *float32, ldd int, blocks int)

// hasAVX2 gates the AVX transpose used by packing, independently of which
// micro-kernel is active.
var hasAVX2 = cpu.AVX2FMA

// transpose8 transposes blocks 8×8 blocks: dst[p*ldd+r] = src[r*lds+p] for
// r < 8, p < 8*blocks.
func transpose8(src []float32, lds int, dst []float32, ldd int, blocks int) {
	if blocks == 0 {
		return
	}
	// Bounds: the last element read and written.
	_ = src[7*lds+8*blocks-1]
	_ = dst[(8*blocks-1)*ldd+7]
	if hasAVX2 {
		transpose8AVX(&src[0], lds, &dst[0], ldd, blocks)
		return
	}
	transpose8Go(src, lds, dst, ldd, blocks)
}
