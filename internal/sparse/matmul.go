package sparse

import (
	"fmt"
	"math"
	"sync"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/internal/vec"
)

// minParallelWork is the multiply-adds below which a product runs on the
// calling goroutine: waking a worker costs tens of microseconds on a VM.
const minParallelWork = 1 << 15

// panelTile is the column tile of a panel product: all output rows are
// computed for one tile of columns before the next, so the tile of the
// panel (inputs × panelTile floats) stays in L2 while every row reads it.
const panelTile = 128

// MatMul sets y = epi(x·Wᵀ): Y[b][o] = Σ_i X[b][i]·W[o][i] for a batch×cols
// x and a batch×rows y (row-major), then bias, residual (laid out as y)
// and clamp from epi, which may be nil. threads <= 0 means
// parallel.Threads().
func MatMul(w Matrix, x []float32, batch int, y []float32, epi *gemm.Epilogue, threads int) error {
	rows, cols := w.Dims()
	if batch < 0 {
		return fmt.Errorf("sparse: negative batch %d", batch)
	}
	if len(x) < batch*cols {
		return fmt.Errorf("sparse: input has %d values, batch %d × %d inputs needs %d", len(x), batch, cols, batch*cols)
	}
	if len(y) < batch*rows {
		return fmt.Errorf("sparse: output has %d values, batch %d × %d outputs needs %d", len(y), batch, rows, batch*rows)
	}
	if err := checkEpilogue(epi, rows, batch*rows); err != nil {
		return err
	}
	if batch == 0 || rows == 0 {
		return nil
	}
	threads = workersFor(w, batch, threads)
	if batch < minPanelBatch {
		for b := range batch {
			yb := y[b*rows:][:rows]
			forUnits(w, threads, func(u0, u1 int) {
				w.mulVec(yb, x[b*cols:][:cols], u0, u1)
				lo, hi := unitSpan(w, u0, u1)
				epiVec(epi, yb, b*rows, lo, hi)
			})
		}
		return nil
	}
	// Xᵀ (cols×batch) and Yᵀ (rows×batch) in one scratch buffer.
	buf := getScratch(cols*batch + rows*batch)
	defer putScratch(buf)
	xt, yt := buf[:cols*batch], buf[cols*batch:]
	transpose(xt, x, batch, cols)
	forUnits(w, threads, func(u0, u1 int) {
		for j := 0; j < batch; j += panelTile {
			w.mulPanel(yt[j:], batch, xt[j:], batch, min(panelTile, batch-j), u0, u1)
		}
		if epi == nil {
			return
		}
		// The bias is per row of Yᵀ, while a residual is laid out as Y:
		// with one, the clamp waits until it is added after the transpose.
		clampLo, clampHi := epi.Lo, epi.Hi
		if epi.Res != nil {
			clampLo, clampHi = -unbounded, unbounded
		}
		lo, hi := unitSpan(w, u0, u1)
		for o := lo; o < hi; o++ {
			row := yt[o*batch:][:batch]
			vec.AddClamp(row, row, biasAt(epi, o), clampLo, clampHi)
		}
	})
	transpose(y, yt, rows, batch)
	if epi != nil && epi.Res != nil {
		for b := range batch {
			row := y[b*rows:][:rows]
			vec.AddBiasResidualClamp(row, row, 0, epi.Res[b*rows:][:rows], epi.Lo, epi.Hi)
		}
	}
	return nil
}

// minPanelBatch is the batch from which MatMul transposes to a panel
// product: below it, one matrix–vector product per batch row reads the
// weight batch times but skips both transposes.
const minPanelBatch = 4

// Conv1x1 is a 1×1 convolution (stride 1, no padding) in NCHW: for each of
// the n images, y[o][p] = Σ_c W[o][c]·x[c][p] over the hw pixels, W being
// out×in (w.Dims()). epi's bias is per output channel and its residual is
// laid out as y (n×out×hw).
func Conv1x1(w Matrix, x []float32, n, hw int, y []float32, epi *gemm.Epilogue, threads int) error {
	rows, cols := w.Dims()
	if n < 0 || hw < 0 {
		return fmt.Errorf("sparse: negative conv size: %d images of %d pixels", n, hw)
	}
	if len(x) < n*cols*hw {
		return fmt.Errorf("sparse: conv input has %d values, %d images × %d channels × %d pixels need %d", len(x), n, cols, hw, n*cols*hw)
	}
	if len(y) < n*rows*hw {
		return fmt.Errorf("sparse: conv output has %d values, %d images × %d channels × %d pixels need %d", len(y), n, rows, hw, n*rows*hw)
	}
	if err := checkEpilogue(epi, rows, n*rows*hw); err != nil {
		return err
	}
	if n == 0 || hw == 0 || rows == 0 {
		return nil
	}
	threads = workersFor(w, hw, threads)
	for img := range n {
		mulImage(w, x[img*cols*hw:][:cols*hw], hw, y[img*rows*hw:][:rows*hw], epi, img*rows*hw, threads)
	}
	return nil
}

