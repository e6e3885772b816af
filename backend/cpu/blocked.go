package cpu

import (
	"math"
	"slices"
	"time"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/blocked"
	"github.com/shearsml/shears/internal/kernels"
	"github.com/shearsml/shears/internal/vec"
	"github.com/shearsml/shears/tensor"
)

// Inference programs run runs of convolutions on the NCHW16c layout
// (internal/blocked) when the machine has its kernels: CompileInference
// gathers maximal runs of consecutive nodes that the layout supports into
// segments. A segment converts the values it reads from outside into the
// blocked layout once, runs its nodes there, and converts back only the
// values that nodes outside it or the caller read. Values that live only
// inside a segment have no NCHW tensor at all (Value returns nil for them;
// Shape still answers). It runs:
//   - dense, grouped (whole blocks per group) and depthwise convolutions
//     with their fused bias, residual and activation;
//   - Add, Sub and Mul of same-shape values, and Mul by an N×C×1×1 scale
//     (squeeze-excitation);
//   - activations that are finite on finite inputs, and Clip;
//   - max pools (over inputs ≥ 0, or with no window past the input);
//   - global average pools, as depthwise convolutions with a whole-map
//     kernel;
//   - channel Concats whose inputs but the last are whole blocks;
//   - BatchNormalization that did not fold, as a 1×1 depthwise convolution.
//
// An entry that only dense convolutions read stays planar (padded NCHW),
// so an RGB stem or a 20-channel input is not padded to 16 channels. A
// large batch runs through a segment in chunks of images
// (segmentChunkBytes), and a segment is built only where its convolutions
// outweigh its conversions (minMACsPerConverted).
//
// The blocked layout's direct convolutions need no column matrix, copy no
// input into a padded buffer (each activation keeps a zero border as wide
// as its readers' padding) and compute no junk columns, which is where the
// NCHW path lost most of its time at batch 1 and on small maps. Results
// differ from the NCHW program's by float rounding only (the sums run in
// another order): TestBlockedSegments, TestBlockedElementwise,
// TestBlockedConcatBatchNorm, TestBlockedSqueezeExcitation,
// TestBlockedStaticBatch, TestTorchvisionORT.

// useBlocked lets tests turn the blocked segments off to compare.
var useBlocked = blockedAvailable()

func blockedAvailable() bool { return blocked.Available() }

// minBlockedChannels is the fewest input channels a dense convolution
// needs to read a blocked input: channels are padded to blocks of 16, and
// on 3 channels that would be 16/3 times the work. With fewer (on maps of
// minPlanarPixels or more) it reads its input planar (padded NCHW), which
// only a segment's entry can be, so it starts a new segment.
const minBlockedChannels = 8

// minPlanarPixels is the smallest output map (pixels) on which a
// convolution of fewer than minBlockedChannels input channels cuts a
// segment to read a planar input.
const minPlanarPixels = 64

type blockedKind uint8

const (
	blockedConv blockedKind = iota
	blockedDepthwise
	blockedBinary // Add, Sub or Mul of two values of one shape
	blockedUnary  // an activation, or a Clip with constant bounds
	blockedConcat // along channels, all inputs but the last of whole blocks
	blockedMaxPool
	blockedScale // Mul of an N×C×H×W value by an N×C×1×1 one (squeeze-excitation)
)

// blockedStep is one node of a segment.
type blockedStep struct {
	node   int // index in Program.nodes
	kind   blockedKind
	conv   *blocked.Conv
	dw     *blocked.Depthwise
	mp     *blocked.MaxPool
	bin    graph.BinKind
	unary  func(y, x []float32) // nil for a Clip: clamp to [lo, hi]
	in     []int                // segment values read: conv [x] or [x, residual], binary [a, b], scale [x, s], concat its inputs, others [x]
	out    int                  // segment value written
	lo, hi float32
}

