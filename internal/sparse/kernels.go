package sparse

// useAsm selects the assembly kernels; tests turn it off to run the Go
// ones on the same machine.
var useAsm = asmAvailable

// index is a column index: 16 bits when the weight has at most 2¹⁶
// inputs (a CSR nonzero is then 6 bytes rather than 8: the batch-1
// product is bound by reading the weight), else 32.
type index interface{ ~uint16 | ~int32 }

// csrDot is Σ_k val[k]·x[col[k]]; every column must index x.
func csrDot[T index](val []float32, col []T, x []float32) float32 {
	if len(val) == 0 {
		return 0
	}
	col = col[:len(val)]
	if useAsm {
		// A type switch on the element pointer: converting the slice to
		// an interface would allocate on every row.
		switch c := any(&col[0]).(type) {
		case *uint16:
			return csrDot16AVX2(&val[0], c, len(val), &x[0])
		case *int32:
			return csrDotAVX2(&val[0], c, len(val), &x[0])
		}
	}
	return csrDotGo(val, col, x)
}

// panelRow sets out[j] = Σ_k val[k]·p[col[k]·ldp+j] for j < len(out),
// adding to out when acc; every row col[k] of p must hold len(out) values.
func panelRow[T index](out, val []float32, col []T, p []float32, ldp int, acc bool) {
	if !useAsm || len(out) == 0 || len(val) == 0 {
		panelRowGo(out, val, col, p, ldp, acc)
		return
	}
	col = col[:len(val)]
	a := 0
	if acc {
		a = 1
	}
	switch c := any(&col[0]).(type) {
	case *uint16:
		panelRow16AVX2(&out[0], len(out), &val[0], c, len(val), &p[0], ldp, a)
	case *int32:
		panelRowAVX2(&out[0], len(out), &val[0], c, len(val), &p[0], ldp, a)
	}
}

// bsrRowDot is Σ over 1×c blocks (c = 4 or 8) of val·x[bcol:bcol+c]; only
// the last block may reach past len(x).
func bsrRowDot(c int, val []float32, bcol []int32, x []float32) float32 {
	nb := len(bcol)
	if nb == 0 {
		return 0
	}
	full := nb
	if int(bcol[nb-1])+c > len(x) {
		full--
	}
	var s float32
	switch {
	case full == 0:
	case useAsm && c == 8:
		s = bsr1x8DotAVX2(&val[0], &bcol[0], full, &x[0])
	case useAsm && c == 4:
		s = bsr1x4DotAVX2(&val[0], &bcol[0], full, &x[0])
	default:
		s = bsrRowDotGo(c, val[:full*c], bcol[:full], x)
	}
	if full < nb {
		s += bsrRowDotGo(c, val[full*c:], bcol[full:], x)
	}
	return s
}

// nmDot is Σ_k val[k]·x[(k/n)·m+pos[k]] over a row of N:M groups.
func nmDot(val []float32, pos []uint8, n, m int, x []float32) float32 {
	if !useAsm || len(val) < 8 {
		return nmDotGo(val, pos, n, m, x)
	}
	pos = pos[:len(val)]
	if 2*n == m && m <= 8 {
		// Eight values are 8/n groups, 16 inputs: lane j's group is
		// j/n, which sits in the first vector of x for j < 4.
		var lane [8]int32
		for j := range lane {
			lane[j] = int32(j/n*m) % 8
		}
		chunks := len(val) / 8
		if 16*chunks > len(x) {
			chunks-- // a short last group: its vector would read past x
		}
		s := float32(0)
		if chunks > 0 {
			s = nmHalfDotAVX2(&val[0], &pos[0], chunks, &x[0], &lane)
		}
		if k := 8 * chunks; k < len(val) {
			s += nmDotGo(val[k:], pos[k:], n, m, x[16*chunks:])
		}
		return s
	}
	if 8%n != 0 {
		return nmDotGo(val, pos, n, m, x)
	}
	// Eight values cover 8/n whole groups: lane j reads group j/n.
	var base [8]int32
	for j := range base {
		base[j] = int32(j / n * m)
	}
	k8 := len(val) &^ 7
	s := nmDotAVX2(&val[0], &pos[0], k8, &x[0], &base, 8/n*m)
	if k8 < len(val) {
		s += nmDotGo(val[k8:], pos[k8:], n, m, x[k8/n*m:])
	}
	return s
}
