// Package vec holds the float32 vector loops that the graph ops and
// convolution kernels spend their non-GEMM time in: y += a·x, dot products,
// clamping (ReLU, ReLU6) and the ReLU gradient. On amd64 with AVX2+FMA
// they run in assembly, eight lanes at a time; elsewhere (or with the
// noasm tag) in plain Go. The Go compiler does not vectorise loops, and
// these are memory-bound loops where eight lanes per instruction are what
// matters.
//
// Results can differ from a scalar loop in the last bit: Axpy fuses the
// multiply-add and Dot sums in eight (sixteen) partial sums. They are the
// same from run to run on one machine.
package vec

import "fmt"

// Axpy sets y[i] += a·x[i] for i < len(y); x must be at least as long.
func Axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		axpyAVX2(&y[0], a, &x[0], n)
	}
	for i := n; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

// TapSum sets y[i] = bias + Σ_t k[t]·x[off[t]+i] for i < len(y): a
// stencil (a depthwise convolution over a padded plane, one tap per shift)
// in one pass over y, where one Axpy per tap would read and write y once
// per tap. The taps are added in order, each as one fused multiply-add on
// the assembly path. Every window x[off[t]:off[t]+len(y)] must lie in x.
func TapSum(y, x []float32, off []int, k []float32, bias float32) {
	k = k[:len(off)]
	for _, o := range off {
		_ = x[o : o+len(y)] // the assembly does not check
	}
	n := 0
	if useAsm && len(off) > 0 && len(y) >= 8 {
		n = len(y) &^ 7
		tapSumAVX2(&y[0], &x[0], &off[0], &k[0], len(off), bias, n)
	}
	for i := n; i < len(y); i++ {
		s := bias
		for t, o := range off {
			s += k[t] * x[o+i]
		}
		y[i] = s
	}
}

