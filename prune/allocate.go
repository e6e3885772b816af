package prune

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Allocator decides which units of scored layers stay. Allocation (a
// uniform ratio, a global ranking, ratios by layer name) and
// SensitivityBudget implement it; a search loop (evolutionary, AMC) is one
// more implementation, proposing per-layer ratios and keeping the best by
// a Cost and an Evaluator. Pruner.Step calls Plan with each step's ratio.
type Allocator interface {
	// Plan decides which units stay at ratio (the fraction of units to
	// remove; an allocator that sets its own ratios ignores it).
	Plan(layers []*Layer, ratio float64) (*Plan, error)
}

// Plan is Allocate at ratio instead of a.Ratio.
func (a Allocation) Plan(layers []*Layer, ratio float64) (*Plan, error) {
	a.Ratio = ratio
	return a.Allocate(layers)
}

// Allocation says how many units of each layer go, given their scores.
//
// Uniform (the default) removes the fraction Ratio of every layer's units;
// Global ranks all units of all layers together and removes the lowest
// Ratio of them (Ratio counts channels for filter and channel
// granularities, and weights otherwise: a channel ratio is not a
// parameter ratio — see Metrics for what was removed). Either way a layer
// always keeps at least one unit; Global never takes more than
// MaxLayerRatio of a layer, warns when that cap binds, and fails when the
// target cannot be met without breaking it.
//
// LayerRatios override Ratio for the layers whose names match (first
// match wins) and take them out of the global ranking; ratio 0 leaves a
// layer alone (Torch-Pruning's ignored_layers). RoundTo rounds every
// layer's kept units up to a multiple (Torch-Pruning's round_to, for
// kernels that like multiples of 8). An N:M layer always keeps N of each
// M, whatever the ratio.
type Allocation struct {
	Ratio         float64
	Global        bool
	MaxLayerRatio float64 // 0: no cap but keeping one unit
	RoundTo       int
	LayerRatios   []LayerRatio
}

// LayerRatio is a pruning ratio for the layers whose names match a
// regular expression (Go syntax, unanchored).
type LayerRatio struct {
	Pattern string
	Ratio   float64
	re      *regexp.Regexp
}

// ParseLayerRatio reads "REGEX=R" (the last '=' splits).
func ParseLayerRatio(s string) (LayerRatio, error) {
	i := strings.LastIndexByte(s, '=')
	if i <= 0 {
		return LayerRatio{}, fmt.Errorf("layer ratio %q: want REGEX=RATIO, such as 'conv1$=0.3'", s)
	}
	r, err := strconv.ParseFloat(s[i+1:], 64)
	if err != nil {
		return LayerRatio{}, fmt.Errorf("layer ratio %q: %q is not a number", s, s[i+1:])
	}
	return NewLayerRatio(s[:i], r)
}

// NewLayerRatio compiles a pattern and checks the ratio.
func NewLayerRatio(pattern string, ratio float64) (LayerRatio, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return LayerRatio{}, fmt.Errorf("layer ratio: bad regular expression %q: %v", pattern, err)
	}
	if err := CheckRatio(fmt.Sprintf("layer ratio for %q", pattern), ratio); err != nil {
		return LayerRatio{}, err
	}
	return LayerRatio{Pattern: pattern, Ratio: ratio, re: re}, nil
}

// CheckRatio reports a pruning ratio outside [0, 1), naming it what.
func CheckRatio(what string, r float64) error {
	if !(r >= 0 && r < 1) {
		if r == 1 {
			return fmt.Errorf("%s is 1, which would empty a layer: want a ratio in [0, 1)", what)
		}
		return fmt.Errorf("%s must be in [0, 1), have %g", what, r)
	}
	return nil
}

// Validate reports the first bad setting.
func (a Allocation) Validate() error {
	if err := CheckRatio("ratio", a.Ratio); err != nil {
		return err
	}
	if a.MaxLayerRatio != 0 {
		if err := CheckRatio("max layer ratio", a.MaxLayerRatio); err != nil {
			return err
		}
	}
	if a.RoundTo < 0 {
		return fmt.Errorf("round-to must be ≥ 1, have %d", a.RoundTo)
	}
	for _, lr := range a.LayerRatios {
		if lr.re == nil {
			return fmt.Errorf("layer ratio %q was not compiled (use NewLayerRatio)", lr.Pattern)
		}
	}
	return nil
}

// Plan is the outcome of allocation: which units of each layer stay.
type Plan struct {
	Layers   []*Layer
	Keep     [][]bool // Keep[i][u]: unit u of layer i stays
	Warnings []string
}

