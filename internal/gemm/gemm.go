package gemm

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices.
//
// op(A) is m×k (A is m×k with leading dim lda, or k×m when transA), op(B) is
// k×n (B is k×n with ldb, or n×k when transB), C is m×n with ldc. beta==0
// means C is overwritten (NaNs in C ignored). threads<=0 means
// parallel.Threads(); threads==1 runs entirely on the calling goroutine and
// does not allocate in steady state. Sgemm is safe for concurrent use.
//
// Inconsistent arguments (negative sizes, a leading dimension smaller than
// the row width, a slice too short for its view) are programming errors and
// panic.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	checkSizes(m, n, k)
	checkOp("A", "lda", a, transA, m, k, lda)
	checkOp("B", "ldb", b, transB, k, n, ldb)
	checkMatrix("C", "ldc", c, m, n, ldc)
	start(job{
		transA: transA, transB: transB,
		m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
	}, threads)
}

// Sgemv is Sgemm for one row of A, a vector a of length k (a fully
// connected layer at batch 1): c = alpha·a·op(B) + beta·c, op(B) = B (k
// rows of n) or with transB Bᵀ (B has n rows of k). Packing B, which the
// GEMM path does, would read and write all of B to use each element once;
// here each element is read once, in place: with transB each output is a
// dot product with a row of B, else c accumulates the rows of B scaled by
// a's elements. The outputs are split over workers, so results do not
// depend on the thread count (they may differ from Sgemm's in the last
// bits: the sums are ordered differently).
func Sgemv(transB bool, n, k int, alpha float32, a, b []float32, ldb int, beta float32, c []float32, threads int) {
	checkSizes(1, n, k)
	checkMatrix("A", "lda", a, 1, k, k)
	checkOp("B", "ldb", b, transB, k, n, ldb)
	checkMatrix("C", "ldc", c, 1, n, n)
	if n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(c, 1, n, n, beta)
		return
	}
	a, c = a[:k], c[:n]
	// B is read once from memory: a second core adds bandwidth at sizes
	// where a GEMM would not split.
	if n*k < minParallelGemv {
		threads = 1
	}
	// Split in blocks of 8 outputs: vec.Axpy's vector loop and scalar tail
	// round differently, so each output must land in the same place
	// whatever the split.
	parallel.For((n+7)/8, threads, func(lo, hi, _ int) {
		lo, hi = lo*8, min(hi*8, n)
		c := c[lo:hi]
		if transB {
			for j := range c {
				d := alpha * vec.Dot(a, b[(lo+j)*ldb:][:k])
				if beta != 0 {
					d += beta * c[j]
				}
				c[j] = d
			}
			return
		}
		scaleC(c, 1, len(c), len(c), beta)
		for kk, v := range a {
			vec.Axpy(c, alpha*v, b[kk*ldb+lo:][:len(c)])
		}
	})
}

// Epilogue is what SgemmEpilogue applies to each element of the product
// before it leaves the cache: C[i][j] = min(max(P[i][j] + Bias[i] +
// Res[i][j], Lo), Hi), added in that order (a convolution's bias, a fused
// residual addition and a fused activation). Bias may be nil; Lo and
// Hi may be infinite; a NaN stays NaN.
type Epilogue struct {
	Bias   []float32
	Lo, Hi float32
	// Res, when not nil, is added after the bias and before the clamp: a
	// matrix laid out as C (row stride ldc), such as a residual branch.
	Res []float32
}