// blockedValue is an activation of a segment.
type blockedValue struct {
	slot    int            // its NCHW slot (shape; the tensor for entry and exit values)
	border  int            // zero border its convolution readers need
	entry   bool           // read from the NCHW slot when the segment starts
	exit    bool           // written to the NCHW slot once computed
	planar  bool           // an entry that only dense convolutions read: padded NCHW
	lastUse int            // last step that reads it (−1: none, or only the caller)
	layout  blocked.Layout // of the current pass
	buf     []float32
}

type blockedSegment struct {
	first  int // first node: the segment runs in its place
	steps  []blockedStep
	values []*blockedValue
	batch  int // images (N) the buffers are set up for
	images int // per pass (chunk)
	// free holds the buffers of dead values by layout, for reuse: kernels
	// write only interiors, so a buffer's border stays zero.
	free map[blocked.Layout][][]float32
}

// root is the slot whose tensor slot i is (through fused-op aliases).
func (p *Program) root(i int) int {
	s := p.slots[i]
	for s.aliasOf != nil {
		s = s.aliasOf
	}
	return p.byName[s.name]
}

// blockable says whether node ni can run in a segment (segment decides
// how). nonNeg tells the values known to be ≥ 0 (a max pool's zero border
// needs it).
func (p *Program) blockable(ni int, at2 [][]int, nonNeg map[int]bool) bool {
	cn := p.nodes[ni]
	// A 4-D value whose C, H and W do not depend on the batch size: the
	// kernels' geometry is fixed when the segment is built.
	is4D := func(i int) bool {
		return i >= 0 && p.slots[i].param == nil && len(p.slots[i].shape) == 4 && len(at2[i]) == 4 &&
			slices.Equal(p.slots[i].shape[1:], at2[i][1:])
	}
	switch op := cn.op.(type) {
	case *convOp:
		if op.win.SpatialDim != 2 || !is4D(cn.in[0]) || cn.in[1] < 0 || p.slots[cn.in[1]].param == nil ||
			(len(cn.in) > 2 && cn.in[2] >= 0 && p.slots[cn.in[2]].param == nil) || op.geom.SW > 2 {
			return false
		}
		if op.residual && !is4D(cn.in[3]) {
			return false
		}
		return op.depthwise() || blocked.GroupsFit(op.cin, op.m, op.group)
	case *binaryOp:
		// Not Div: a zero in a padding channel would make an infinity
		// that a convolution's zero weights turn into NaN.
		a, b := cn.in[0], cn.in[1]
		if !is4D(a) || !is4D(b) {
			return false
		}
		if op.kind == graph.BinMul && (isChannelScale(p.slots[a].shape, p.slots[b].shape) && isChannelScale(at2[a], at2[b]) ||
			isChannelScale(p.slots[b].shape, p.slots[a].shape) && isChannelScale(at2[b], at2[a])) {
			return true
		}
		return (op.kind == graph.BinAdd || op.kind == graph.BinSub || op.kind == graph.BinMul) &&
			slices.Equal(p.slots[a].shape, p.slots[b].shape) && slices.Equal(at2[a], at2[b])
	case *unaryOp:
		return blockedUnaryOps[cn.node.Op] && is4D(cn.in[0])
	case *clipOp:
		_, _, ok := p.constClip(ni)
		return ok && is4D(cn.in[0])
	case *poolOp:
		if !op.Max || op.Win.SpatialDim != 2 || !is4D(cn.in[0]) || op.Win.Sw > 2 {
			return false
		}
		// The zero border stands in for −∞ padding when the input is ≥ 0,
		// or when no window reaches into it.
		_, border := poolWindow(op)
		return nonNeg[p.root(cn.in[0])] || border == 0
	case *globalPoolOp:
		// A depthwise convolution whose kernel is the whole map.
		return !op.max && is4D(cn.in[0])
	case *batchNormOp:
		// Inference BatchNorm that did not fold (it follows no
		// convolution): a 1×1 depthwise convolution.
		_, _, ok := p.bnAffine(ni)
		return ok && is4D(cn.in[0])
	case *concatOp:
		if op.Axis != 1 && op.Axis != -3 {
			return false
		}
		for k, i := range cn.in {
			if !is4D(i) || k < len(cn.in)-1 && p.slots[i].shape[1]%blocked.Block != 0 {
				return false
			}
		}
		return len(cn.in) > 0
	}
	return false
}

