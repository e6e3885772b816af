package prune

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shearsml/shears/graph"
)

// Granularity says what one pruning decision removes. Criteria score its
// units and allocation keeps or removes whole units.
//
// Structured granularities (Channels: "filter", "channel") remove channels
// of dependency groups, so the model can be physically slimmed. The others
// zero sets of elements inside one weight (masks only): Blocks covers
// single weights ("weight"), SSL's kernel shapes ("shape") and blocks
// ("block1x4"); NM adds the N-of-every-M pattern of sparse tensor cores.
//
// A granularity answers for itself what the rest of the package needs to
// know about it, so that a new one is one new type: whether it slims,
// what its units are, how a layer's kept units are chosen, and whether
// its sparsity is fixed (which rules out schedules that raise it step by
// step).
type Granularity interface {
	Name() string
	// Structured reports whether the units are channels of dependency
	// groups, so that pruning can slim the model; the others only mask.
	Structured() bool
	// Units assigns each element of weight p to a unit (unit[i] for
	// element i in row-major order) and returns the number of units.
	// Structured granularities return nil: their units are the channels
	// of dependency groups.
	Units(p *graph.Param) (unit []int32, n int, err error)
	// Sets returns, for a granularity that keeps a fixed number of units
	// in each of several sets of a weight, each unit's set and how many
	// units of a set stay (N:M: N of every M consecutive inputs); nil
	// when allocation ranks the units of a layer freely. An error says
	// why weight p does not fit the pattern (it is then left dense).
	Sets(p *graph.Param) (set []int32, keep int, err error)
	// FixedRatio returns the sparsity the granularity itself imposes
	// (N:M: 1 − N/M) and true, or false when the allocation chooses it.
	// A fixed sparsity is reached in one step: gradual schedules do not
	// apply.
	FixedRatio() (ratio float64, fixed bool)
}

// Channels is the structured granularity: a unit is one channel of a
// dependency group — a filter of every coupled conv, its BatchNorm entries
// and the next layers' input weights.
type Channels struct {
	// Filters scores a channel by its filters only (the out slices of
	// the coupled conv and linear weights), as Li et al. 2017 do
	// ("filter"); otherwise every coupled weight slice and BatchNorm
	// scale counts, as Torch-Pruning's group importance ("channel").
	Filters bool
}

func (c Channels) Name() string {
	if c.Filters {
		return "filter"
	}
	return "channel"
}

func (Channels) Structured() bool                         { return true }
func (Channels) Units(*graph.Param) ([]int32, int, error) { return nil, 0, nil }
func (Channels) Sets(*graph.Param) ([]int32, int, error)  { return nil, 0, nil }
func (Channels) FixedRatio() (float64, bool)              { return 0, false }

// Blocks partitions a weight into blocks of Out output × In input
// positions at each kernel position; 0 means the whole axis. Blocks{1, 1}
// is unstructured pruning (Han et al. 2015); Blocks{0, 1} is SSL's
// shape-wise pruning (Wen et al. 2016: one input channel and kernel
// position across all filters of a layer); Blocks{1, 4} removes runs of
// four input weights, which block-sparse kernels skip.
type Blocks struct{ Out, In int }

func (b Blocks) Name() string {
	switch b {
	case Blocks{1, 1}:
		return "weight"
	case Blocks{0, 1}:
		return "shape"
	}
	return fmt.Sprintf("block%dx%d", b.Out, b.In)
}

func (Blocks) Structured() bool                        { return false }
func (Blocks) Sets(*graph.Param) ([]int32, int, error) { return nil, 0, nil }
func (Blocks) FixedRatio() (float64, bool)             { return 0, false }

