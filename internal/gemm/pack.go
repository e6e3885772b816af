package gemm

// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it, so that the kernel's loads are unit-stride whatever the caller's
// layout, and pads partial panels with zeros so the kernel never needs an
// edge case in its k loop.

// packAPanel writes the mr×kc block op(A)[i0:i0+mr, p0:p0+kc] as one
// micro-panel: dst[p*MR+r] = op(A)(i0+r, p0+p), rows r >= mr zeroed.
func packAPanel(dst, a []float32, lda int, transA bool, i0, mr, p0, kc, MR int) {
	dst = dst[:kc*MR]
	if transA {
		// op(A)(i, p) = a[p*lda+i]: each k step is a contiguous run.
		for p := 0; p < kc; p++ {
			d := dst[p*MR : p*MR+MR : p*MR+MR]
			copy(d, a[(p0+p)*lda+i0:(p0+p)*lda+i0+mr])
			for r := mr; r < MR; r++ {
				d[r] = 0
			}
		}
		return
	}
	// op(A)(i, p) = a[i*lda+p]: a transpose of mr rows.
	done := 0
	if mr == 8 && MR == 8 {
		done = kc / 8 * 8
		transpose8(a[i0*lda+p0:], lda, dst, MR, kc/8)
	}
	for r := 0; r < mr; r++ {
		src := a[(i0+r)*lda+p0 : (i0+r)*lda+p0+kc]
		for p := done; p < kc; p++ {
			dst[p*MR+r] = src[p]
		}
	}
	for r := mr; r < MR; r++ {
		for p := 0; p < kc; p++ {
			dst[p*MR+r] = 0
		}
	}
}

// packBPanel writes the kc×nr block op(B)[p0:p0+kc, j0:j0+nr] as one
// micro-panel: dst[p*NR+j] = op(B)(p0+p, j0+j), columns j >= nr zeroed.
func packBPanel(dst, b []float32, ldb int, transB bool, p0, kc, j0, nr, NR int) {
	dst = dst[:kc*NR]
	if !transB {
		// op(B)(p, j) = b[p*ldb+j]: each k step is a contiguous run.
		for p := 0; p < kc; p++ {
			d := dst[p*NR : p*NR+NR : p*NR+NR]
			copy(d, b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+nr])
			for j := nr; j < NR; j++ {
				d[j] = 0
			}
		}
		return
	}
	// op(B)(p, j) = b[j*ldb+p]: a transpose, done in 8×8 blocks with the
	// ragged k and column remainders in scalar code.
	kc8 := kc / 8 * 8
	j := 0
	for ; j+8 <= nr; j += 8 {
		transpose8(b[(j0+j)*ldb+p0:], ldb, dst[j:], NR, kc/8)
		for jj := j; jj < j+8; jj++ {
			src := b[(j0+jj)*ldb+p0 : (j0+jj)*ldb+p0+kc]
			for p := kc8; p < kc; p++ {
				dst[p*NR+jj] = src[p]
			}
		}
	}
	for ; j < nr; j++ {
		src := b[(j0+j)*ldb+p0 : (j0+j)*ldb+p0+kc]
		for p, v := range src {
			dst[p*NR+j] = v
		}
	}
	if nr < NR {
		for p := 0; p < kc; p++ {
			d := dst[p*NR+nr : p*NR+NR]
			for i := range d {
				d[i] = 0
			}
		}
	}
}

// transpose8Go is the portable transpose8: dst[p*ldd+r] = src[r*lds+p] for
// r < 8, p < 8*blocks.
func transpose8Go(src []float32, lds int, dst []float32, ldd int, blocks int) {
	for r := 0; r < 8; r++ {
		row := src[r*lds : r*lds+8*blocks]
		for p, v := range row {
			dst[p*ldd+r] = v
		}
	}
}