// bnAffine returns inference BatchNorm node ni as a per-channel scale and
// shift, when its statistics are params and no other output is read.
func (p *Program) bnAffine(ni int) (scale, shift []float32, ok bool) {
	cn := p.nodes[ni]
	op, isBN := cn.op.(*batchNormOp)
	if !isBN || op.trainingMode || len(cn.in) != 5 || slices.ContainsFunc(cn.out[1:], func(o int) bool { return o >= 0 }) {
		return nil, nil, false
	}
	var st [4][]float32
	for k := range st {
		i := cn.in[k+1]
		if i < 0 || p.slots[i].param == nil {
			return nil, nil, false
		}
		st[k] = p.slots[i].value.Data
	}
	s64, t64, ok := graph.BnScaleShift(st[0], st[1], st[2], st[3], op.eps)
	if !ok {
		return nil, nil, false
	}
	scale, shift = make([]float32, len(s64)), make([]float32, len(t64))
	for i := range s64 {
		scale[i], shift[i] = float32(s64[i]), float32(t64[i])
	}
	return scale, shift, true
}

// buildSegments finds the runs of blockable nodes (CompileInference) and
// turns each that pays into a segment. at2 holds the slots' shapes at
// batch 2 (the program's are at batch 1).
func (p *Program) buildSegments(at2 [][]int) {
	var run []int
	inRun := map[int]bool{} // root slots the run computes
	nonNeg := map[int]bool{}
	flush := func() {
		p.segment(run, at2)
		run = run[:0]
		clear(inRun)
	}
	for ni := range p.nodes {
		if p.skip[ni] {
			continue
		}
		if !p.blockable(ni, at2, nonNeg) {
			flush()
			continue
		}
		cn := p.nodes[ni]
		// A dense convolution of few channels on a real map reads a
		// planar input, which only an entry value can be: it starts a
		// segment of its own. On a tiny map (a squeeze-excitation's 1×1)
		// the padded channels cost less than a cut.
		if conv, ok := cn.op.(*convOp); ok && !conv.depthwise() && conv.geom.C < minBlockedChannels &&
			conv.geom.OH*conv.geom.OW >= minPlanarPixels && inRun[p.root(cn.in[0])] {
			flush()
		}
		run = append(run, ni)
		out := p.root(cn.out[0])
		inRun[out] = true
		var lo float32
		switch op := cn.op.(type) {
		case *convOp:
			lo, _ = op.act.bounds()
		case *binaryOp:
			lo, _ = op.act.bounds()
		case *poolOp:
			// A max pool's output is ≥ 0 when its input is (one that
			// reads no border may take a negative input).
			if !nonNeg[p.root(cn.in[0])] {
				lo = -1
			}
		case *clipOp:
			lo, _, _ = p.constClip(ni)
		case *unaryOp:
			lo = -1
			if nonNegOps[cn.node.Op] {
				lo = 0
			}
		default:
			lo = -1
		}
		nonNeg[out] = lo >= 0
	}
	flush()
}