func (b Blocks) Units(p *graph.Param) ([]int32, int, error) {
	oa, ia := p.WeightAxes()
	if oa < 0 || ia < 0 {
		return nil, 0, fmt.Errorf("prune: %s is not a weight with out and in axes", p.Name)
	}
	shape := p.Value.Shape
	grid := make([]int, len(shape))
	div := make([]int, len(shape))
	for a, d := range shape {
		grid[a], div[a] = d, 1
		k := 1
		switch a {
		case oa:
			k = b.Out
		case ia:
			k = b.In
		}
		if k <= 0 || k >= d {
			k = d
		}
		div[a] = k
		grid[a] = (d + k - 1) / k
	}
	n := 1
	for _, d := range grid {
		n *= d
	}
	unit := make([]int32, p.Value.Len())
	coord := make([]int, len(shape))
	for i := range unit {
		u := 0
		for a := range shape {
			u = u*grid[a] + coord[a]/div[a]
		}
		unit[i] = int32(u)
		for a := len(shape) - 1; a >= 0; a-- {
			if coord[a]++; coord[a] < shape[a] {
				break
			}
			coord[a] = 0
		}
	}
	return unit, n, nil
}

// NM keeps N of every M consecutive weights along the input axis (for
// every output and kernel position): the 2:4 pattern of NVIDIA's sparse
// tensor cores (Mishra et al. 2021, "Accelerating Sparse Deep Neural
// Networks"). Its sparsity is fixed at 1 − N/M; allocation only picks
// which N stay. Units are single weights; sets groups them by M.
type NM struct{ N, M int }

func (g NM) Name() string { return fmt.Sprintf("%d:%d", g.N, g.M) }

func (NM) Structured() bool                             { return false }
func (g NM) Units(p *graph.Param) ([]int32, int, error) { return Blocks{1, 1}.Units(p) }
func (g NM) FixedRatio() (float64, bool)                { return 1 - float64(g.N)/float64(g.M), true }

// Sets returns, for each element of p (a unit: N:M units are single
// weights), its set of M along the input axis, or an error when the input
// axis is not a multiple of M.
func (g NM) Sets(p *graph.Param) ([]int32, int, error) {
	_, ia := p.WeightAxes()
	if ia < 0 {
		return nil, 0, fmt.Errorf("%s has no input axis", p.Name)
	}
	if d := p.Value.Shape[ia]; d%g.M != 0 {
		return nil, 0, fmt.Errorf("%s has %d inputs, not a multiple of %d", p.Name, d, g.M)
	}
	s, _, err := Blocks{1, g.M}.Units(p)
	return s, g.N, err
}

// ParseGranularity reads a granularity name: filter, channel, weight (or
// unstructured), shape, N:M (2:4) or blockAxB (block1x4; block = 1×4).
func ParseGranularity(s string) (Granularity, error) {
	switch s {
	case "filter":
		return Channels{Filters: true}, nil
	case "channel":
		return Channels{}, nil
	case "weight", "unstructured":
		return Blocks{1, 1}, nil
	case "shape":
		return Blocks{0, 1}, nil
	case "block":
		return Blocks{1, 4}, nil
	}
	if n, m, ok := strings.Cut(s, ":"); ok {
		N, e1 := strconv.Atoi(n)
		M, e2 := strconv.Atoi(m)
		if e1 != nil || e2 != nil || N < 1 || M < 2 || N >= M {
			return nil, fmt.Errorf("granularity %q: want N:M with 1 ≤ N < M, such as 2:4", s)
		}
		return NM{N, M}, nil
	}
	if rest, ok := strings.CutPrefix(s, "block"); ok {
		a, b, ok := strings.Cut(rest, "x")
		A, e1 := strconv.Atoi(a)
		B, e2 := strconv.Atoi(b)
		if !ok || e1 != nil || e2 != nil || A < 1 || B < 1 {
			return nil, fmt.Errorf("granularity %q: want blockAxB with A outputs by B inputs, such as block1x4", s)
		}
		return Blocks{A, B}, nil
	}
	return nil, fmt.Errorf("unknown granularity %q (filter, channel, weight, shape, N:M such as 2:4, blockAxB such as block1x4)", s)
}

// Structured reports whether gr removes channels (and so can slim): gr.Structured().
func Structured(gr Granularity) bool { return gr.Structured() }

// Weights lists the conv and linear weights of g (trainable params with an
// out and an in axis), in param order: what element granularities prune.
// Biases and BatchNorm params are not weights.
func Weights(g *graph.Graph) []*graph.Param {
	var ws []*graph.Param
	for _, p := range g.Params {
		if o, i := p.WeightAxes(); p.Trainable && o >= 0 && i >= 0 && p.Value.Rank() >= 2 {
			ws = append(ws, p)
		}
	}
	return ws
}
