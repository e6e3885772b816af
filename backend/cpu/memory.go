package cpu

import (
	"math"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// ActivationBytes estimates the memory Forward allocates for a batch
// size: every input and every computed value (float32), from shape
// inference alone, so that a small file whose activations would need tens
// of gigabytes is refused before anything is allocated. Values that share
// a buffer (a fused op's output) count once; params are not counted. For
// an inference program (CompileInference) it is the planned buffers of
// planValues: the values live at once, not all of them (blocked segments
// add their per-chunk buffers, a few megabytes). Training keeps a gradient
// per value besides: callers double the figure. The sum saturates at
// math.MaxInt64 instead of overflowing.
//
// Call it before running the program: it leaves the program's shapes at
// batch 1, as Compile does, and drops buffers allocated for another batch.
func (p *Program) ActivationBytes(batch int) (int64, error) {
	err := p.setBatch(batch, false)
	var total int64
	if err == nil {
		total, err = p.activationBytes()
	}
	if err1 := p.setBatch(1, false); err == nil {
		err = err1
	}
	return total, err
}

// activationBytes is ActivationBytes at the current shapes.
func (p *Program) activationBytes() (int64, error) {
	var sizes []int
	if p.reuseValues {
		for _, i := range p.inputs {
			n, err := tensor.NumElems(p.slots[i].shape)
			if err != nil {
				return 0, err
			}
			sizes = append(sizes, n)
		}
		plan, err := p.planValues()
		if err != nil {
			return 0, err
		}
		sizes = append(sizes, plan.arena)
		for i, own := range plan.own {
			if own {
				sizes = append(sizes, graph.ShapeProd(p.slots[i].shape))
			}
		}
	} else {
		for _, s := range p.slots {
			if s.param != nil || s.aliasOf != nil || s.unused {
				continue
			}
			n, err := tensor.NumElems(s.shape)
			if err != nil {
				return 0, err
			}
			sizes = append(sizes, n)
		}
	}
	var total int64
	for _, n := range sizes {
		if total > math.MaxInt64-4*int64(n) {
			return math.MaxInt64, nil
		}
		total += 4 * int64(n)
	}
	return total, nil
}

// valuePlan places the computed values of an inference program: most in
// one buffer (the arena) of arena floats, slot i at offset[i] (−1 when it
// is not there); own marks the values with a buffer of their own. Params,
// inputs, aliases, values inside a blocked segment and empty values are
// in neither.
type valuePlan struct {
	arena  int
	offset []int
	own    []bool
}

// valueAlign is the granule (floats) of arena offsets: values start on a
// 64-byte boundary, as the vector kernels like them.
const valueAlign = 16

// planValues places the values by liveness at the current shapes. Step t
// of a pass runs node t (a blocked segment runs in its first node's place,
// reading its entries and writing its exits there; fused nodes do not
// run). A value lives from the step that writes it to its last reader's;
// two values whose lives share a step get disjoint memory, so a node never
// writes memory it reads. Graph outputs get buffers of their own, which no
// other value overlaps: they stay valid after Forward, and a caller may
// feed one back as an input.
//
// Placement is greedy by size (TensorFlow Lite's arena planner): the
// largest values first, each at the lowest offset where it fits among the
// values placed before it whose lives overlap its own, in the smallest
// such gap. On densenet121, whose Concats grow along each block, that is
// the most memory live at one step (0.58 GB at batch 64,
// TestValuePlanDensenet121); handing whole buffers from dead values to
// new ones, as planSharedGrads does, needed 2.2 GB: their tails go to
// waste.
func (p *Program) planValues() (valuePlan, error) {
	root := make([]int, len(p.slots))
	for i := range p.slots {
		root[i] = i
		if p.slots[i].aliasOf != nil {
			root[i] = p.root(i)
		}
	}
	birth := make([]int, len(p.slots))
	death := make([]int, len(p.slots))
	for i := range birth {
		birth[i], death[i] = -1, -1
	}
	write := func(i, t int) {
		if i < 0 {
			return
		}
		r := root[i]
		if birth[r] < 0 {
			birth[r] = t
		}
		death[r] = max(death[r], t)
	}
	read := func(i, t int) {
		if i >= 0 {
			death[root[i]] = max(death[root[i]], t)
		}
	}
	for t, cn := range p.nodes {
		if seg := p.segments[t]; seg != nil {
			for _, v := range seg.values {
				if v.entry {
					read(v.slot, t)
				}
			}
			for _, v := range seg.values {
				if v.exit {
					write(v.slot, t)
				}
			}
			continue
		}
		if p.skip != nil && p.skip[t] {
			continue
		}
		for _, i := range cn.in {
			read(i, t)
		}
		for _, o := range cn.out {
			write(o, t)
		}
	}
	output := make([]bool, len(p.slots))
	for _, o := range p.outs {
		output[root[o]] = true
	}
	plan := valuePlan{offset: make([]int, len(p.slots)), own: make([]bool, len(p.slots))}
	size := make([]int, len(p.slots))
	var order []int
	for i, s := range p.slots {
		plan.offset[i] = -1
		if s.param != nil || s.input || s.aliasOf != nil || s.unused {
			continue
		}
		n, err := tensor.NumElems(s.shape)
		if err != nil {
			return valuePlan{}, err
		}
		if n == 0 {
			continue
		}
		if birth[i] < 0 || output[i] {
			// Not computed by a step (so not planned) or read after the
			// pass: a buffer of its own.
			plan.own[i] = true
			continue
		}
		size[i] = (n + valueAlign - 1) / valueAlign * valueAlign
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if size[a] != size[b] {
			return size[b] - size[a]
		}
		return birth[a] - birth[b]
	})
	var placed, overlap []int // by offset
	for _, i := range order {
		overlap = overlap[:0]
		for _, j := range placed {
			if birth[j] <= death[i] && birth[i] <= death[j] {
				overlap = append(overlap, j)
			}
		}
		best, bestGap, end := -1, math.MaxInt, 0
		for _, j := range overlap {
			if gap := plan.offset[j] - end; gap >= size[i] && gap < bestGap {
				best, bestGap = end, gap
			}
			end = max(end, plan.offset[j]+size[j])
		}
		if best < 0 {
			best = end
		}
		plan.offset[i] = best
		plan.arena = max(plan.arena, best+size[i])
		at, _ := slices.BinarySearchFunc(placed, best, func(j, off int) int { return plan.offset[j] - off })
		placed = slices.Insert(placed, at, i)
	}
	return plan, nil
}

// allocPlanned gives the values of an inference program their memory by
// planValues at the current shapes.
func (p *Program) allocPlanned() error {
	plan, err := p.planValues()
	if err != nil {
		return err
	}
	arena := make([]float32, plan.arena)
	for i, s := range p.slots {
		if s.param != nil || s.input || s.aliasOf != nil {
			continue
		}
		s.shared = plan.offset[i] >= 0
		s.value = nil
		if off := plan.offset[i]; off >= 0 {
			n := graph.ShapeProd(s.shape)
			s.value = &tensor.Tensor{Shape: slices.Clone(s.shape), Data: arena[off : off+n : off+n]}
		} else if !s.unused {
			s.value = tensor.New(s.shape...) // its own, or empty
		}
	}
	for _, s := range p.slots {
		if s.aliasOf != nil {
			s.value = s.aliasOf.value
		}
	}
	p.valuePlan = p.batch
	return nil
}
