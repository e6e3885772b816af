package blocked

import (
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

// minParallel is the element count below which a memory pass stays on one
// thread: waking a worker costs more than it saves.
const minParallel = 1 << 15

func workFor(items, elems, threads int) int {
	if elems < minParallel {
		return 1
	}
	return threads
}
