//go:build !noasm

package vec

import "github.com/shearsml/shears/internal/cpu"

var useAsm = cpu.AVX2FMA

// The assembly loops take a length n that is a multiple of 8.

//go:noescape
func axpyAVX2(y *float32, a float32, x *float32, n int)

//go:noescape
func dotAVX2(x, y *float32, n int) float32

//go:noescape
func clampAVX2(y, x *float32, n int, lo, hi float32)

//go:noescape
func reluGradAVX2(gx, x, grad *float32, n int)

//go:noescape
func addAVX2(y, a, b *float32, n int)

//go:noescape
func scaleShiftAVX2(y *float32, a float32, x *float32, b float32, n int)

//go:noescape
func sumSquaresAVX2(x *float32, n int) (sum, squares float32)

//go:noescape
func sumDotCenteredAVX2(d, x *float32, c float32, n int, sum, dot *float32)

//go:noescape
func addAffine2AVX2(y *float32, a float32, u *float32, b float32, v *float32, c float32, n int)

//go:noescape
func clampGradAVX2(gx, x, grad *float32, n int, lo, hi float32)

//go:noescape
func gather2AVX2(dst, src *float32, n int)

//go:noescape
func maxPairs2AVX2(y, a, b *float32, n int)

//go:noescape
func maxIntoAVX2(y, x *float32, n int)

//go:noescape
func maxPairs2ArgAVX2(y *float32, code *int32, a, b *float32, n int)

//go:noescape
func copyRowsAtAVX2(dst *float32, dstStride int, src *float32, srcOff *int, width, rows int)

//go:noescape
func addRowsAVX2(dst *float32, dstStride int, src *float32, srcStride int, width8, rows int)

//go:noescape
func reluGradSetAVX2(gx, x, grad *float32, n int)

//go:noescape
func affine2AVX2(y *float32, a float32, u *float32, b float32, v *float32, c float32, n int)

//go:noescape
func gatherRows2AVX2(dst *float32, dstStride int, src *float32, srcStride int, width, rows int)

//go:noescape
func tapSumAVX2(y, x *float32, off *int, k *float32, taps int, bias float32, n int)

//go:noescape
func addClampAVX2(y, x *float32, n int, b, lo, hi float32)

//go:noescape
func addPairClampAVX2(y, a, b *float32, n int, lo, hi float32)

//go:noescape
func copyPlanesAVX(dst *float32, dstStride, dstPlane int, src *float32, srcStride, srcPlane int, width, rows, planes int)