// Dot returns Σ x[i]·y[i] over i < len(x); y must be at least as long.
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	n := 0
	var s float32
	if useAsm && len(x) >= 8 {
		n = len(x) &^ 7
		s = dotAVX2(&x[0], &y[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

// Clamp sets y[i] = min(max(x[i], lo), hi) for i < len(y), NaN staying
// NaN; x must be at least as long. With lo > hi every element is hi, as
// ONNX's Clip specifies.
func Clamp(y, x []float32, lo, hi float32) {
	x = x[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		clampAVX2(&y[0], &x[0], n, lo, hi)
	}
	for i := n; i < len(y); i++ {
		y[i] = min(max(x[i], lo), hi)
	}
}

// AddClamp sets y[i] = min(max(x[i] + b, lo), hi) for i < len(y), NaN
// staying NaN (a bias and a fused activation in one pass); x must be at
// least as long.
func AddClamp(y, x []float32, b, lo, hi float32) {
	x = x[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		addClampAVX2(&y[0], &x[0], n, b, lo, hi)
	}
	for i := n; i < len(y); i++ {
		y[i] = min(max(x[i]+b, lo), hi)
	}
}

// ReluGradAdd sets gx[i] += g[i] where x[i] > 0, for i < len(gx); x and g
// must be at least as long.
func ReluGradAdd(gx, x, g []float32) {
	x, g = x[:len(gx)], g[:len(gx)]
	n := 0
	if useAsm && len(gx) >= 8 {
		n = len(gx) &^ 7
		reluGradAVX2(&gx[0], &x[0], &g[0], n)
	}
	for i := n; i < len(gx); i++ {
		if x[i] > 0 {
			gx[i] += g[i]
		}
	}
}

// Add sets y[i] = a[i] + b[i] for i < len(y); a and b must be at least as
// long.
func Add(y, a, b []float32) {
	a, b = a[:len(y)], b[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		addAVX2(&y[0], &a[0], &b[0], n)
	}
	for i := n; i < len(y); i++ {
		y[i] = a[i] + b[i]
	}
}

// AddPairClamp sets y[i] = min(max(a[i] + b[i], lo), hi) for i < len(y),
// NaN staying NaN (a residual addition and the activation after it in one
// pass); a and b must be at least as long.
func AddPairClamp(y, a, b []float32, lo, hi float32) {
	a, b = a[:len(y)], b[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		addPairClampAVX2(&y[0], &a[0], &b[0], n, lo, hi)
	}
	for i := n; i < len(y); i++ {
		y[i] = min(max(a[i]+b[i], lo), hi)
	}
}

// AddBiasResidualClamp sets y[i] = min(max(x[i] + b + r[i], lo), hi) for
// i < len(y), added in that order (a convolution's bias, then a residual
// Add), NaN staying NaN; without r (nil) it is AddClamp. x and r must be
// at least as long as y.
func AddBiasResidualClamp(y, x []float32, b float32, r []float32, lo, hi float32) {
	if r == nil {
		AddClamp(y, x, b, lo, hi)
		return
	}
	if b != 0 {
		ScaleShift(y, 1, x, b) // 1·x + b rounds as x + b
		x = y
	}
	AddPairClamp(y, x, r, lo, hi)
}

// ScaleShift sets y[i] = a·x[i] + b for i < len(y) (BatchNorm's affine
// normalisation); x must be at least as long.
func ScaleShift(y []float32, a float32, x []float32, b float32) {
	x = x[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		scaleShiftAVX2(&y[0], a, &x[0], b, n)
	}
	for i := n; i < len(y); i++ {
		y[i] = a*x[i] + b
	}
}

// SumSquares returns Σx[i] and Σx[i]² (BatchNorm's batch statistics).
func SumSquares(x []float32) (sum, squares float32) {
	n := 0
	if useAsm && len(x) >= 8 {
		n = len(x) &^ 7
		sum, squares = sumSquaresAVX2(&x[0], n)
	}
	for i := n; i < len(x); i++ {
		sum += x[i]
		squares += x[i] * x[i]
	}
	return sum, squares
}

// SumDotCentered returns Σd[i] and Σd[i]·(x[i] − c) over i < len(d);
// x must be at least as long. Centring before multiplying keeps the
// precision that Σd·x − c·Σd would lose when c is large.
func SumDotCentered(d, x []float32, c float32) (sum, dot float32) {
	x = x[:len(d)]
	n := 0
	if useAsm && len(d) >= 8 {
		n = len(d) &^ 7
		sumDotCenteredAVX2(&d[0], &x[0], c, n, &sum, &dot)
	}
	for i := n; i < len(d); i++ {
		sum += d[i]
		dot += d[i] * (x[i] - c)
	}
	return sum, dot
}

// AddAffine2 sets y[i] += a·u[i] + b·v[i] + c for i < len(y) (BatchNorm's
// input gradient); u and v must be at least as long.
func AddAffine2(y []float32, a float32, u []float32, b float32, v []float32, c float32) {
	u, v = u[:len(y)], v[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		addAffine2AVX2(&y[0], a, &u[0], b, &v[0], c, n)
	}
	for i := n; i < len(y); i++ {
		y[i] += a*u[i] + b*v[i] + c
	}
}

// ClampGradAdd sets gx[i] += g[i] where lo < x[i] < hi, for i < len(gx)
// (Clip's input gradient); x and g must be at least as long.
func ClampGradAdd(gx, x, g []float32, lo, hi float32) {
	x, g = x[:len(gx)], g[:len(gx)]
	n := 0
	if useAsm && len(gx) >= 8 {
		n = len(gx) &^ 7
		clampGradAVX2(&gx[0], &x[0], &g[0], n, lo, hi)
	}
	for i := n; i < len(gx); i++ {
		if x[i] > lo && x[i] < hi {
			gx[i] += g[i]
		}
	}
}

// Gather2 sets dst[i] = src[2i] for i < len(dst) (stride-2 columns of a
// row); src must hold at least 2·len(dst) − 1 elements.
func Gather2(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:2*len(dst)-1]
	n := 0
	// The assembly reads 16 elements per 8 outputs, so it stops one
	// output early to stay inside src.
	if useAsm && len(dst) > 8 {
		n = (len(dst) - 1) &^ 7
		gather2AVX2(&dst[0], &src[0], n)
	}
	for i := n; i < len(dst); i++ {
		dst[i] = src[2*i]
	}
}

// Fill sets every element of s to v, by doubling copies (memmove runs
// vectorised where a plain loop would not).
func Fill(s []float32, v float32) {
	if len(s) == 0 {
		return
	}
	s[0] = v
	for n := 1; n < len(s); n *= 2 {
		copy(s[n:], s[:n])
	}
}

// MaxPairs2 sets y[i] = max(a[2i], a[2i+1], b[2i], b[2i+1]): one output row
// of a 2×2, stride-2 max pool from its two input rows, which must hold at
// least 2·len(y) elements and must not overlap y. Comparisons follow Go's > on the scalar tail and
// VMAXPS in the vector body, so NaN handling is unspecified; finite inputs
// give the exact maximum either way.
func MaxPairs2(y, a, b []float32) {
	if len(y) == 0 {
		return
	}
	a, b = a[:2*len(y)], b[:2*len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		maxPairs2AVX2(&y[0], &a[0], &b[0], n)
		if n < len(y) {
			// Redo the last 8 outputs rather than run a branchy tail
			// (pool rows are short, and mispredicted compares cost more
			// than the rows themselves); y does not alias a or b.
			t := len(y) - 8
			maxPairs2AVX2(&y[t], &a[2*t], &b[2*t], 8)
			return
		}
	}
	for i := n; i < len(y); i++ {
		m := a[2*i]
		if v := a[2*i+1]; v > m {
			m = v
		}
		if v := b[2*i]; v > m {
			m = v
		}
		if v := b[2*i+1]; v > m {
			m = v
		}
		y[i] = m
	}
}

// MaxInto sets y[i] = max(y[i], x[i]) for i < len(y); x must be at least as
// long as y and may alias y only exactly (x[i] is y[i]) or not at all.
func MaxInto(y, x []float32) {
	if len(y) == 0 {
		return
	}
	x = x[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		maxIntoAVX2(&y[0], &x[0], n)
		if n < len(y) {
			// max is idempotent: redo the last 8 instead of a branchy tail.
			t := len(y) - 8
			maxIntoAVX2(&y[t], &x[t], 8)
			return
		}
	}
	for i := n; i < len(y); i++ {
		if x[i] > y[i] {
			y[i] = x[i]
		}
	}
}

// MaxPairs2Arg is MaxPairs2 that also sets code[i] to where the maximum
// of window i is: 0 for a[2i], 1 for a[2i+1], 2 for b[2i], 3 for b[2i+1],
// the first of them on ties. code must be as long as y.
func MaxPairs2Arg(y []float32, code []int32, a, b []float32) {
	if len(y) == 0 {
		return
	}
	code = code[:len(y)]
	a, b = a[:2*len(y)], b[:2*len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		maxPairs2ArgAVX2(&y[0], &code[0], &a[0], &b[0], n)
		if n < len(y) {
			t := len(y) - 8 // redo the last 8, as MaxPairs2 does
			maxPairs2ArgAVX2(&y[t], &code[t], &a[2*t], &b[2*t], 8)
			return
		}
	}
	for i := n; i < len(y); i++ {
		m, c := a[2*i], int32(0)
		if v := a[2*i+1]; v > m {
			m, c = v, 1
		}
		if v := b[2*i]; v > m {
			m, c = v, 2
		}
		if v := b[2*i+1]; v > m {
			m, c = v, 3
		}
		y[i], code[i] = m, c
	}
}

// CopyRows copies rows rows of width floats: row r from src[r·srcStride:]
// to dst[r·dstStride:]. It is im2col's inner loop on small feature maps,
// where a call into memmove per row of a few floats costs more than the
// copy. Rows must not overlap between src and dst.
func CopyRows(dst []float32, dstStride int, src []float32, srcStride int, width, rows int) {
	if rows <= 0 || width <= 0 {
		return
	}
	// Bounds: the last row must fit (the assembly does not check).
	_ = dst[(rows-1)*dstStride+width-1]
	_ = src[(rows-1)*srcStride+width-1]
	copyPlanes(dst, dstStride, 0, src, srcStride, 0, width, rows, 1)
}

// CopyPlanes is CopyRows for planes sets of rows, the p-th starting
// p·dstPlane into dst and p·srcPlane into src: dst[p·dstPlane +
// r·dstStride + i] = src[p·srcPlane + r·srcStride + i]. One call moves a
// channel of several images (depthwise convolutions), where a CopyRows
// per image cost more than the copy on 7×7 maps.
func CopyPlanes(dst []float32, dstStride, dstPlane int, src []float32, srcStride, srcPlane int, width, rows, planes int) {
	if planes <= 0 || rows <= 0 || width <= 0 {
		return
	}
	// Bounds: the last row of the last plane must fit (the assembly does
	// not check); strides are not negative.
	if dstStride < 0 || srcStride < 0 || dstPlane < 0 || srcPlane < 0 {
		panic("vec: CopyPlanes with a negative stride")
	}
	_ = dst[(planes-1)*dstPlane+(rows-1)*dstStride+width-1]
	_ = src[(planes-1)*srcPlane+(rows-1)*srcStride+width-1]
	copyPlanes(dst, dstStride, dstPlane, src, srcStride, srcPlane, width, rows, planes)
}

// copyPlanes is CopyPlanes after the bounds checks.
func copyPlanes(dst []float32, dstStride, dstPlane int, src []float32, srcStride, srcPlane int, width, rows, planes int) {
	if useAsm && width >= 4 {
		// width 4–7: the rows of 7×7 maps, which depthwise convolutions
		// copy a lot
		copyPlanesAVX(&dst[0], dstStride, dstPlane, &src[0], srcStride, srcPlane, width, rows, planes)
		return
	}
	for p := range planes {
		for r := range rows {
			d := dst[p*dstPlane+r*dstStride:][:width]
			s := src[p*srcPlane+r*srcStride:][:width]
			if width > 32 {
				copy(d, s)
				continue
			}
			for i := range d {
				d[i] = s[i]
			}
		}
	}
}

// CopyRowsAt copies len(srcOff) rows of width floats from anywhere in src:
// dst[r·dstStride+i] = src[srcOff[r]+i]. GEMM packing uses it to read a
// convolution's column matrix straight from the padded image.
func CopyRowsAt(dst []float32, dstStride int, src []float32, srcOff []int, width int) {
	rows := len(srcOff)
	if rows == 0 || width <= 0 {
		return
	}
	// Bounds (the assembly does not check).
	_ = dst[(rows-1)*dstStride+width-1]
	for _, o := range srcOff {
		if o < 0 || o+width > len(src) {
			panic(fmt.Sprintf("vec: CopyRowsAt row at %d of width %d outside a source of %d", o, width, len(src)))
		}
	}
	if useAsm && width >= 8 {
		copyRowsAtAVX2(&dst[0], dstStride, &src[0], &srcOff[0], width, rows)
		return
	}
	for r, o := range srcOff {
		d, s := dst[r*dstStride:r*dstStride+width], src[o:o+width]
		for i := range d {
			d[i] = s[i]
		}
	}
}

// AddRows adds rows rows of width floats: dst[r·dstStride+i] +=
// src[r·srcStride+i] (col2im's inner loop, as CopyRows is im2col's).
func AddRows(dst []float32, dstStride int, src []float32, srcStride int, width, rows int) {
	if rows <= 0 || width <= 0 {
		return
	}
	_ = dst[(rows-1)*dstStride+width-1]
	_ = src[(rows-1)*srcStride+width-1]
	done := 0
	if useAsm && width >= 8 {
		done = width &^ 7
		addRowsAVX2(&dst[0], dstStride, &src[0], srcStride, done, rows)
	}
	if done == width {
		return
	}
	for r := range rows {
		d, s := dst[r*dstStride+done:r*dstStride+width], src[r*srcStride+done:r*srcStride+width]
		for i := range d {
			d[i] += s[i]
		}
	}
}

// ReluGrad sets gx[i] = g[i] where x[i] > 0, else 0: ReluGradAdd for a
// gradient buffer nothing has written yet.
func ReluGrad(gx, x, g []float32) {
	x, g = x[:len(gx)], g[:len(gx)]
	n := 0
	if useAsm && len(gx) >= 8 {
		n = len(gx) &^ 7
		reluGradSetAVX2(&gx[0], &x[0], &g[0], n)
	}
	for i := n; i < len(gx); i++ {
		if x[i] > 0 {
			gx[i] = g[i]
		} else {
			gx[i] = 0
		}
	}
}

// Affine2 sets y[i] = a·u[i] + b·v[i] + c: AddAffine2 for a gradient
// buffer nothing has written yet.
func Affine2(y []float32, a float32, u []float32, b float32, v []float32, c float32) {
	u, v = u[:len(y)], v[:len(y)]
	n := 0
	if useAsm && len(y) >= 8 {
		n = len(y) &^ 7
		affine2AVX2(&y[0], a, &u[0], b, &v[0], c, n)
	}
	for i := n; i < len(y); i++ {
		y[i] = a*u[i] + b*v[i] + c
	}
}

// GatherRows2 sets dst[r·dstStride+i] = src[r·srcStride+2i] for i < width
// and r < rows: CopyRows for stride-2 columns (im2col of a stride-2
// convolution). Each source row needs 2·width−1 elements.
func GatherRows2(dst []float32, dstStride int, src []float32, srcStride int, width, rows int) {
	if rows <= 0 || width <= 0 {
		return
	}
	_ = dst[(rows-1)*dstStride+width-1]
	_ = src[(rows-1)*srcStride+2*width-2]
	if useAsm && width >= 5 {
		gatherRows2AVX2(&dst[0], dstStride, &src[0], srcStride, width, rows)
		return
	}
	for r := range rows {
		d, s := dst[r*dstStride:r*dstStride+width], src[r*srcStride:r*srcStride+2*width-1]
		for i := range d {
			d[i] = s[2*i]
		}
	}
}
