package gemm

// SetTinyBlocking shrinks the cache blocking and the thresholds so that the
// conformance sizes (up to 257) cross k blocks, B blocks, A row blocks and
// thread splits. It returns a function restoring the defaults.
func SetTinyBlocking() (restore func()) {
	saved := [...]int{minParallelWork, maxAPack, kcOverride, ncOverride}
	minParallelWork, maxAPack, kcOverride, ncOverride = 0, 4096, 24, 64
	return func() {
		minParallelWork, maxAPack, kcOverride, ncOverride = saved[0], saved[1], saved[2], saved[3]
	}
}

// UseKernel is SetKernel returning a function that restores the previous
// kernel.
func UseKernel(name string) (restore func(), err error) {
	prev := Kernel()
	if err := SetKernel(name); err != nil {
		return nil, err
	}
	return func() { _ = SetKernel(prev) }, nil
}
