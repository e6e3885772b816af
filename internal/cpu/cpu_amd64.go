//go:build !noasm

package cpu

// The module deliberately has no dependencies, so instead of
// golang.org/x/sys/cpu the features are read directly with CPUID. A CPU
// advertising AVX is not enough: the OS must also save the YMM (and for
// AVX-512 the opmask and ZMM) register state on context switches, which is
// what XCR0 (read with XGETBV, only legal when OSXSAVE is set) tells.

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// features reports whether AVX2+FMA and AVX-512F (with the VL/BW/DQ
// subsets, which any AVX-512 server CPU has) are usable.
func features() (avx2FMA, avx512 bool) {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false
	}
	xcr0, _ := xgetbv()
	const (
		xmmYmmState = 1<<1 | 1<<2
		zmmState    = 1<<5 | 1<<6 | 1<<7 // opmask, ZMM0-15 upper halves, ZMM16-31
	)
	if xcr0&xmmYmmState != xmmYmmState {
		return false, false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const (
		avx2     = 1 << 5
		avx512f  = 1 << 16
		avx512dq = 1 << 17
		avx512bw = 1 << 30
		avx512vl = 1 << 31
	)
	avx2FMA = ebx7&avx2 != 0
	want := uint32(avx512f | avx512dq | avx512bw | avx512vl)
	avx512 = avx2FMA && ebx7&want == want && xcr0&zmmState == zmmState
	return avx2FMA, avx512
}