// Allocate decides which units of the scored layers stay.
func (a Allocation) Allocate(layers []*Layer) (*Plan, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p := &Plan{Layers: layers, Keep: make([][]bool, len(layers))}
	ratio := make([]float64, len(layers))
	inGlobal := make([]bool, len(layers))
	for i, l := range layers {
		ratio[i], inGlobal[i] = a.Ratio, a.Global
		for _, lr := range a.LayerRatios {
			if lr.re.MatchString(l.Name) {
				ratio[i], inGlobal[i] = lr.Ratio, false
				break
			}
		}
		if l.Skip != "" || l.sets != nil {
			inGlobal[i] = false
		}
	}
	if err := a.Check(layers); err != nil {
		return nil, err
	}
	for i, l := range layers {
		p.Keep[i] = make([]bool, l.Units)
		switch {
		case l.Skip != "":
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s left unpruned: %s", l.Name, l.Skip))
			fillTrue(p.Keep[i])
		case l.sets != nil:
			keepNM(l, p.Keep[i])
		case !inGlobal[i]:
			n := int(math.Floor(ratio[i]*float64(l.Units) + 1e-9))
			keepBest(l, p.Keep[i], l.Units-n)
		}
	}
	if a.Global {
		if err := a.global(p, inGlobal); err != nil {
			return nil, err
		}
	}
	if a.RoundTo > 1 {
		for i, l := range layers {
			if l.sets != nil || l.Skip != "" {
				continue
			}
			kept := numTrue(p.Keep[i])
			want := min(l.Units, (kept+a.RoundTo-1)/a.RoundTo*a.RoundTo)
			if want != kept {
				keepBest(l, p.Keep[i], want)
			}
		}
	}
	if err := p.choose(); err != nil {
		return nil, err
	}
	return p, nil
}

// choose lets a Selector criterion pick the kept units of each layer
// whose count allocation decided.
func (p *Plan) choose() error {
	for i, l := range p.Layers {
		if l.choose == nil || l.Skip != "" {
			continue
		}
		k := numTrue(p.Keep[i])
		if k == l.Units {
			continue // nothing to choose
		}
		keep, err := l.choose(k)
		if err != nil {
			return fmt.Errorf("%s: %w", l.Name, err)
		}
		if len(keep) != l.Units || numTrue(keep) != k {
			return fmt.Errorf("prune: the criterion selected %d of %d units of %s, want %d of %d", numTrue(keep), len(keep), l.Name, k, l.Units)
		}
		if l.sets != nil { // N:M: N of every set, as keepNM
			per := map[int32]int{}
			for u, kept := range keep {
				if kept {
					per[l.sets[u]]++
				}
			}
			for s, n := range per {
				if n != l.n {
					return fmt.Errorf("prune: the criterion kept %d in set %d of %s, the pattern wants %d", n, s, l.Name, l.n)
				}
			}
		}
		copy(p.Keep[i], keep)
	}
	return nil
}

// AllocationError is an error about one setting of an Allocation, named
// by its field (Ratio, LayerRatios) and, for a list, the entry's index, so
// that a caller can name the setting as its user wrote it.
type AllocationError struct {
	Field string
	Index int
	Err   error
}

func (e *AllocationError) Error() string { return e.Err.Error() }
func (e *AllocationError) Unwrap() error { return e.Err }

// Check reports, before any scoring, a layer ratio whose pattern matches
// no layer and a global ratio that cannot be met without emptying layers
// or breaking the cap, as *AllocationError.
func (a Allocation) Check(layers []*Layer) error {
	inGlobal := make([]bool, len(layers))
	for i := range layers {
		inGlobal[i] = a.Global && layers[i].sets == nil
	}
	for k, lr := range a.LayerRatios {
		found := false
		for i, l := range layers {
			if lr.re.MatchString(l.Name) {
				found, inGlobal[i] = true, false
			}
		}
		if !found {
			return &AllocationError{"LayerRatios", k, fmt.Errorf("layer ratio %q matches no layer (layers: %s)", lr.Pattern, strings.Join(layerNames(layers), ", "))}
		}
	}
	total, most := 0, 0
	for i, l := range layers {
		if !inGlobal[i] {
			continue
		}
		sizes := make([]int, l.Units)
		for u := range sizes {
			sizes[u] = l.Size(u)
			total += sizes[u]
		}
		slices.SortFunc(sizes, func(x, y int) int { return y - x })
		for _, s := range sizes[:a.maxPrune(l)] {
			most += s
		}
	}
	if a.Global && total > 0 && int(math.Floor(a.Ratio*float64(total)+1e-9)) > most {
		return &AllocationError{Field: "Ratio", Err: fmt.Errorf("global ratio %g cannot be met: with every layer keeping at least one unit%s, at most %.4f of the units can go",
			a.Ratio, capNote(a.MaxLayerRatio), float64(most)/float64(total))}
	}
	return nil
}