// segment makes a segment of the nodes run (indices in execution order).
func (p *Program) segment(run []int, at2 [][]int) {
	if len(run) == 0 {
		return
	}
	seg := &blockedSegment{first: run[0], free: map[blocked.Layout][][]float32{}}
	ids := map[int]int{} // root slot → segment value
	value := func(slot int, entry bool) int {
		r := p.root(slot)
		if id, ok := ids[r]; ok {
			return id
		}
		ids[r] = len(seg.values)
		seg.values = append(seg.values, &blockedValue{slot: r, entry: entry, lastUse: -1, planar: entry})
		return ids[r]
	}
	for si, ni := range run {
		cn := p.nodes[ni]
		st := blockedStep{node: ni}
		st.lo, st.hi = float32(math.Inf(-1)), float32(math.Inf(1))
		read := func(slot, border int) {
			v := value(slot, true)
			st.in = append(st.in, v)
			seg.values[v].border = max(seg.values[v].border, border)
			seg.values[v].lastUse = si
		}
		switch op := cn.op.(type) {
		case *convOp:
			_, border := blockedWindow(op.geom)
			read(cn.in[0], border)
			st.kind = blockedConv
			if op.depthwise() {
				st.kind = blockedDepthwise
			}
			if op.residual {
				read(cn.in[3], 0)
			}
			st.lo, st.hi = op.act.bounds()
		case *binaryOp:
			st.kind, st.bin = blockedBinary, op.kind
			a, b := cn.in[0], cn.in[1]
			if isChannelScale(p.slots[b].shape, p.slots[a].shape) {
				a, b = b, a
			}
			if !slices.Equal(p.slots[a].shape, p.slots[b].shape) {
				st.kind = blockedScale // a is the map, b the N×C×1×1 scale
			}
			read(a, 0)
			read(b, 0)
			st.lo, st.hi = op.act.bounds()
		case *unaryOp:
			st.kind, st.unary = blockedUnary, op.f.fwd
			read(cn.in[0], 0)
		case *clipOp:
			st.kind = blockedUnary
			st.lo, st.hi, _ = p.constClip(ni)
			read(cn.in[0], 0)
		case *poolOp:
			st.kind = blockedMaxPool
			bg, border := poolWindow(op)
			read(cn.in[0], border)
			st.mp = &blocked.MaxPool{C: op.c, Geom: bg}
		case *batchNormOp:
			st.kind = blockedDepthwise
			read(cn.in[0], 0)
			scale, shift, _ := p.bnAffine(ni)
			st.dw = blocked.NewDepthwise(scale, len(scale), blocked.Geom{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}, shift)
		case *concatOp:
			st.kind = blockedConcat
			for _, i := range cn.in {
				read(i, 0)
			}
		case *globalPoolOp:
			st.kind = blockedDepthwise
			read(cn.in[0], 0)
			sh := p.slots[cn.in[0]].shape
			k := make([]float32, sh[1]*sh[2]*sh[3])
			for i := range k {
				k[i] = 1 / float32(sh[2]*sh[3])
			}
			st.dw = blocked.NewDepthwise(k, sh[1], blocked.Geom{KH: sh[2], KW: sh[3], SH: 1, SW: 1, DH: 1, DW: 1}, nil)
		}
		st.out = value(cn.out[0], false)
		seg.steps = append(seg.steps, st)
	}
	// An entry stays planar (padded NCHW, no channel padding and a plain
	// copy in) when only dense convolutions read it, as their input.
	for _, st := range seg.steps {
		for k, v := range st.in {
			if op, ok := p.nodes[st.node].op.(*convOp); st.kind != blockedConv || k > 0 || !ok || op.group != 1 {
				seg.values[v].planar = false
			}
		}
	}
	// All values must have one N, at every batch size: the segment runs
	// images in chunks (a fixed-N value among batch-sized ones would not
	// split with them).
	for _, v := range seg.values {
		v0 := seg.values[0].slot
		if p.slots[v.slot].shape[0] != p.slots[v0].shape[0] || at2[v.slot][0] != at2[v0][0] {
			return
		}
	}
	inRun := map[int]bool{}
	for _, ni := range run {
		inRun[ni] = true
	}
	// Values read outside the segment (or by the caller) are written back.
	for ni, cn := range p.nodes {
		if inRun[ni] || p.skip[ni] && !p.inSegment[ni] {
			continue
		}
		for _, i := range cn.in {
			if i >= 0 {
				if id, ok := ids[p.root(i)]; ok && !seg.values[id].entry {
					seg.values[id].exit = true
				}
			}
		}
	}
	for _, o := range p.outs {
		if id, ok := ids[p.root(o)]; ok && !seg.values[id].entry {
			seg.values[id].exit = true
		}
	}
	if !seg.worthIt(p) {
		return
	}
	for i := range seg.steps {
		st := &seg.steps[i]
		cn := p.nodes[st.node]
		op, ok := cn.op.(*convOp)
		if !ok {
			continue
		}
		bg, _ := blockedWindow(op.geom)
		w := p.slots[cn.in[1]].value.Data
		var b []float32
		if len(cn.in) > 2 && cn.in[2] >= 0 {
			b = p.slots[cn.in[2]].value.Data
		}
		if st.kind == blockedDepthwise {
			st.dw = blocked.NewDepthwise(w, op.m, bg, b)
		} else {
			st.conv = blocked.NewConv(w, op.m, op.cin, op.group, bg, b, seg.values[st.in[0]].planar)
		}
	}
	for _, ni := range run {
		p.skip[ni] = true
		p.inSegment[ni] = true
	}
	for _, v := range seg.values {
		if !v.entry && !v.exit {
			p.slots[v.slot].unused = true
		}
	}
	if p.segments == nil {
		p.segments = map[int]*blockedSegment{}
	}
	p.segments[seg.first] = seg
}