// SgemmEpilogue computes C = epi(op(A)·op(B)), overwriting C. The
// epilogue runs on each MR-row panel of a column block right after its
// last k block, while it is in L1, rather than as a pass over all of C
// afterwards (which, for a convolution's output, comes from memory).
func SgemmEpilogue(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, epi *Epilogue, threads int) {
	checkSizes(m, n, k)
	checkOp("A", "lda", a, transA, m, k, lda)
	checkOp("B", "ldb", b, transB, k, n, ldb)
	checkMatrix("C", "ldc", c, m, n, ldc)
	if epi.Bias != nil && len(epi.Bias) < m {
		panic(fmt.Sprintf("gemm: epilogue bias has %d elements, C has %d rows", len(epi.Bias), m))
	}
	if epi.Res != nil {
		checkMatrix("Res", "ldc", epi.Res, m, n, ldc)
	}
	if k == 0 && m > 0 && n > 0 {
		scaleC(c, m, n, ldc, 0)
		for i := range m {
			epi.apply(c[i*ldc:i*ldc+n], i, i*ldc)
		}
		return
	}
	start(job{
		transA: transA, transB: transB,
		m: m, n: n, k: k, alpha: 1, beta: 0,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, epi: epi,
	}, threads)
}

// apply runs the epilogue on part of row i of C, which starts at offset
// off of C.
func (e *Epilogue) apply(row []float32, i, off int) {
	var bias float32
	if e.Bias != nil {
		bias = e.Bias[i]
	}
	var res []float32
	if e.Res != nil {
		res = e.Res[off : off+len(row)]
	}
	vec.AddBiasResidualClamp(row, row, bias, res, e.Lo, e.Hi)
}

// checkSizes panics on a negative dimension.
func checkSizes(m, n, k int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
}

// start runs a checked job: nothing for an empty C, only the beta scaling
// when there is nothing to multiply.
func start(jb job, threads int) {
	if jb.m == 0 || jb.n == 0 {
		return
	}
	if jb.alpha == 0 || jb.k == 0 {
		scaleC(jb.c, jb.m, jb.n, jb.ldc, jb.beta)
		return
	}
	jb.kn = active.Load()
	jb.do(parallel.Resolve(threads))
}

// checkOp is checkMatrix for op(X), rows×cols: X itself is cols×rows when
// trans.
func checkOp(name, ldName string, buf []float32, trans bool, rows, cols, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	checkMatrix(name, ldName, buf, rows, cols, ld)
}

// checkMatrix panics unless buf can hold a rows×cols row-major view with
// leading dimension ld.
func checkMatrix(name, ldName string, buf []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s = %d, must be >= max(1, %d) (the row width of %s)", ldName, ld, cols, name))
	}
	if rows > 0 && cols > 0 {
		if need := (rows-1)*ld + cols; len(buf) < need {
			panic(fmt.Sprintf("gemm: len(%s) = %d, need >= %d for a %d×%d view with %s = %d", name, len(buf), need, rows, cols, ldName, ld))
		}
	}
}

