package graph

import (
	"math"
	"slices"

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
		sizes = append(sizes, plan.sizes...)
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

// valuePlan assigns the computed values of an inference program to
// buffers: sizes holds each buffer's length (floats), buffer the buffer of
// each slot (−1 for params, inputs, aliases, values inside a blocked
// segment and empty values), shared whether a slot's buffer also holds
// other values during a pass.
type valuePlan struct {
	sizes  []int
	buffer []int
	shared []bool
}

// planValues assigns buffers by liveness at the current shapes. Step t of
// a pass runs node t (a blocked segment runs in its first node's place and
// reads its entries and writes its exits there; fused nodes do not run).
// A value is born at the step that writes it and dies at its last
// reader's step (graph outputs get buffers of their own, which no other
// value uses, so they stay valid after Forward and a caller may feed one
// back as an input). A buffer goes to a value only when its owner died at
// an earlier step, so a node never reads and writes one buffer. Values
// are taken in the order they are born, each into the smallest free
// buffer that holds it, else into the largest free buffer, grown (with
// values growing down a network, as densenet's Concats do, a grown buffer
// replaces a smaller one instead of joining it), else a new one.
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
	plan := valuePlan{buffer: make([]int, len(p.slots)), shared: make([]bool, len(p.slots))}
	var order []int
	for i, s := range p.slots {
		plan.buffer[i] = -1
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
			// Never written in a pass (nothing the program runs
			// computes it) or read after it: a buffer of its own.
			plan.buffer[i] = len(plan.sizes)
			plan.sizes = append(plan.sizes, n)
			continue
		}
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int { return birth[a] - birth[b] })
	owner := map[int]int{} // shared buffer → the slot that uses it last
	var pool []int         // the shared buffers
	for _, i := range order {
		n, _ := tensor.NumElems(p.slots[i].shape)
		best, largest := -1, -1
		for _, b := range pool {
			if death[owner[b]] >= birth[i] {
				continue // still live
			}
			if plan.sizes[b] >= n && (best < 0 || plan.sizes[b] < plan.sizes[best]) {
				best = b
			}
			if largest < 0 || plan.sizes[b] > plan.sizes[largest] {
				largest = b
			}
		}
		switch {
		case best >= 0:
		case largest >= 0:
			best = largest
			plan.sizes[best] = n
		default:
			best = len(plan.sizes)
			plan.sizes = append(plan.sizes, n)
			pool = append(pool, best)
		}
		owner[best] = i
		plan.buffer[i] = best
		plan.shared[i] = true
	}
	return plan, nil
}

// allocPlanned gives the values of an inference program their buffers by
// planValues at the current shapes.
func (p *Program) allocPlanned() error {
	plan, err := p.planValues()
	if err != nil {
		return err
	}
	bufs := make([][]float32, len(plan.sizes))
	for b, n := range plan.sizes {
		bufs[b] = make([]float32, n)
	}
	for i, s := range p.slots {
		if s.param != nil || s.input || s.aliasOf != nil {
			continue
		}
		s.shared = plan.shared[i]
		s.value = nil
		if b := plan.buffer[i]; b >= 0 {
			n, _ := tensor.NumElems(s.shape)
			s.value = &tensor.Tensor{Shape: slices.Clone(s.shape), Data: bufs[b][:n]}
		} else if !s.unused {
			s.value = tensor.New(s.shape...) // empty
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