// minMACsPerConverted is how many multiply-adds of convolutions a segment
// must hold per element it converts between layouts (its entries and
// exits): a conversion costs about a nanosecond per element, and the
// blocked convolutions save somewhat over a hundredth of one per
// multiply-add. Below it (a lone pointwise convolution, a segment cut
// short by a Concat on both sides) the NCHW path is faster.
const minMACsPerConverted = 128

// worthIt says whether the segment's convolutions outweigh its layout
// conversions, per image.
func (s *blockedSegment) worthIt(p *Program) bool {
	elems := func(slot int) int {
		sh := p.slots[slot].shape
		return sh[1] * sh[2] * sh[3]
	}
	macs, converted := 0, 0
	for _, st := range s.steps {
		if op, ok := p.nodes[st.node].op.(*convOp); ok {
			g := op.geom
			macs += op.m * g.C * g.KH * g.KW * g.OH * g.OW
		}
	}
	for _, v := range s.values {
		if v.entry || v.exit {
			converted += elems(v.slot)
		}
	}
	return macs > 0 && macs >= minMACsPerConverted*converted
}

// blockedWindow returns the blocked geometry of a window and the border its
// input needs (0 when no window reaches past the input).
func blockedWindow(g kernels.Geom) (blocked.Geom, int) {
	bg := blocked.Geom{KH: g.KH, KW: g.KW, SH: g.SH, SW: g.SW, DH: g.DH, DW: g.DW, PT: g.PT, PL: g.PL}
	return bg, bg.Border(g.H, g.W, g.OH, g.OW)
}

func poolWindow(op *poolOp) (blocked.Geom, int) {
	w := &op.Win
	return blockedWindow(kernels.Geom{H: op.h, W: op.w, KH: w.Kh, KW: w.Kw, SH: w.Sh, SW: w.Sw, DH: w.Dh, DW: w.Dw, PT: w.Pt, PL: w.Pl, OH: op.oh, OW: op.ow})
}

// get returns a zeroed-border buffer for a layout.
func (s *blockedSegment) get(l blocked.Layout) []float32 {
	if bufs := s.free[l]; len(bufs) > 0 {
		s.free[l] = bufs[:len(bufs)-1]
		return bufs[len(bufs)-1]
	}
	return make([]float32, l.Len())
}

func (s *blockedSegment) release(v *blockedValue) {
	s.free[v.layout] = append(s.free[v.layout], v.buf)
	v.buf = nil
}