// scaleC does C = beta*C, writing zeros (not beta*NaN) when beta == 0.
func scaleC(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// Tunables; variables so tests can shrink them to reach every code path
// with small matrices.
var (
	// minParallelWork is the m*n*k below which a second worker does not
	// pay: 2^20 multiply-adds take about 20µs on one core. Handing half to
	// a pool worker that is spinning costs a few µs (internal/parallel);
	// with fresh goroutines per call, which had to wake a thread, the bound
	// was 2^22 (at 64³, batch-1 inference of the 28×28 zoo models ran
	// slower on two threads than on one). `shears run` of the BN-folded
	// exports, --threads 2, batch 1, bounds 2^22 / 2^20 / 2^18: resnet20
	// 0.86 / 0.63 / 0.65 ms, mobilenetv2-s 0.42–0.52 / 0.39 / 0.39–0.48,
	// lenet5 0.080 / 0.065 / 0.077–0.099.
	minParallelWork = 1 << 20
	// minParallelGemv is Sgemv's n*k below which one worker does it all.
	minParallelGemv = 1 << 18
	// maxAPack bounds, in floats, the op(A) block packed up front (16 MiB);
	// taller A is processed in row blocks.
	maxAPack = 1 << 22
	// directANPanels: if op(B) is at most this many NR panels wide, each A
	// element is used so few times that packing A would cost about as much
	// as the multiply, so A is read in place (the kernels take arbitrary
	// row and k strides for A, so this works with and without transA).
	directANPanels = 4
	// directBMPanels: likewise, B is read in place when op(A) is at most
	// this many MR panels tall (the convolution forward shape: few output
	// channels, many pixels).
	directBMPanels = 4
	// unitsPerWorker is how many pieces per worker a parallel call is cut
	// into for dynamic balancing.
	unitsPerWorker = 4
	// kcOverride and ncOverride replace the kernel's blocking when > 0
	// (tests only).
	kcOverride, ncOverride int
)

// maxTile is the largest mr*nr of any kernel (avx512: 8×32).
const maxTile = 8 * 32

// maxRowsPanels bounds the full panels of one B block that rowsDirect
// tracks (nc/nr: 16 for avx512, 48 for avx2).
const maxRowsPanels = 64

// job is one Sgemm call after argument checking.
type job struct {
	kn             *kernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	rb             *RowsB // B as scattered rows (SgemmRowsB); b is unused then
	ra             *RowsB // A as scattered rows (SgemmRowsA); a is unused then
	c              []float32
	ldc            int
	epi            *Epilogue // applied to each row panel as it is finished

	kc, nc           int
	directA, directB bool
	// rowsDirect: B is a RowsB and op(A) is short, so full B panels that
	// lie inside one segment are read in place by the rows kernels rather
	// than packed (the convolution forward shape, as for directB).
	rowsDirect bool
	// apack holds op(A) rows [mb0, mb0+mPad) packed for every k: block pc
	// (k offset) starts at pc*mPad, and within it the panel of row ir starts
	// at (ir-mb0)*kc.
	apack []float32
	mb0   int
	mPad  int
}

// workspace holds the packing buffers of one worker: the packed op(A) of
// the whole call (only the caller's workspace uses it) and a packed B block.
type workspace struct {
	a, b   []float32
	pieces []piece // RowsB packing
}

// pool recycles workspaces between calls (and between concurrent callers),
// which is what keeps steady-state calls allocation-free. One Get per
// single-threaded call keeps small multiplies cheap.
var pool = sync.Pool{New: func() any { return new(workspace) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func (jb *job) do(threads int) {
	kn := jb.kn
	MR, NR := kn.mr, kn.nr
	jb.kc, jb.nc = kn.kc, kn.nc
	if kcOverride > 0 {
		jb.kc = kcOverride
	}
	if ncOverride > 0 {
		jb.nc = ncOverride / NR * NR
	}
	// Split k into equal blocks (rounded up to a multiple of 8 for the
	// transposing packers) rather than full blocks plus a thin remainder,
	// which would pay the C read/write of a whole pass for little work.
	nkb := (jb.k + jb.kc - 1) / jb.kc
	jb.kc = ((jb.k+nkb-1)/nkb + 7) / 8 * 8
	mPanels := (jb.m + MR - 1) / MR
	nPanels := (jb.n + NR - 1) / NR
	// A RowsB is always read in place (panel by panel, see aPanel).
	jb.directA = nPanels <= directANPanels || jb.ra != nil
	jb.directB = !jb.transB && jb.rb == nil && mPanels <= directBMPanels
	// A RowsB is usually a padded image small enough to stay in L2, so
	// reading it in place pays for twice as many row panels as directB.
	jb.rowsDirect = jb.rb != nil && !jb.transB && kn.rows != 0 && mPanels <= 2*directBMPanels &&
		jb.nc/NR <= maxRowsPanels
	if jb.m*jb.n*jb.k < minParallelWork {
		threads = 1
	}

	// Rows per block of A packed up front (all of A unless it is huge).
	mb := jb.m
	if !jb.directA {
		if lim := max(MR, maxAPack/jb.k/MR*MR); mb > lim {
			mb = lim
		}
	}
	ws := pool.Get().(*workspace)
	for mb0 := 0; mb0 < jb.m; mb0 += mb {
		rows := min(mb, jb.m-mb0)
		jb.mb0 = mb0
		jb.mPad = (rows + MR - 1) / MR * MR
		if threads > 1 {
			runParallel(jb, threads, rows, ws)
			continue
		}
		if !jb.directA {
			ws.a = grow(ws.a, jb.mPad*jb.k)
			jb.apack = ws.a
			jb.packA(0, jb.mPad/MR)
		}
		ws.b = grow(ws.b, jb.wsSize())
		jb.run(mb0, mb0+rows, 0, jb.n, ws)
	}
	jb.apack = nil
	pool.Put(ws)
}

// runParallel computes rows [orig.mb0, orig.mb0+rows) with several
// workers. It is separate from do so that only this path pays for the
// closure's heap allocation.
//
// Work is handed out dynamically: C is cut into units of whole NR-column
// panels (or MR-row panels when C is tall and thin) that workers claim from
// an atomic counter. Waking an idle core can take far longer than a small
// multiply (about 100µs on some VMs), and other processes may hold a core,
// so a static split would leave the caller's goroutine idle at the end.
// Each C tile is still computed by exactly the same operations whichever
// worker claims it, so results do not depend on the thread count.
func runParallel(orig *job, threads, rows int, ws *workspace) {
	// The closure below escapes; copying keeps the caller's job (and so
	// every threads==1 call) on the stack.
	local := *orig
	jb := &local
	MR, NR := jb.kn.mr, jb.kn.nr
	mPanels := jb.mPad / MR
	nPanels := (jb.n + NR - 1) / NR
	// Split the columns when there are enough of them: each unit then packs
	// only its own part of B. Otherwise (tall, thin C) split the rows: each
	// unit packs just the A panels it uses into the shared buffer, and B,
	// which is narrow, is cheap to pack per unit.
	splitN := nPanels >= 2*threads || nPanels >= mPanels
	if !splitN && !jb.directA {
		ws.a = grow(ws.a, jb.mPad*jb.k)
		jb.apack = ws.a
	}
	// About four units per worker balance well; more would re-stream A (or
	// re-pack B) more often.
	var unit, units int
	if splitN {
		unit = min(max(nPanels/(unitsPerWorker*threads), 1), jb.nc/NR)
		units = (nPanels + unit - 1) / unit
	} else {
		// At least 8 panels per unit (each unit packs B), but no more
		// than a worker's share: C of 8 panels (64 rows) must still split.
		unit = max(mPanels/(unitsPerWorker*threads), min(8, (mPanels+threads-1)/threads))
		units = (mPanels + unit - 1) / unit
	}
	// With a column split every unit needs all of A. Each worker packs its
	// own copy rather than sharing one: a shared copy needs a barrier, and
	// on a busy machine a worker descheduled mid-pack stalls everyone at it
	// for a whole scheduler slice. Packing is a few percent of the multiply
	// on two cores, the machine this is tuned for.
	privateA := splitN && !jb.directA
	var nextUnit atomic.Int64
	work := func(_, _, _ int) {
		ws := pool.Get().(*workspace)
		ws.b = grow(ws.b, jb.wsSize())
		own := *jb // this worker's view, with its private packed A
		for {
			u := int(nextUnit.Add(1) - 1)
			if u >= units {
				break
			}
			if privateA && own.apack == nil {
				// Only once the worker has claimed a unit: one that wakes
				// up after all are taken should not pack for nothing.
				ws.a = grow(ws.a, jb.mPad*jb.k)
				own.apack = ws.a
				own.packA(0, mPanels)
			}
			lo, hi := u*unit, (u+1)*unit
			if splitN {
				own.run(jb.mb0, jb.mb0+rows, lo*NR, min(hi*NR, jb.n), ws)
				continue
			}
			hi = min(hi, mPanels)
			if !jb.directA {
				jb.packA(lo, hi)
			}
			jb.run(jb.mb0+lo*MR, jb.mb0+min(hi*MR, rows), 0, jb.n, ws)
		}
		pool.Put(ws)
	}
	parallel.For(min(threads, units), threads, work)
}

// packA packs A micro-panels [lo, hi) of the current row block for all k.
func (jb *job) packA(lo, hi int) {
	MR := jb.kn.mr
	end := jb.mb0 + jb.mPad
	end = min(end, jb.m)
	for pc := 0; pc < jb.k; pc += jb.kc {
		kc := min(jb.kc, jb.k-pc)
		blk := jb.apack[pc*jb.mPad:]
		for q := lo; q < hi; q++ {
			i0 := jb.mb0 + q*MR
			packAPanel(blk[q*MR*kc:], jb.a, jb.lda, jb.transA, i0, min(MR, end-i0), pc, kc, MR)
		}
	}
}

// fullTilesRows computes the full-width tiles of one row panel for a
// rowsDirect job: runs of panels read in place go to the rows kernel, runs
// of packed ones to the ordinary kernel, as few calls as possible.
func (jb *job) fullTilesRows(direct []int, kc, pc int, ap []float32, rsa, csa int, bbuf, c []float32, beta float32, loadC bool) {
	kn, NR := jb.kn, jb.kn.nr
	boff := jb.rb.RowOff[pc : pc+kc]
	for q := 0; q < len(direct); {
		e := q + 1
		if off := direct[q]; off >= 0 {
			for e < len(direct) && direct[e] == direct[e-1]+NR {
				e++
			}
			microRows(kn.rows, kc, ap, rsa, csa, jb.rb.Data[off:], boff, c[q*NR:], jb.ldc, jb.alpha, beta, loadC, e-q, NR)
		} else {
			for e < len(direct) && direct[e] < 0 {
				e++
			}
			micro(kn.panels[0].id, kc, ap, rsa, csa, bbuf[q*NR*kc:], NR, c[q*NR:], jb.ldc, jb.alpha, beta, loadC, e-q, kc*NR)
		}
		q = e
	}
}

// wsSize is the per-worker scratch: a packed kc×nc B block plus one A edge
// panel, and the rows of a RowsB panel gathered before packing (at most
// nr ≥ mr of them).
func (jb *job) wsSize() int { return jb.kc*jb.nc + jb.kc*jb.kn.mr + jb.kc*jb.kn.nr }

// run computes C[i0:i1, j0:j1] over all of k. i0 is a multiple of MR from
// mb0 and j0 a multiple of NR.
func (jb *job) run(i0, i1, j0, j1 int, wsp *workspace) {
	kn := jb.kn
	MR, KC, NC := kn.mr, jb.kc, jb.nc
	ws := wsp.b
	bbuf := ws[:KC*NC]
	aedge := ws[KC*NC : KC*NC+KC*MR]
	rowsTmp := ws[KC*NC+KC*MR:]
	var tile [maxTile]float32
	// direct[q] is where full panel q of the block starts in a RowsB read
	// in place, or −1 when it was packed (rowsDirect only).
	var direct [maxRowsPanels]int
	a, b, c := jb.a, jb.b, jb.c
	lda, ldb, ldc := jb.lda, jb.ldb, jb.ldc
	alpha := jb.alpha
	for jc := j0; jc < j1; jc += NC {
		nc := min(NC, j1-jc)
		for pc := 0; pc < jb.k; pc += KC {
			kc := min(KC, jb.k-pc)
			// Only the first k block applies the caller's beta; later ones
			// accumulate onto what the first wrote.
			beta, loadC := jb.beta, jb.beta != 0
			if pc > 0 {
				beta, loadC = 1, true
			}
			// Pack the B block: panel jr (width w) starts at bbuf[jr*kc].
			// In-place B still needs its ragged last panel zero-padded.
			for jr := 0; jr < nc; {
				w, _ := kn.panel(nc - jr)
				nr := min(w, nc-jr)
				switch {
				case jb.rb != nil:
					if jb.rowsDirect && w == kn.nr && nr == w {
						if off, ok := jb.rb.panelStart(jc+jr, w); ok {
							direct[jr/kn.nr] = off
							break
						}
						direct[jr/kn.nr] = -1
					}
					packRowsPanel(bbuf[jr*kc:], jb.rb, jb.transB, pc, kc, jc+jr, nr, w, &wsp.pieces, rowsTmp)
				case !jb.directB || nr < w:
					packBPanel(bbuf[jr*kc:], b, ldb, jb.transB, pc, kc, jc+jr, nr, w)
				}
				jr += w
			}
			for ir := i0; ir < i1; ir += MR {
				mr := min(MR, i1-ir)
				var ap []float32
				rsa, csa := 1, MR
				switch {
				case jb.ra != nil:
					ap, rsa, csa = jb.ra.aPanel(aedge, rowsTmp, ir, mr, pc, kc, MR)
				case !jb.directA:
					ap = jb.apack[pc*jb.mPad+(ir-jb.mb0)*kc:]
				case mr < MR:
					packAPanel(aedge, a, lda, jb.transA, ir, mr, pc, kc, MR)
					ap = aedge
				case jb.transA:
					ap, rsa, csa = a[pc*lda+ir:], 1, lda
				default:
					ap, rsa, csa = a[ir*lda+pc:], lda, 1
				}
				jr := 0
				if nFull := nc / kn.nr; mr == MR && nFull > 0 && jb.rowsDirect {
					jb.fullTilesRows(direct[:nFull], kc, pc, ap, rsa, csa, bbuf, c[ir*ldc+jc:], beta, loadC)
					jr = nFull * kn.nr
				} else if mr == MR && nFull > 0 {
					// All full-width tiles of this row panel in one call.
					bp, ldbp, bstep := bbuf, kn.nr, kc*kn.nr
					if jb.directB {
						bp, ldbp, bstep = b[pc*ldb+jc:], ldb, kn.nr
					}
					micro(kn.panels[0].id, kc, ap, rsa, csa, bp, ldbp, c[ir*ldc+jc:], ldc, alpha, beta, loadC, nFull, bstep)
					jr = nFull * kn.nr
				}
				for jr < nc {
					w, id := kn.panel(nc - jr)
					nr := min(w, nc-jr)
					bp, ldbp := bbuf[jr*kc:], w
					if jb.directB && nr == w {
						bp, ldbp = b[pc*ldb+jc+jr:], ldb
					}
					// A full panel of a rowsDirect B that was not packed
					// (only reached here by the last, short row panel).
					rowsOff := -1
					if jb.rowsDirect && w == kn.nr && nr == w {
						rowsOff = direct[jr/kn.nr]
					}
					cOff := ir*ldc + jc + jr
					jr += w
					if mr == MR && nr == w {
						micro(id, kc, ap, rsa, csa, bp, ldbp, c[cOff:], ldc, alpha, beta, loadC, 1, 0)
						continue
					}
					// Edge tile: compute the full tile into scratch, then
					// write back only the part inside C.
					if rowsOff >= 0 {
						microRows(kn.rows, kc, ap, rsa, csa, jb.rb.Data[rowsOff:], jb.rb.RowOff[pc:pc+kc], tile[:], w, alpha, 0, false, 1, 0)
					} else {
						micro(id, kc, ap, rsa, csa, bp, ldbp, tile[:], w, alpha, 0, false, 1, 0)
					}
					for r := 0; r < mr; r++ {
						dst := c[cOff+r*ldc : cOff+r*ldc+nr]
						src := tile[r*w : r*w+nr]
						if loadC {
							for j, v := range src {
								dst[j] = v + beta*dst[j]
							}
						} else {
							copy(dst, src)
						}
					}
				}
				if jb.epi != nil && pc+kc == jb.k {
					for r := ir; r < ir+mr; r++ {
						jb.epi.apply(c[r*ldc+jc:r*ldc+jc+nc], r, r*ldc+jc)
					}
				}
			}
		}
	}
}
