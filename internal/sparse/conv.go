package sparse

import (
	"fmt"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/vec"
)

// ConvShape is the geometry of a 2-D convolution in NCHW with one group:
// C input channels of H×W, O output channels, a KH×KW kernel, strides,
// dilations and zero padding on each side.
type ConvShape struct {
	C, H, W                              int
	O, KH, KW                            int
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadLeft, PadBottom, PadRight int
}

// Out is the output's spatial size.
func (s ConvShape) Out() (oh, ow int) {
	hp, wp := s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight
	return (hp-s.DilationH*(s.KH-1)-1)/s.StrideH + 1, (wp-s.DilationW*(s.KW-1)-1)/s.StrideW + 1
}

func (s ConvShape) check() error {
	switch {
	case s.C < 1 || s.H < 1 || s.W < 1 || s.O < 1 || s.KH < 1 || s.KW < 1:
		return fmt.Errorf("sparse: conv sizes must be positive: %d×%d×%d input, %d outputs, %d×%d kernel", s.C, s.H, s.W, s.O, s.KH, s.KW)
	case s.StrideH < 1 || s.StrideW < 1 || s.DilationH < 1 || s.DilationW < 1:
		return fmt.Errorf("sparse: conv strides %d×%d and dilations %d×%d must be positive", s.StrideH, s.StrideW, s.DilationH, s.DilationW)
	case s.PadTop < 0 || s.PadLeft < 0 || s.PadBottom < 0 || s.PadRight < 0:
		return fmt.Errorf("sparse: negative conv padding %d,%d,%d,%d", s.PadTop, s.PadLeft, s.PadBottom, s.PadRight)
	}
	if oh, ow := s.Out(); oh < 1 || ow < 1 {
		return fmt.Errorf("sparse: conv kernel %d×%d (dilation %d×%d) is larger than the padded %d×%d input", s.KH, s.KW, s.DilationH, s.DilationW, s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight)
	}
	return nil
}

// Conv is a sparse direct convolution: for each output channel, the
// nonzero taps of its weight as (value, offset into the padded input
// image), so one output row is Σ_taps value·(a row of the padded input)
// in one pass (vec.TapSum at stride 1).
type Conv struct {
	shape  ConvShape
	hp, wp int
	tapPtr []int32 // output channel o's taps are [tapPtr[o], tapPtr[o+1])
	off    []int
	val    []float32
}

// NewConv builds a sparse convolution from its dense O×C×KH×KW weight.
func NewConv(w []float32, s ConvShape) (*Conv, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkDense(w, s.O, s.C*s.KH*s.KW); err != nil {
		return nil, err
	}
	cv := &Conv{shape: s, hp: s.H + s.PadTop + s.PadBottom, wp: s.W + s.PadLeft + s.PadRight, tapPtr: make([]int32, s.O+1)}
	k := 0
	for o := range s.O {
		for c := range s.C {
			for ky := range s.KH {
				for kx := range s.KW {
					if v := w[k]; v != 0 {
						cv.off = append(cv.off, (c*cv.hp+ky*s.DilationH)*cv.wp+kx*s.DilationW)
						cv.val = append(cv.val, v)
					}
					k++
				}
			}
		}
		cv.tapPtr[o+1] = int32(len(cv.val))
	}
	return cv, nil
}

// Shape is the convolution's geometry.
func (cv *Conv) Shape() ConvShape { return cv.shape }

// NonZeros counts the weight's nonzero taps.
func (cv *Conv) NonZeros() int { return len(cv.val) }

// Forward sets y = epi(conv(x)) for n images: x is n×C×H×W, y n×O×OH×OW.
// epi's bias is per output channel, its residual laid out as y.
func (cv *Conv) Forward(x []float32, n int, y []float32, epi *gemm.Epilogue, threads int) error {
	s := cv.shape
	oh, ow := s.Out()
	in, out := s.C*s.H*s.W, s.O*oh*ow
	if n < 0 {
		return fmt.Errorf("sparse: negative conv batch %d", n)
	}
	if len(x) < n*in {
		return fmt.Errorf("sparse: conv input has %d values, %d images of %d×%d×%d need %d", len(x), n, s.C, s.H, s.W, n*in)
	}
	if len(y) < n*out {
		return fmt.Errorf("sparse: conv output has %d values, %d images of %d×%d×%d need %d", len(y), n, s.O, oh, ow, n*out)
	}
	if err := checkEpilogue(epi, s.O, n*out); err != nil {
		return err
	}
	padded := s.PadTop+s.PadBottom+s.PadLeft+s.PadRight > 0
	var xp []float32
	if padded {
		xp = getScratch(s.C * cv.hp * cv.wp)
		defer putScratch(xp)
		clear(xp)
	}
	if len(cv.val)*oh*ow < minParallelWork {
		threads = 1
	}
	work := func(o int) int { return int(cv.tapPtr[o]) }
	for img := range n {
		xi := x[img*in:][:in]
		if padded {
			for c := range s.C {
				vec.CopyRows(xp[(c*cv.hp+s.PadTop)*cv.wp+s.PadLeft:], cv.wp, xi[c*s.H*s.W:], s.W, s.W, s.H)
			}
			xi = xp
		}
		yi := y[img*out:][:out]
		forBalanced(s.O, work, threads, func(o0, o1 int) {
			for o := o0; o < o1; o++ {
				cv.channel(yi[o*oh*ow:][:oh*ow], xi, o, oh, ow)
				epiRow(epi, yi[o*oh*ow:][:oh*ow], o, img*out+o*oh*ow)
			}
		})
	}
	return nil
}

// channel computes output channel o (before the epilogue) from the padded
// image xp.
func (cv *Conv) channel(y, xp []float32, o, oh, ow int) {
	s := cv.shape
	off, val := cv.off[cv.tapPtr[o]:cv.tapPtr[o+1]], cv.val[cv.tapPtr[o]:cv.tapPtr[o+1]]
	for r := range oh {
		row := y[r*ow:][:ow]
		base := xp[r*s.StrideH*cv.wp:]
		if s.StrideW == 1 {
			vec.TapSum(row, base, off, val, 0)
			continue
		}
		clear(row)
		for t, v := range val {
			src := base[off[t]:]
			for j := range row {
				row[j] += v * src[j*s.StrideW]
			}
		}
	}
}