// segmentChunkBytes bounds the largest activation of one pass of a
// segment: a large batch runs in chunks of images, each through all of the
// segment's nodes, so that a layer's output is still in cache when the
// next layer reads it (an input and an output of 2 MB fill the two cores'
// L2): the depthwise and pointwise layers of a MobileNet do too little
// arithmetic per byte to run at L3 or DRAM speed. Smaller chunks pay the
// per-layer overhead (thread wake-ups, calls) too often. shears run,
// batch 64, builds alternated: mobilenetv2-s 8.7–10.8 ms with 2 MB, 10.7–12.1
// with 4 MB, 10.3–11.4 with 8 MB, 13.5–13.9 with 1 MB; mobilenet_v2 315 ms
// in one pass, 270–280 ms with 4–16 MB (its activations exceed 2 MB per
// image, so it runs one image per pass from 5 MB down).
var segmentChunkBytes = 2 << 20

// chunk returns the images per pass for n images.
func (s *blockedSegment) chunk(p *Program, n int) int {
	largest := 0
	for _, v := range s.values {
		sh := p.slots[v.slot].shape
		l := blocked.Layout{N: 1, C: sh[1], H: sh[2], W: sh[3], Border: v.border, Planar: v.planar}
		largest = max(largest, 4*l.Len())
	}
	passes := (n*largest + segmentChunkBytes - 1) / segmentChunkBytes
	passes = min(max(passes, 1), n)
	return (n + passes - 1) / passes
}

// forward runs the segment on the program's current values. Its images
// are its values' N (segment checks they all have the same): the batch
// size, or a graph's fixed N.
func (s *blockedSegment) forward(p *Program, threads int) {
	n := p.slots[s.values[0].slot].shape[0]
	if s.batch != n {
		s.batch = n
		clear(s.free)
		s.images = s.chunk(p, n)
	}
	for n0 := 0; n0 < n; n0 += s.images {
		s.pass(p, n0, min(s.images, n-n0), threads)
	}
}

