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
	ForRows(l, threads, func(n, cb, h int) { reorderRow(l, dst, src, n, cb, h, true) })
}

// ToNCHW writes src's interior into dst (N×C×H×W).
func ToNCHW(dst []float32, src []float32, l Layout, threads int) {
	ForRows(l, threads, func(n, cb, h int) { reorderRow(l, src, dst, n, cb, h, false) })
}

// reorderRow moves row h of block cb of image n between the blocked
// buffer b and the NCHW tensor x: into b when toBlocked, else out of it.
func reorderRow(l Layout, b, x []float32, n, cb, h int, toBlocked bool) {
	lanes := l.Lanes()
	br := b[l.At(n, cb, h, 0):][:l.W*lanes]
	for c := range min(lanes, l.C-cb*lanes) {
		xr := x[((n*l.C+cb*lanes+c)*l.H+h)*l.W:][:l.W]
		switch {
		case lanes == 1 && toBlocked:
			copy(br, xr)
		case lanes == 1:
			copy(xr, br)
		case toBlocked:
			for w, v := range xr {
				br[w*Block+c] = v
			}
		default:
			for w := range xr {
				xr[w] = br[w*Block+c]
			}
		}
	}
}

// ForRows runs fn on every interior row (image n, channel block cb, row h)
// of a layout, on up to threads workers (one below minParallel elements).
func ForRows(l Layout, threads int, fn func(n, cb, h int)) {
	rows := l.N * l.Blocks() * l.H
	parallel.For(rows, workFor(rows, rows*l.W*l.Lanes(), threads), func(lo, hi, _ int) {
		for r := lo; r < hi; r++ {
			fn(r/l.H/l.Blocks(), r/l.H%l.Blocks(), r%l.H)
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
