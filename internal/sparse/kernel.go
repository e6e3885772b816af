package sparse

import (
	"fmt"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/kernels"
)

// Shape is what one node computes, the unit a kernel is chosen for.
//
// A linear node (Conv == nil) is Y = epi(X·Wᵀ) with W rows×cols (outputs ×
// inputs) and X batch×cols, as Gemm with transB or MatMul by a transposed
// weight. A convolution node has Conv set (Rows and Cols are then O and
// C·KH·KW) and runs over batch images in NCHW.
type Shape struct {
	Rows, Cols int
	Batch      int
	Conv       *ConvShape
}

// LinearShape is the Shape of a fully connected layer.
func LinearShape(rows, cols, batch int) Shape { return Shape{Rows: rows, Cols: cols, Batch: batch} }

// ConvNodeShape is the Shape of a convolution over batch images.
func ConvNodeShape(s ConvShape, batch int) Shape {
	return Shape{Rows: s.O, Cols: s.C * s.KH * s.KW, Batch: batch, Conv: &s}
}

// String names the shape for reports and cache keys.
func (s Shape) String() string {
	if s.Conv == nil {
		return fmt.Sprintf("linear %d×%d batch %d", s.Rows, s.Cols, s.Batch)
	}
	c := s.Conv
	return fmt.Sprintf("conv %d→%d %dx%d k%dx%d s%dx%d d%dx%d p%d,%d,%d,%d batch %d",
		c.C, c.O, c.H, c.W, c.KH, c.KW, c.StrideH, c.StrideW, c.DilationH, c.DilationW,
		c.PadTop, c.PadLeft, c.PadBottom, c.PadRight, s.Batch)
}

// pointwise reports a 1×1 convolution that is a plain product per image
// (stride 1, no padding): Conv1x1's case.
func (s Shape) pointwise() bool {
	c := s.Conv
	return c != nil && c.KH == 1 && c.KW == 1 && c.StrideH == 1 && c.StrideW == 1 &&
		c.PadTop+c.PadLeft+c.PadBottom+c.PadRight == 0
}

// InOut returns the input and output lengths of a call.
func (s Shape) InOut() (in, out int) {
	if s.Conv == nil {
		return s.Batch * s.Cols, s.Batch * s.Rows
	}
	oh, ow := s.Conv.Out()
	return s.Batch * s.Conv.C * s.Conv.H * s.Conv.W, s.Batch * s.Conv.O * oh * ow
}

func (s Shape) check() error {
	if s.Batch < 1 {
		return fmt.Errorf("sparse: batch %d, must be at least 1", s.Batch)
	}
	if s.Conv != nil {
		if err := s.Conv.check(); err != nil {
			return err
		}
		if s.Rows != s.Conv.O || s.Cols != s.Conv.C*s.Conv.KH*s.Conv.KW {
			return fmt.Errorf("sparse: conv shape %d×%d does not match its weight %d×%d", s.Conv.O, s.Conv.C*s.Conv.KH*s.Conv.KW, s.Rows, s.Cols)
		}
		return nil
	}
	if s.Rows < 1 || s.Cols < 1 {
		return fmt.Errorf("sparse: linear shape %d×%d, sizes must be positive", s.Rows, s.Cols)
	}
	return nil
}

// Kernel runs one node: y = epi(node(x)) with x and y of the lengths
// Shape.InOut gives. Run is safe for concurrent use: scratch buffers are
// per call.
type Kernel interface {
	Format() Format
	Run(x, y []float32, epi *gemm.Epilogue, threads int) error
}

// Build makes the kernel for shape in format f from the dense weight w
// (rows×cols, a convolution's O×C×KH×KW). FormatDense builds shears'
// dense path (internal/gemm; im2col for a convolution that is not
// pointwise), the baseline the sparse kernels are timed against. A
// convolution that is not pointwise runs the sparse formats against its
// im2col matrix, or FormatDirect (Conv) without one.
func Build(shape Shape, f Format, w []float32) (Kernel, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	if err := checkDense(w, shape.Rows, shape.Cols); err != nil {
		return nil, err
	}
	if f.Kind == Dense {
		return &denseKernel{shape: shape, w: w}, nil
	}
	if f.Kind == Direct {
		if shape.Conv == nil || shape.pointwise() {
			return nil, fmt.Errorf("sparse: the direct format is for convolutions with a k×k window, stride or padding, not %v", shape)
		}
		cv, err := NewConv(w, *shape.Conv)
		if err != nil {
			return nil, err
		}
		return &convKernel{shape: shape, cv: cv}, nil
	}
	m, err := f.Build(w, shape.Rows, shape.Cols)
	if err != nil {
		return nil, err
	}
	if shape.Conv != nil && !shape.pointwise() {
		return &im2colKernel{shape: shape, m: m}, nil
	}
	return &matrixKernel{shape: shape, m: m}, nil
}

type matrixKernel struct {
	shape Shape
	m     Matrix
}

func (k *matrixKernel) Format() Format { return k.m.Format() }

