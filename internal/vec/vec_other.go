//go:build !amd64 || noasm

package vec

const useAsm = false

func axpyAVX2(y *float32, a float32, x *float32, n int)                  { panic("vec: no assembly") }
func dotAVX2(x, y *float32, n int) float32                               { panic("vec: no assembly") }
func clampAVX2(y, x *float32, n int, lo, hi float32)                     { panic("vec: no assembly") }
func reluGradAVX2(gx, x, grad *float32, n int)                           { panic("vec: no assembly") }
func addAVX2(y, a, b *float32, n int)                                    { panic("vec: no assembly") }
func scaleShiftAVX2(y *float32, a float32, x *float32, b float32, n int) { panic("vec: no assembly") }
func sumSquaresAVX2(x *float32, n int) (sum, squares float32)            { panic("vec: no assembly") }
func sumDotCenteredAVX2(d, x *float32, c float32, n int, sum, dot *float32) {
	panic("vec: no assembly")
}
func addAffine2AVX2(y *float32, a float32, u *float32, b float32, v *float32, c float32, n int) {
	panic("vec: no assembly")
}
func clampGradAVX2(gx, x, grad *float32, n int, lo, hi float32) { panic("vec: no assembly") }
func gather2AVX2(dst, src *float32, n int)                      { panic("vec: no assembly") }
func maxPairs2AVX2(y, a, b *float32, n int)                     { panic("vec: no assembly") }
func maxIntoAVX2(y, x *float32, n int)                          { panic("vec: no assembly") }
func maxPairs2ArgAVX2(y *float32, code *int32, a, b *float32, n int) {
	panic("vec: no assembly")
}
func copyRowsAtAVX2(dst *float32, dstStride int, src *float32, srcOff *int, width, rows int) {
	panic("vec: no assembly")
}
func addRowsAVX2(dst *float32, dstStride int, src *float32, srcStride int, width8, rows int) {
	panic("vec: no assembly")
}
func reluGradSetAVX2(gx, x, grad *float32, n int) { panic("vec: no assembly") }
func affine2AVX2(y *float32, a float32, u *float32, b float32, v *float32, c float32, n int) {
	panic("vec: no assembly")
}
func gatherRows2AVX2(dst *float32, dstStride int, src *float32, srcStride int, width, rows int) {
	panic("vec: no assembly")
}
func tapSumAVX2(y, x *float32, off *int, k *float32, taps int, bias float32, n int) {
	panic("vec: no assembly")
}
func addClampAVX2(y, x *float32, n int, b, lo, hi float32)     { panic("vec: no assembly") }
func addPairClampAVX2(y, a, b *float32, n int, lo, hi float32) { panic("vec: no assembly") }
func copyPlanesAVX(dst *float32, dstStride, dstPlane int, src *float32, srcStride, srcPlane int, width, rows, planes int) {
	panic("vec: no assembly")
}
