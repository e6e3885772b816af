package blocked

import (
	"math"

	"github.com/shearsml/shears/internal/parallel"
)

// Block is the number of channels in a block.
const Block = 16

// Layout is the geometry of an activation in NCHW16c with a zero border of
// Border pixels around each channel block's plane. A Planar layout is
// padded NCHW instead (one channel per "block"): dense convolutions read it
// as input (Conv.Run), which spares inputs with few channels the padding
// to 16 (an RGB image, a 20-channel map).
type Layout struct {
	N, C, H, W int
	Border     int
	Planar     bool
}

// Lanes is the number of channels in a block: 16, or 1 when Planar.
func (l Layout) Lanes() int {
	if l.Planar {
		return 1
	}
	return Block
}

// Blocks is the number of channel blocks.
func (l Layout) Blocks() int { return (l.C + l.Lanes() - 1) / l.Lanes() }

// Row is the length of a padded row, in floats.
func (l Layout) Row() int { return (l.W + 2*l.Border) * l.Lanes() }

// Plane is the length of one channel block's padded plane.
func (l Layout) Plane() int { return (l.H + 2*l.Border) * l.Row() }

// Image is the length of one image.
func (l Layout) Image() int { return l.Blocks() * l.Plane() }

// Len is the length of the whole buffer.
func (l Layout) Len() int { return l.N * l.Image() }

// At is the offset of pixel (h, w) of block cb of image n; h and w may be
// negative down to −Border (the border).
func (l Layout) At(n, cb, h, w int) int {
	return n*l.Image() + cb*l.Plane() + (h+l.Border)*l.Row() + (w+l.Border)*l.Lanes()
}

// FromNCHW writes src (N×C×H×W) into dst's interior. dst's border and
// padding channels must be zero already (a fresh buffer); they are not
// written.
func FromNCHW(dst []float32, l Layout, src []float32, threads int) {
	hw := l.H * l.W
	items := l.N * l.Blocks()
	parallel.For(items, workFor(items, l.N*l.C*hw, threads), func(lo, hi, _ int) {
		for it := lo; it < hi; it++ {
			n, cb := it/l.Blocks(), it%l.Blocks()
			lanes := l.Lanes()
			cn := min(lanes, l.C-cb*lanes)
			s := src[(n*l.C+cb*lanes)*hw:]
			for h := range l.H {
				d := dst[l.At(n, cb, h, 0):]
				d = d[:l.W*lanes]
				for c := range cn {
					row := s[c*hw+h*l.W : c*hw+h*l.W+l.W]
					if lanes == 1 {
						copy(d, row)
						continue
					}
					for w, v := range row {
						d[w*Block+c] = v
					}
				}
			}
		}
	})
}

// ToNCHW writes src's interior into dst (N×C×H×W).
func ToNCHW(dst []float32, src []float32, l Layout, threads int) {
	hw := l.H * l.W
	items := l.N * l.Blocks()
	parallel.For(items, workFor(items, l.N*l.C*hw, threads), func(lo, hi, _ int) {
		for it := lo; it < hi; it++ {
			n, cb := it/l.Blocks(), it%l.Blocks()
			lanes := l.Lanes()
			cn := min(lanes, l.C-cb*lanes)
			d := dst[(n*l.C+cb*lanes)*hw:]
			for h := range l.H {
				s := src[l.At(n, cb, h, 0):]
				s = s[:l.W*lanes]
				for c := range cn {
					row := d[c*hw+h*l.W : c*hw+h*l.W+l.W]
					if lanes == 1 {
						copy(row, s)
						continue
					}
					for w := range row {
						row[w] = s[w*Block+c]
					}
				}
			}
		}
	})
}

// GlobalAveragePool writes the mean of each channel of a blocked input to
// an N×C output. It runs as a depthwise convolution whose kernel covers the
// whole map with weights 1/(H·W), on the depthwise kernels.
type GlobalAveragePool struct {
	C, H, W int
	dw      *Depthwise
	out     []float32 // the pooled N×C×1×1, blocked
}

// NewGlobalAveragePool makes a pool of C channels of H×W maps.
func NewGlobalAveragePool(c, h, w int) *GlobalAveragePool {
	k := make([]float32, c*h*w)
	for i := range k {
		k[i] = 1 / float32(h*w)
	}
	return &GlobalAveragePool{C: c, H: h, W: w, dw: NewDepthwise(k, c, Geom{KH: h, KW: w, SH: 1, SW: 1, DH: 1, DW: 1}, nil)}
}

// Run pools src (layout l, C×H×W maps) into dst (N×C).
func (g *GlobalAveragePool) Run(dst, src []float32, l Layout, threads int) {
	ol := Layout{N: l.N, C: g.C, H: 1, W: 1}
	if len(g.out) < ol.Len() {
		g.out = make([]float32, ol.Len())
	}
	inf := float32(math.Inf(1))
	g.dw.Run(src, l, g.out, ol, nil, ol, -inf, inf, threads)
	ToNCHW(dst, g.out, ol, threads)
}

// minParallel is the element count below which a memory pass stays on one
// thread: waking a worker costs more than it saves.
const minParallel = 1 << 15

func workFor(items, elems, threads int) int {
	if elems < minParallel {
		return 1
	}
	return threads
}