// pass runs the segment on images [n0, n0+cnt).
func (s *blockedSegment) pass(p *Program, n0, cnt, threads int) {
	// image returns the NCHW slice of the chunk's images in slot i.
	image := func(i int) []float32 {
		d := p.slots[i].value.Data
		per := len(d) / s.batch
		return d[n0*per : (n0+cnt)*per]
	}
	for _, v := range s.values {
		sh := p.slots[v.slot].shape
		v.layout = blocked.Layout{N: cnt, C: sh[1], H: sh[2], W: sh[3], Border: v.border, Planar: v.planar}
	}
	var start time.Time
	timed := p.opTimes != nil
	if timed {
		start = time.Now()
	}
	for _, v := range s.values {
		if v.entry {
			v.buf = s.get(v.layout)
			blocked.FromNCHW(v.buf, v.layout, image(v.slot), threads)
		}
	}
	for si, st := range s.steps {
		out := s.values[st.out]
		out.buf = s.get(out.layout)
		x := s.values[st.in[0]]
		switch st.kind {
		case blockedConv, blockedDepthwise:
			var res []float32
			rl := out.layout
			if len(st.in) > 1 {
				r := s.values[st.in[1]]
				res, rl = r.buf, r.layout
			}
			if st.conv != nil {
				st.conv.Run(x.buf, x.layout, out.buf, out.layout, res, rl, st.lo, st.hi, threads)
			} else {
				st.dw.Run(x.buf, x.layout, out.buf, out.layout, res, rl, st.lo, st.hi, threads)
			}
		case blockedMaxPool:
			st.mp.Run(x.buf, x.layout, out.buf, out.layout, threads)
		case blockedConcat:
			// The inputs' blocks one after another (all but the last
			// input are whole blocks).
			off := 0
			for _, i := range st.in {
				v := s.values[i]
				blocked.ForRows(v.layout, threads, func(n, cb, h int) {
					o := out.buf[out.layout.At(n, off+cb, h, 0):][:out.layout.W*blocked.Block]
					copy(o, v.buf[v.layout.At(n, cb, h, 0):])
				})
				off += v.layout.Blocks()
			}
		case blockedBinary:
			y := s.values[st.in[1]]
			blocked.ForRows(out.layout, threads, func(n, cb, h int) {
				o := out.buf[out.layout.At(n, cb, h, 0):][:out.layout.W*blocked.Block]
				binRow(st.bin, o, x.buf[x.layout.At(n, cb, h, 0):], y.buf[y.layout.At(n, cb, h, 0):], 1, 1)
				vec.Clamp(o, o, st.lo, st.hi)
			})
		case blockedUnary:
			blocked.ForRows(out.layout, threads, func(n, cb, h int) {
				o := out.buf[out.layout.At(n, cb, h, 0):][:out.layout.W*blocked.Block]
				xr := x.buf[x.layout.At(n, cb, h, 0):][:len(o)]
				if st.unary != nil {
					st.unary(o, xr)
				} else {
					vec.Clamp(o, xr, st.lo, st.hi)
				}
			})
		case blockedScale:
			y := s.values[st.in[1]]
			blocked.ForRows(out.layout, threads, func(n, cb, h int) {
				o := out.buf[out.layout.At(n, cb, h, 0):][:out.layout.W*blocked.Block]
				xr := x.buf[x.layout.At(n, cb, h, 0):][:len(o)]
				sc := (*[blocked.Block]float32)(y.buf[y.layout.At(n, cb, 0, 0):])
				for px := 0; px < len(o); px += blocked.Block {
					op, xp := (*[blocked.Block]float32)(o[px:]), (*[blocked.Block]float32)(xr[px:])
					for c := range op {
						op[c] = xp[c] * sc[c]
					}
				}
				vec.Clamp(o, o, st.lo, st.hi)
			})
		}
		if out.exit {
			blocked.ToNCHW(image(out.slot), out.buf, out.layout, threads)
		}
		for _, i := range st.in {
			if v := s.values[i]; v.lastUse == si && v.buf != nil {
				s.release(v)
			}
		}
		if out.lastUse <= si && out.buf != nil {
			s.release(out)
		}
		if timed {
			now := time.Now()
			p.opTimes[st.node] += now.Sub(start)
			start = now
		}
	}
}

// blockedUnaryOps are the elementwise ops a segment runs: activations,
// finite on every finite input, so that the values they make in padding
// channels stay harmless (Log or Reciprocal of a zero would not).
var blockedUnaryOps = map[string]bool{
	"Identity": true, "Relu": true, "LeakyRelu": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true,
	"Tanh": true, "Softsign": true, "ThresholdedRelu": true, "Neg": true, "Abs": true, "Erf": true,
	"Elu": true, "Selu": true, "Celu": true,
}

// nonNegOps are the unary ops whose outputs are ≥ 0.
var nonNegOps = map[string]bool{"Relu": true, "Sigmoid": true, "HardSigmoid": true, "Abs": true, "ThresholdedRelu": true}

// constClip returns the bounds of Clip node ni when they are attributes or
// params.
func (p *Program) constClip(ni int) (lo, hi float32, ok bool) {
	cn := p.nodes[ni]
	op, isClip := cn.op.(*clipOp)
	if !isClip {
		return 0, 0, false
	}
	in := make([]*tensor.Tensor, len(cn.in))
	for k, i := range cn.in[1:] {
		if i >= 0 {
			if p.slots[i].param == nil {
				return 0, 0, false
			}
			in[k+1] = p.slots[i].value
		}
	}
	lo, hi, err := op.bounds(in)
	return lo, hi, err == nil && lo <= hi
}

// isChannelScale reports whether shape s is [N, C, 1, 1] for a map x of
// shape [N, C, H, W] (a squeeze-excitation's scale).
func isChannelScale(x, s []int) bool {
	return len(x) == 4 && len(s) == 4 && s[0] == x[0] && s[1] == x[1] && s[2] == 1 && s[3] == 1
}