// maxPrune is the most units global ranking may take from l.
func (a Allocation) maxPrune(l *Layer) int {
	n := l.Units - 1
	if a.MaxLayerRatio > 0 {
		n = min(n, int(math.Floor(a.MaxLayerRatio*float64(l.Units)+1e-9)))
	}
	return max(n, 0)
}

// global removes the lowest-scoring units across the layers marked in,
// respecting the cap and keeping one unit per layer.
func (a Allocation) global(p *Plan, in []bool) error {
	type ref struct{ l, u int }
	var all []ref
	total, biggest := 0, 1
	maxPrune := make([]int, len(p.Layers))
	for i, l := range p.Layers {
		if !in[i] {
			continue
		}
		fillTrue(p.Keep[i])
		maxPrune[i] = a.maxPrune(l)
		for u := range l.Units {
			all = append(all, ref{i, u})
			total += l.Size(u)
			biggest = max(biggest, l.Size(u))
		}
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortStableFunc(all, func(x, y ref) int {
		return cmp.Compare(p.Layers[x.l].Scores[x.u], p.Layers[y.l].Scores[y.u])
	})
	target := int(math.Floor(a.Ratio*float64(total) + 1e-9))
	pruned := 0
	prunedIn := make([]int, len(p.Layers))
	capped := make([]bool, len(p.Layers))
	for _, r := range all {
		size := p.Layers[r.l].Size(r.u)
		if pruned+size > target {
			if pruned >= target {
				break
			}
			continue
		}
		if prunedIn[r.l] >= maxPrune[r.l] {
			capped[r.l] = true
			continue
		}
		p.Keep[r.l][r.u] = false
		prunedIn[r.l]++
		pruned += size
	}
	if target-pruned >= biggest {
		return fmt.Errorf("global ratio %g cannot be met: with every layer keeping at least one unit%s, at most %.4f of the units can go",
			a.Ratio, capNote(a.MaxLayerRatio), float64(pruned)/float64(total))
	}
	for i, l := range p.Layers {
		if capped[i] {
			why := "kept its last unit"
			if a.MaxLayerRatio > 0 && maxPrune[i] < l.Units-1 {
				why = fmt.Sprintf("capped at %g (max layer ratio)", a.MaxLayerRatio)
			}
			p.Warnings = append(p.Warnings, fmt.Sprintf("global: %s %s; other layers were pruned more", l.Name, why))
		}
	}
	return nil
}

func capNote(r float64) string {
	if r > 0 {
		return fmt.Sprintf(" and losing at most %g of its units", r)
	}
	return ""
}

// keepBest keeps the k highest-scoring units of l (ties: the earlier unit
// stays).
func keepBest(l *Layer, keep []bool, k int) {
	order := make([]int, l.Units)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(l.Scores[y], l.Scores[x]) })
	clear(keep)
	for _, u := range order[:max(0, min(k, l.Units))] {
		keep[u] = true
	}
}

// keepNM keeps the N highest-scoring units of every set of M.
func keepNM(l *Layer, keep []bool) {
	bySet := map[int32][]int{}
	for u, s := range l.sets {
		bySet[s] = append(bySet[s], u)
	}
	for _, us := range bySet {
		slices.SortStableFunc(us, func(x, y int) int { return cmp.Compare(l.Scores[y], l.Scores[x]) })
		for k, u := range us {
			keep[u] = k < l.n
		}
	}
}

func fillTrue(b []bool) {
	for i := range b {
		b[i] = true
	}
}

func numTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// Ratio is the fraction of units (weighted by their size) the plan
// removes.
func (p *Plan) Ratio() float64 {
	var pruned, total int
	for i, l := range p.Layers {
		for u, k := range p.Keep[i] {
			total += l.Size(u)
			if !k {
				pruned += l.Size(u)
			}
		}
	}
	if total == 0 {
		return 0
	}
	return float64(pruned) / float64(total)
}

// Pruned returns, per layer, the units the plan removes (the Prior of the
// next round of an iterative schedule).
func (p *Plan) Pruned() [][]bool {
	out := make([][]bool, len(p.Keep))
	for i, k := range p.Keep {
		out[i] = make([]bool, len(k))
		for u, v := range k {
			out[i][u] = !v
		}
	}
	return out
}
