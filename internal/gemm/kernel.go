package gemm

import (
	"fmt"
	"sync/atomic"
)

//go:generate go run ./internal/asmgen -o kernel_amd64.s

// kernelID selects the micro-kernel in micro. A switch (rather than a func
// value) keeps calls direct, so escape analysis can see that the stack tile
// used for edge tiles does not escape and threads==1 calls stay
// allocation-free.
type kernelID int

const (
	idGeneric4 kernelID = iota
	idAVX512x32
	idAVX512x16
	idAVX512x8
	idAVX2x16
	idAVX2x8
	idAVX512x32Rows
	idAVX2x16Rows
)

// panelKernel is a micro-kernel for B panels nr columns wide.
type panelKernel struct {
	nr int
	id kernelID
}

// kernel is a family of register-blocked micro-kernels sharing mr, plus the
// cache blocking tuned for them.
type kernel struct {
	name string
	mr   int // rows of A broadcast per tile
	nr   int // columns of the main tile (panels[0].nr)
	// panels lists the tile widths, widest first. The main width covers
	// the bulk of n; narrower ones cover the ragged right edge, so that
	// e.g. n=49 costs 32+16+8 columns of work rather than 64.
	panels []panelKernel

	// kc is the depth of one packed block. An mr×kc A micro-panel stays in
	// L1 while the kernel walks across kc×nr B micro-panels streamed from L2.
	kc int
	// nc is the width of one packed B block; kc×nc floats are sized to sit
	// in (half of) a core's private L2.
	nc int
	// rows is the main tile's variant reading B rows through an offset
	// table (RowsB read in place), or 0 when there is none.
	rows kernelID
}

// panel returns the tile width and kernel for the panel starting rem
// columns before the end of a block: the widest that fits entirely, else
// the narrowest (zero-padded).
func (kn *kernel) panel(rem int) (int, kernelID) {
	for _, p := range kn.panels {
		if p.nr <= rem {
			return p.nr, p.id
		}
	}
	p := kn.panels[len(kn.panels)-1]
	return p.nr, p.id
}

var (
	// The AVX-512 tile is 8×32 (16 zmm accumulators). Zen 4 and Intel
	// server cores retire one or two 512-bit FMAs per cycle with 4-cycle
	// latency, so 16 independent accumulators hide the latency with room to
	// spare, and mr=8 divides the channel counts that convolutions produce
	// (16, 32, 64, 128), so those shapes waste no padded rows.
	avx512Kernel = &kernel{name: "avx512", mr: 8, nr: 32, kc: 256, nc: 512, rows: idAVX512x32Rows,
		panels: []panelKernel{{32, idAVX512x32}, {16, idAVX512x16}, {8, idAVX512x8}}}
	// The classic Haswell-era 6×16 tile: 12 ymm accumulators, 2 for B,
	// 2 for broadcasts, all 16 ymm registers in use.
	avx2Kernel = &kernel{name: "avx2", mr: 6, nr: 16, kc: 256, nc: 768, rows: idAVX2x16Rows,
		panels: []panelKernel{{16, idAVX2x16}, {8, idAVX2x8}}}
	// The portable kernel is 4×4 scalars: small enough for the 16 float
	// registers of amd64 to hold most of it, a good fit for arm64's 32.
	genericKernel = &kernel{name: "generic", mr: 4, nr: 4, kc: 256, nc: 512,
		panels: []panelKernel{{4, idGeneric4}}}
)

var (
	available []*kernel // best first; generic always last
	active    atomic.Pointer[kernel]
)

func init() {
	available = append(asmKernels(), genericKernel)
	active.Store(available[0])
}

// Kernel names the micro-kernel Sgemm currently uses: "avx512", "avx2" or
// "generic".
func Kernel() string { return active.Load().name }

// PanelRows is the active kernel's register-panel height (mr): rows of A
// that SgemmRowsA reads in place when their offsets are evenly spaced.
func PanelRows() int { return active.Load().mr }

// Kernels lists the micro-kernels this CPU can run, best first.
func Kernels() []string {
	names := make([]string, len(available))
	for i, k := range available {
		names[i] = k.name
	}
	return names
}

// SetKernel makes Sgemm use the named micro-kernel (one of Kernels()). It is
// meant for tests and benchmarks comparing implementations; calls already
// running finish with the kernel they started with.
func SetKernel(name string) error {
	for _, k := range available {
		if k.name == name {
			active.Store(k)
			return nil
		}
	}
	return fmt.Errorf("gemm: kernel %q not available on this CPU (have %v)", name, Kernels())
}

// micro runs micro-kernel id on panels full tiles side by side: B panel p
// starts at b[p*bstep] and C tile p at c[p*nr]. See kernel_amd64.s for the
// operand addressing; strides are in floats.
func micro(id kernelID, k int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, loadC bool, panels, bstep int) {
	lc := 0
	if loadC {
		lc = 1
	}
	switch id {
	case idAVX512x32:
		kernelAVX512x32(k, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, alpha, beta, lc, panels, bstep)
	case idAVX512x16:
		kernelAVX512x16(k, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, alpha, beta, lc, panels, bstep)
	case idAVX512x8:
		kernelAVX512x8(k, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, alpha, beta, lc, panels, bstep)
	case idAVX2x16:
		kernelAVX2x16(k, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, alpha, beta, lc, panels, bstep)
	case idAVX2x8:
		kernelAVX2x8(k, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, alpha, beta, lc, panels, bstep)
	default:
		for p := 0; p < panels; p++ {
			kernelGeneric(k, a, rsa, csa, b[p*bstep:], ldb, c[p*4:], ldc, alpha, beta, loadC)
		}
	}
}

// microRows is micro for the rows variants: B row p of every panel is at
// b[boff[p]:], panel q starting bstep floats after panel q−1. The caller
// guarantees that all of it is inside b (see RowsB.check).
func microRows(id kernelID, k int, a []float32, rsa, csa int, b []float32, boff []int, c []float32, ldc int, alpha, beta float32, loadC bool, panels, bstep int) {
	lc := 0
	if loadC {
		lc = 1
	}
	switch id {
	case idAVX512x32Rows:
		kernelAVX512x32Rows(k, &a[0], rsa, csa, &b[0], &boff[0], &c[0], ldc, alpha, beta, lc, panels, bstep)
	case idAVX2x16Rows:
		kernelAVX2x16Rows(k, &a[0], rsa, csa, &b[0], &boff[0], &c[0], ldc, alpha, beta, lc, panels, bstep)
	default:
		panic("gemm: no rows kernel")
	}
}