func (k *matrixKernel) Run(x, y []float32, epi *gemm.Epilogue, threads int) error {
	if k.shape.Conv != nil {
		return Conv1x1(k.m, x, k.shape.Batch, k.shape.Conv.H*k.shape.Conv.W, y, epi, threads)
	}
	return MatMul(k.m, x, k.shape.Batch, y, epi, threads)
}

type convKernel struct {
	shape Shape
	cv    *Conv
}

func (k *convKernel) Format() Format { return FormatDirect }

func (k *convKernel) Run(x, y []float32, epi *gemm.Epilogue, threads int) error {
	return k.cv.Forward(x, k.shape.Batch, y, epi, threads)
}

// im2colKernel is a convolution as a sparse weight times each image's
// im2col matrix (C·KH·KW × OH·OW), built by internal/kernels as the dense
// path builds it: the matrix is dense, the multiply-adds are the weight's
// nonzeros only.
type im2colKernel struct {
	shape Shape
	m     Matrix
}

func (k *im2colKernel) Format() Format { return k.m.Format() }

func (k *im2colKernel) Run(x, y []float32, epi *gemm.Epilogue, threads int) error {
	s := k.shape
	in, out := s.InOut()
	if len(x) < in || len(y) < out {
		return fmt.Errorf("sparse: conv %v: input %d and output %d values, need %d and %d", s, len(x), len(y), in, out)
	}
	if err := checkEpilogue(epi, s.Rows, out); err != nil {
		return err
	}
	c := s.Conv
	g := c.geom()
	ohw, imgIn := g.OH*g.OW, c.C*c.H*c.W
	col := getScratch(s.Cols * ohw)
	defer putScratch(col)
	threads = workersFor(k.m, ohw, threads)
	for img := range s.Batch {
		kernels.Im2col(&g, x[img*imgIn:][:imgIn], col, ohw)
		mulImage(k.m, col, ohw, y[img*c.O*ohw:][:c.O*ohw], epi, img*c.O*ohw, threads)
	}
	return nil
}

// geom is the shape as internal/kernels' im2col geometry.
func (c *ConvShape) geom() kernels.Geom {
	oh, ow := c.Out()
	return kernels.Geom{C: c.C, H: c.H, W: c.W, KH: c.KH, KW: c.KW, SH: c.StrideH, SW: c.StrideW, DH: c.DilationH, DW: c.DilationW, PT: c.PadTop, PL: c.PadLeft, OH: oh, OW: ow}
}

// denseKernel is the dense path shears' CPU executor takes for the node:
// Sgemv at batch 1, SgemmEpilogue otherwise; for a convolution one
// SgemmEpilogue per image, on the image itself when pointwise, else on its
// im2col matrix.
type denseKernel struct {
	shape Shape
	w     []float32
}

func (k *denseKernel) Format() Format { return FormatDense }

func (k *denseKernel) Run(x, y []float32, epi *gemm.Epilogue, threads int) error {
	s := k.shape
	in, out := s.InOut()
	if len(x) < in || len(y) < out {
		return fmt.Errorf("sparse: dense %v: input %d and output %d values, need %d and %d", s, len(x), len(y), in, out)
	}
	if err := checkEpilogue(epi, s.Rows, out); err != nil {
		return err
	}
	if s.Conv == nil {
		if s.Batch == 1 && (epi == nil || epi.Res == nil) {
			gemm.Sgemv(true, s.Rows, s.Cols, 1, x, k.w, s.Cols, 0, y, threads)
			epiVec(epi, y, 0, 0, s.Rows)
			return nil
		}
		// The epilogue's bias is per row of C; here it is per column, so
		// the product runs plain and the epilogue is applied per row of y.
		gemm.Sgemm(false, true, s.Batch, s.Rows, s.Cols, 1, x, s.Cols, k.w, s.Cols, 0, y, s.Rows, threads)
		for b := range s.Batch {
			epiVec(epi, y[b*s.Rows:][:s.Rows], b*s.Rows, 0, s.Rows)
		}
		return nil
	}
	c := s.Conv
	oh, ow := c.Out()
	ohw, imgIn := oh*ow, c.C*c.H*c.W
	var col []float32
	if !s.pointwise() {
		col = getScratch(s.Cols * ohw)
		defer putScratch(col)
	}
	for img := range s.Batch {
		xi, yi := x[img*imgIn:][:imgIn], y[img*c.O*ohw:][:c.O*ohw]
		src := xi
		if col != nil {
			g := c.geom()
			kernels.Im2col(&g, xi, col, ohw)
			src = col
		}
		e := imageEpilogue(epi, img*c.O*ohw, c.O*ohw)
		gemm.SgemmEpilogue(false, false, c.O, ohw, s.Cols, k.w, s.Cols, src, ohw, yi, ohw, e, threads)
	}
	return nil
}

// imageEpilogue is epi for one image's output (its residual slice); a nil
// epi is the identity.
func imageEpilogue(epi *gemm.Epilogue, off, n int) *gemm.Epilogue {
	if epi == nil {
		return &gemm.Epilogue{Lo: -unbounded, Hi: unbounded}
	}
	e := *epi
	if e.Res != nil {
		e.Res = e.Res[off:][:n]
	}
	return &e
}
