package gemm

// kernelGeneric is the portable 4×4 micro-kernel, with the same operand
// addressing as the assembly kernels: A(r, p) = a[r*rsa+p*csa],
// B(p, j) = b[p*ldb+j], C[r][j] = c[r*ldc+j].
func kernelGeneric(k int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, loadC bool) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	// Touch the last elements once so the compiler can drop most bounds
	// checks in the loop below.
	_ = a[(k-1)*csa+3*rsa]
	_ = b[(k-1)*ldb+3]
	ia, ib := 0, 0
	for p := 0; p < k; p++ {
		bb := b[ib : ib+4 : ib+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		a0 := a[ia]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[ia+rsa]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[ia+2*rsa]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[ia+3*rsa]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		ia += csa
		ib += ldb
	}
	storeRow4(c[0*ldc:0*ldc+4:0*ldc+4], alpha*c00, alpha*c01, alpha*c02, alpha*c03, beta, loadC)
	storeRow4(c[1*ldc:1*ldc+4:1*ldc+4], alpha*c10, alpha*c11, alpha*c12, alpha*c13, beta, loadC)
	storeRow4(c[2*ldc:2*ldc+4:2*ldc+4], alpha*c20, alpha*c21, alpha*c22, alpha*c23, beta, loadC)
	storeRow4(c[3*ldc:3*ldc+4:3*ldc+4], alpha*c30, alpha*c31, alpha*c32, alpha*c33, beta, loadC)
}

func storeRow4(c []float32, v0, v1, v2, v3, beta float32, loadC bool) {
	if loadC {
		v0 += beta * c[0]
		v1 += beta * c[1]
		v2 += beta * c[2]
		v3 += beta * c[3]
	}
	c[0], c[1], c[2], c[3] = v0, v1, v2, v3
}
