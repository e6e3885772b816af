//go:build !amd64 || noasm

package gemm

// Without assembly only the portable kernel exists. The stubs below keep the
// dispatch switch in micro compiling; they are never selected.

func asmKernels() []*kernel { return nil }

func kernelAVX512x32(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: assembly kernels not built")
}

func kernelAVX512x16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: assembly kernels not built")
}

func kernelAVX512x8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: assembly kernels not built")
}

func kernelAVX2x16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: assembly kernels not built")
}

func kernelAVX2x8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: assembly kernels not built")
}

func transpose8(src []float32, lds int, dst []float32, ldd int, blocks int) {
	transpose8Go(src, lds, dst, ldd, blocks)
}

func kernelAVX512x32Rows(k int, a *float32, rsa, csa int, b *float32, boff *int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: no assembly")
}

func kernelAVX2x16Rows(k int, a *float32, rsa, csa int, b *float32, boff *int, c *float32, ldc int, alpha, beta float32, loadC int, panels int, bstep int) {
	panic("gemm: no assembly")
}