// mulImage sets y = epi(W·p) for a cols×n panel p and a rows×n y whose
// residual starts at offset off of epi.Res: one image of a pointwise
// convolution, or an im2col matrix.
func mulImage(w Matrix, p []float32, n int, y []float32, epi *gemm.Epilogue, off int, threads int) {
	forUnits(w, threads, func(u0, u1 int) {
		for j := 0; j < n; j += panelTile {
			w.mulPanel(y[j:], n, p[j:], n, min(panelTile, n-j), u0, u1)
		}
		lo, hi := unitSpan(w, u0, u1)
		for o := lo; o < hi; o++ {
			epiRow(epi, y[o*n:][:n], o, off+o*n)
		}
	})
}

func checkEpilogue(epi *gemm.Epilogue, rows, outLen int) error {
	if epi == nil {
		return nil
	}
	if epi.Bias != nil && len(epi.Bias) < rows {
		return fmt.Errorf("sparse: bias has %d values, the weight has %d outputs", len(epi.Bias), rows)
	}
	if epi.Res != nil && len(epi.Res) < outLen {
		return fmt.Errorf("sparse: residual has %d values, the output %d", len(epi.Res), outLen)
	}
	return nil
}

func biasAt(epi *gemm.Epilogue, o int) float32 {
	if epi == nil || epi.Bias == nil {
		return 0
	}
	return epi.Bias[o]
}

// epiRow applies epi to one output row of channel o starting at offset off
// of the output (where its residual is).
func epiRow(epi *gemm.Epilogue, row []float32, o, off int) {
	if epi == nil {
		return
	}
	var res []float32
	if epi.Res != nil {
		res = epi.Res[off:][:len(row)]
	}
	vec.AddBiasResidualClamp(row, row, biasAt(epi, o), res, epi.Lo, epi.Hi)
}

// epiVec applies epi to outputs lo..hi−1 of one batch row y, which starts
// at offset off of the output.
func epiVec(epi *gemm.Epilogue, y []float32, off, lo, hi int) {
	if epi == nil {
		return
	}
	for o := lo; o < hi; o++ {
		v := y[o] + biasAt(epi, o)
		if epi.Res != nil {
			v += epi.Res[off+o]
		}
		y[o] = min(max(v, epi.Lo), epi.Hi)
	}
}

// workersFor is the thread count for a product with n input vectors:
// one below minParallelWork multiply-adds.
func workersFor(w Matrix, n, threads int) int {
	if w.Stored()*n < minParallelWork {
		return 1
	}
	return parallel.Resolve(threads)
}

// forUnits runs fn over w's row units split into threads ranges of about
// equal stored work.
func forUnits(w Matrix, threads int, fn func(u0, u1 int)) {
	forBalanced(w.units(), w.work, threads, fn)
}

// forBalanced runs fn over [0, units) split into threads contiguous ranges
// of about equal work, work(u) being the work of units [0, u); each unit
// also counts one, so that empty rows are spread too. The split depends
// only on the work and the thread count.
func forBalanced(units int, work func(u int) int, threads int, fn func(u0, u1 int)) {
	if threads <= 1 || units <= 1 {
		fn(0, units)
		return
	}
	threads = min(threads, units)
	total := work(units) + units
	bounds := make([]int, threads+1)
	u := 0
	for t := 1; t < threads; t++ {
		target := total * t / threads
		for u < units && work(u)+u < target {
			u++
		}
		bounds[t] = u
	}
	bounds[threads] = units
	parallel.For(threads, threads, func(lo, hi, _ int) {
		for t := lo; t < hi; t++ {
			if bounds[t] < bounds[t+1] {
				fn(bounds[t], bounds[t+1])
			}
		}
	})
}

// unitSpan is the output rows of units [u0, u1).
func unitSpan(w Matrix, u0, u1 int) (lo, hi int) {
	rows, _ := w.Dims()
	r := w.unitRows()
	return u0 * r, min(u1*r, rows)
}

// transpose sets dst (cols×rows) to the transpose of src (rows×cols):
// 8×8 tiles in registers on the assembly path, the ragged edges (and the
// Go path) in 8×8 tiles of scalar copies, so both sides are read and
// written a cache line at a time.
func transpose(dst, src []float32, rows, cols int) {
	const t = 8
	full := 0
	if useAsm && cols >= t {
		full = cols / t
		_, _ = src[rows*cols-1], dst[rows*cols-1]
		for i0 := 0; i0+t <= rows; i0 += t {
			transpose8AVX(&src[i0*cols], cols, &dst[i0], rows, full)
		}
	}
	for i0 := 0; i0 < rows; i0 += t {
		j0 := 0
		if i0+t <= rows {
			j0 = full * t // done by the assembly
		}
		for ; j0 < cols; j0 += t {
			for i := i0; i < min(i0+t, rows); i++ {
				s := src[i*cols:]
				for j := j0; j < min(j0+t, cols); j++ {
					dst[j*rows+i] = s[j]
				}
			}
		}
	}
}

var scratch sync.Pool

func getScratch(n int) []float32 {
	if p, ok := scratch.Get().(*[]float32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float32, n)
}

func putScratch(b []float32) { scratch.Put(&b) }

// unbounded is +Inf as a float32: a clamp bound that clamps nothing.
var unbounded = float32(math.Inf(1))
