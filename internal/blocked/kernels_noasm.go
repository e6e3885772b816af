//go:build !amd64 || noasm

package blocked

// No assembly: the kernel tables are empty and Available is false.
var (
	convKernels  [2][2][]func(*kernelArgs)
	convPKernels [2][2][]func(*kernelArgs)
	dwKernels    [2][2][]func(*kernelArgs)
	maxKernels   [2][2][]func(*kernelArgs)
)
