package data

import (
	"fmt"
	"iter"
	"math/bits"
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

// Augment selects the random training-time transformations of the
// dense-fashion recipe. The zero value means none.
type Augment struct {
	// Pad > 0 enables a random crop back to H×W after padding every side
	// with Pad black pixels (torchvision's RandomCrop(28, padding=Pad)).
	Pad int
	// Flip enables a random horizontal flip with probability 0.5.
	Flip bool
}

// RecipeAugment is the augmentation of docs/ZOO.md's dense-fashion recipe:
// random crop 28 after zero-padding 2, random horizontal flip.
var RecipeAugment = Augment{Pad: 2, Flip: true}

// Enabled reports whether a does anything.
func (a Augment) Enabled() bool { return a.Pad > 0 || a.Flip }

func (a Augment) String() string {
	switch {
	case a.Pad > 0 && a.Flip:
		return fmt.Sprintf("crop(pad %d)+flip", a.Pad)
	case a.Pad > 0:
		return fmt.Sprintf("crop(pad %d)", a.Pad)
	case a.Flip:
		return "flip"
	}
	return "none"
}

// Batch is one mini-batch. X and Labels live in buffers owned by the Loader
// and are overwritten by its next Batch call: clone them to keep them.
type Batch struct {
	Index  int            // position of the batch in its epoch, from 0
	X      *tensor.Tensor // B×C×H×W; B < the batch size only for the last batch
	Labels []int          // B class indices (-1 for unlabelled images)
}

// Loader cuts a Dataset into mini-batches, optionally shuffled and
// augmented.
//
// Everything random is a pure function of (seed, epoch, batch index): the
// order of an epoch depends on (seed, epoch) only and the augmentation of a
// batch on (seed, epoch, batch index) only. A checkpoint therefore needs no
// RNG state beyond the seed and the position: Batch(e, i) after a restart
// gives exactly the batch an uninterrupted run would have seen. The
// generator is math/rand/v2's PCG (whose output is specified) with
// shears' own shuffle and range reduction, so the sequence does not depend
// on the Go release either.
//
// The last batch of an epoch is kept even when it is smaller than the batch
// size (as PyTorch's DataLoader does by default, so every image is seen once
// per epoch); set DropLast to drop it.
//
// A Loader is not safe for concurrent use. It does not prefetch in a
// goroutine: filling a batch of 128 MNIST images with crop and flip takes
// about 0.1 ms (over a million images a second on one core), around 1% of
// even the smallest model's training step, so a second goroutine would cost
// a core that the model's kernels use better and make ownership of the batch
// buffers harder to reason about.
type Loader struct {
	// DropLast drops the last batch of an epoch when it is smaller than the
	// batch size. Set it before iterating.
	DropLast bool

	ds      *Dataset
	batch   int
	shuffle bool
	aug     Augment
	seed    uint64

	order      []int // permutation of the current epoch
	orderEpoch int
	orderOK    bool

	buf    []float32     // batch×C×H×W, reused by every batch
	img    []float32     // one image before augmentation
	labels []int         // reused likewise
	full   tensor.Tensor // view of buf with the full batch shape
	part   tensor.Tensor // view for the last, partial batch
	pcg    *rand.PCG     // reseeded for every use, never carried over
}

// NewLoader returns a loader over ds with batches of batch images. With
// shuffle the order is a new random permutation every epoch, otherwise it is
// the data set's order. aug is applied to every image (use the zero Augment
// for evaluation).
func NewLoader(ds *Dataset, batch int, shuffle bool, aug Augment, seed uint64) (*Loader, error) {
	if ds == nil {
		return nil, fmt.Errorf("data: loader needs a data set")
	}
	if batch <= 0 {
		return nil, fmt.Errorf("data: batch size must be positive, got %d", batch)
	}
	if aug.Pad < 0 || (aug.Pad > 0 && (aug.Pad >= ds.H || aug.Pad >= ds.W)) {
		return nil, fmt.Errorf("data: crop padding %d out of range for %d×%d images", aug.Pad, ds.H, ds.W)
	}
	sz := ds.ImageSize()
	l := &Loader{
		ds: ds, batch: batch, shuffle: shuffle, aug: aug, seed: seed,
		buf:    make([]float32, batch*sz),
		img:    make([]float32, sz),
		labels: make([]int, batch),
		pcg:    rand.NewPCG(0, 0),
	}
	l.full = tensor.Tensor{Shape: []int{batch, ds.C, ds.H, ds.W}, Data: l.buf}
	if r := ds.N % batch; r != 0 {
		l.part = tensor.Tensor{Shape: []int{r, ds.C, ds.H, ds.W}, Data: l.buf[:r*sz]}
	}
	return l, nil
}

// Dataset returns the data set the loader reads.
func (l *Loader) Dataset() *Dataset { return l.ds }

// BatchSize returns the (full) batch size.
func (l *Loader) BatchSize() int { return l.batch }

// Len returns the number of batches in an epoch.
func (l *Loader) Len() int {
	if l.DropLast {
		return l.ds.N / l.batch
	}
	return (l.ds.N + l.batch - 1) / l.batch
}

// Seed returns the seed the loader was made with.
func (l *Loader) Seed() uint64 { return l.seed }

// Epoch iterates over the batches of one epoch, in order:
//
//	for b := range loader.Epoch(e) { ... b.X, b.Labels ... }
//
// Epoch numbers are the caller's (0-based is conventional); the same number
// gives the same batches.
func (l *Loader) Epoch(epoch int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		for i := range l.Len() {
			if !yield(l.Batch(epoch, i)) {
				return
			}
		}
	}
}

