//go:build !amd64 || noasm

package sparse

// Without assembly the Go kernels run; the stubs keep the dispatch
// compiling and are never called.

const asmAvailable = false

func csrDotAVX2(val *float32, col *int32, n int, x *float32) float32 {
	panic("sparse: assembly kernels not built")
}

func csrDot16AVX2(val *float32, col *uint16, n int, x *float32) float32 {
	panic("sparse: assembly kernels not built")
}

func panelRowAVX2(out *float32, n int, val *float32, col *int32, nnz int, p *float32, ldp int, acc int) {
	panic("sparse: assembly kernels not built")
}

func panelRow16AVX2(out *float32, n int, val *float32, col *uint16, nnz int, p *float32, ldp int, acc int) {
	panic("sparse: assembly kernels not built")
}

func bsr1x8DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32 {
	panic("sparse: assembly kernels not built")
}

func bsr1x4DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32 {
	panic("sparse: assembly kernels not built")
}

func nmDotAVX2(val *float32, pos *uint8, cnt int, x *float32, base *[8]int32, step int) float32 {
	panic("sparse: assembly kernels not built")
}

func transpose8AVX(src *float32, lds int, dst *float32, ldd int, blocks int) {
	panic("sparse: assembly kernels not built")
}

func nmHalfDotAVX2(val *float32, pos *uint8, chunks int, x *float32, lane *[8]int32) float32 {
	panic("sparse: assembly kernels not built")
}

func csrRows16AVX2(y *float32, ptr *int32, rows int, val *float32, col *uint16, x *float32) {
	panic("sparse: assembly kernels not built")
}

func bsr4x4DotAVX2(val *float32, bcol *int32, nb int, x *float32, y *[4]float32) {
	panic("sparse: assembly kernels not built")
}