// Order returns a copy of the order in which epoch visits the images.
func (l *Loader) Order(epoch int) []int {
	return append([]int(nil), l.epochOrder(epoch)...)
}

// Batch fills and returns batch i (0 ≤ i < Len()) of epoch. Random access
// lets a run resumed mid-epoch continue with exactly the batches it would
// have had. It panics when i is out of range, like a slice index.
func (l *Loader) Batch(epoch, i int) Batch {
	if i < 0 || i >= l.Len() {
		panic(fmt.Sprintf("data: batch %d out of range [0, %d)", i, l.Len()))
	}
	order := l.epochOrder(epoch)
	lo := i * l.batch
	hi := min(lo+l.batch, l.ds.N)
	x := &l.full
	if hi-lo < l.batch {
		x = &l.part
	}
	sz := l.ds.ImageSize()
	if l.aug.Enabled() {
		l.pcg.Seed(mix(l.seed, tagAugment), mix(mix(l.seed, uint64(epoch)), uint64(i)))
	}
	fill := l.ds.BlackValues()
	for k, idx := range order[lo:hi] {
		dst := l.buf[k*sz : (k+1)*sz]
		l.labels[k] = -1
		if l.ds.Labels != nil {
			l.labels[k] = int(l.ds.Labels[idx])
		}
		if !l.aug.Enabled() {
			l.ds.ImageInto(dst, idx)
			continue
		}
		src := l.img[:sz]
		l.ds.ImageInto(src, idx)
		// Draw the same three numbers for every image whatever the options,
		// so that turning one transformation off does not change the other's
		// randomness.
		dy, dx := l.aug.Pad, l.aug.Pad
		u1, u2, u3 := l.pcg.Uint64(), l.pcg.Uint64(), l.pcg.Uint64()
		if l.aug.Pad > 0 {
			dy, dx = bounded(u1, 2*l.aug.Pad+1), bounded(u2, 2*l.aug.Pad+1)
		}
		flip := l.aug.Flip && u3>>63 == 1
		augmentInto(dst, src, l.ds.C, l.ds.H, l.ds.W, l.aug.Pad, dy, dx, flip, fill)
	}
	return Batch{Index: i, X: x, Labels: l.labels[:hi-lo]}
}

// epochOrder returns the (cached) order of epoch.
func (l *Loader) epochOrder(epoch int) []int {
	if l.orderOK && (l.orderEpoch == epoch || !l.shuffle) {
		return l.order
	}
	if l.order == nil {
		l.order = make([]int, l.ds.N)
	}
	for i := range l.order {
		l.order[i] = i
	}
	if l.shuffle {
		// Fisher–Yates from the identity, so the order depends on nothing
		// but (seed, epoch).
		l.pcg.Seed(mix(l.seed, tagOrder), mix(l.seed, uint64(epoch)))
		for i := len(l.order) - 1; i > 0; i-- {
			j := bounded(l.pcg.Uint64(), i+1)
			l.order[i], l.order[j] = l.order[j], l.order[i]
		}
	}
	l.orderEpoch, l.orderOK = epoch, true
	return l.order
}

// Stream tags keep the order and the augmentation generators independent
// even for the same (seed, epoch).
const (
	tagOrder   = 0x6f72646572 // "order"
	tagAugment = 0x6175676d   // "augm"
)

// mix hashes a and b into a well-spread 64-bit value (SplitMix64's
// finaliser), so that nearby seeds and epochs give unrelated streams.
func mix(a, b uint64) uint64 {
	z := a ^ (b+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// bounded maps a uniform 64-bit value to [0, n) by Lemire's multiply-shift;
// its bias, below n/2⁶⁴, is irrelevant here.
func bounded(u uint64, n int) int {
	hi, _ := bits.Mul64(u, uint64(n))
	return int(hi)
}

// augmentInto writes into dst the image src padded by pad black pixels
// (value fill[channel]) on every side, cropped back to h×w at offset (dy, dx) of the
// padded image, and mirrored left–right when flip is set. It is the same as
// torchvision's RandomCrop followed by RandomHorizontalFlip.
func augmentInto(dst, src []float32, c, h, w, pad, dy, dx int, flip bool, fills []float32) {
	off := dx - pad // output column x reads source column x+off (before the flip)
	for ch := range c {
		fill := fills[ch]
		s := src[ch*h*w : (ch+1)*h*w]
		d := dst[ch*h*w : (ch+1)*h*w]
		for y := range h {
			row := d[y*w : (y+1)*w]
			sy := y + dy - pad
			if sy < 0 || sy >= h {
				for x := range row {
					row[x] = fill
				}
				continue
			}
			srow := s[sy*w : (sy+1)*w]
			if !flip {
				lo, hi := max(0, -off), min(w, w-off)
				for x := range lo {
					row[x] = fill
				}
				copy(row[lo:hi], srow[lo+off:hi+off])
				for x := hi; x < w; x++ {
					row[x] = fill
				}
				continue
			}
			for x := range row {
				if sx := w - 1 - x + off; sx >= 0 && sx < w {
					row[x] = srow[sx]
				} else {
					row[x] = fill
				}
			}
		}
	}
}
