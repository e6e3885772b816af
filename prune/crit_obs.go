package prune

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/linalg"
	"github.com/shearsml/shears/tensor"
)

// OBS is layer-wise Optimal Brain Surgeon in its Optimal Brain
// Compression / SparseGPT form (Hassibi & Stork 1993; Frantar & Alistarh
// 2022, "Optimal Brain Compression"; Frantar & Alistarh 2023, "SparseGPT"):
// each conv or linear weight is pruned against the Hessian H = XᵀX of its
// layer-wise reconstruction error, X the layer's inputs (patches) at
// sampled positions of the calibration images, and the kept weights are
// updated to compensate: walking the inputs in order, each pruned weight
// w_q is removed with the update δ = −(w_q / [U]_qq)·U_q,· of the weights
// still to come, U the upper Cholesky factor of H⁻¹ (damped by 1% of its
// mean diagonal).
//
// OBS changes the kept weights, not only which are kept: Select writes
// them into the graph (the report's masked and slimmed models carry
// them), so it is a criterion and a one-shot recovery at once. Layers are
// pruned in order, each on the inputs of the already pruned layers before
// it (sequential). For single weights the mask is chosen as SparseGPT
// does, by w²/[U]_qq² with the updated weights, the same fraction in each
// block of 128 inputs; for N:M the N of each M are chosen when the walk
// reaches them; for other granularities (blocks, shapes) the units with the
// best scores stay and the update compensates them. Once the mask is
// chosen, each output's kept weights are solved exactly for it (OBC's
// result for that mask; the walk alone lets only the weights after a
// pruned one compensate, which loses much at high sparsity).
// The score of a weight for allocation (global ranking) is OBS's saliency
// w²/[H⁻¹]_qq.
//
// A grouped convolution (depthwise) is left unpruned with the reason.
type OBS struct{}

func (OBS) Name() string               { return "obs" }
func (OBS) Needs() Requirement         { return NeedsCalibration }
func (o OBS) Fits(g Granularity) error { return weightsFit(o.Name(), g.Structured()) }

func (o OBS) Score(c *Context, layers []*Layer) error {
	return c.hessianScores(o.Name(), layers, func(w []float64, h []float64, hinv []float64, d int, f *fitLayer) []float64 {
		e := make([]float64, len(w))
		for oc := range f.outs {
			for j := range f.patchLen() {
				v := w[f.widx(oc, j)]
				e[f.widx(oc, j)] = v * v / max(hinv[j*d+j], 1e-300)
			}
		}
		return e
	}, true)
}

// Wanda scores a weight by |w|·‖x‖, the magnitude of the weight times the
// L2 norm of the input it multiplies over the calibration positions (Sun
// et al. 2024, "A Simple and Effective Pruning Approach for Large Language
// Models"): the cheap, update-free baseline next to OBS. Units compare
// within a layer (or globally), not per output row as the paper's
// variant.
type Wanda struct{}

func (Wanda) Name() string                { return "wanda" }
func (Wanda) Needs() Requirement          { return NeedsCalibration }
func (wd Wanda) Fits(g Granularity) error { return weightsFit(wd.Name(), g.Structured()) }

func (wd Wanda) Score(c *Context, layers []*Layer) error {
	return c.hessianScores(wd.Name(), layers, func(w []float64, h []float64, _ []float64, d int, f *fitLayer) []float64 {
		e := make([]float64, len(w))
		for oc := range f.outs {
			for j := range f.patchLen() {
				e[f.widx(oc, j)] = math.Abs(w[f.widx(oc, j)]) * math.Sqrt(max(h[j*d+j], 0))
			}
		}
		return e
	}, false)
}

// obsLayer is what OBS's Score measured of a layer, for Select.
type obsLayer struct {
	f     *fitLayer
	prior []bool
	first bool // the first layer scored: its inputs are the dense model's
}

// hessianScores collects H = XᵀX/n of every layer's inputs in one pass
// (the dense model's, or the current one's) and scores elements with
// elem(w, H, H⁻¹, d, f) (H⁻¹ only computed when inverse).
func (c *Context) hessianScores(name string, layers []*Layer, elem func(w, h, hinv []float64, d int, f *fitLayer) []float64, inverse bool) error {
	if err := weightsOnly(name, layers); err != nil {
		return err
	}
	params := c.Graph.ParamMap()
	reads := map[string]*graph.Node{}
	for _, n := range c.Graph.Nodes {
		if w, _, ok := graph.WeightOf(c.Graph, n, params); ok {
			reads[w.Name] = n
		}
	}
	fls := make([]*fitLayer, len(layers))
	for i, l := range layers {
		n := reads[l.Param.Name]
		if n == nil {
			l.Skip = fmt.Sprintf("criterion %s: no node reads it as its weight", name)
			continue
		}
		f, err := newFitLayer(c.Graph, n, params)
		if err == nil && f.groups != 1 {
			err = fmt.Errorf("%s is a grouped convolution (%d groups), which %s does not model", n.Name, f.groups, name)
		}
		if err != nil {
			l.Skip = fmt.Sprintf("criterion %s: %v", name, err)
			continue
		}
		fls[i] = f
	}
	hs, err := c.layerHessians(fls)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if c.obs == nil {
		c.obs = map[*Layer]*obsLayer{}
	}
	first := true
	for i, l := range layers {
		f := fls[i]
		if f == nil {
			l.Scores = make([]float64, l.Units)
			continue
		}
		hd := f.hessianDim()
		var hinv []float64
		if inverse {
			reg, err := linalg.CholeskyRidge(hs[i], hd, obsDamp)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", name, l.Name, err)
			}
			hinv = reg.Inverse()
		}
		w := make([]float64, l.Param.Value.Len())
		for j, v := range l.Param.Value.Data {
			w[j] = float64(v)
		}
		l.Scores = l.unitSums(elem(w, hs[i], hinv, hd, f))
		ol := &obsLayer{f: f, first: first}
		if i < len(c.Prior) {
			ol.prior = c.Prior[i]
		}
		c.obs[l] = ol
		first = false
	}
	return nil
}

var errEnoughRows = errors.New("enough rows")

// obsRows caps the input positions each layer's Hessian is estimated from.
const obsRows = 16384

// hessianDim is the order of a layer's Hessian: its patch, and a
// constant 1 for the bias when it has one (the bias takes part in the
// OBS update, absorbing the mean of what pruned weights contributed).
func (f *fitLayer) hessianDim() int {
	if f.bias != nil {
		return f.patchLen() + 1
	}
	return f.patchLen()
}

// layerHessians runs calibration batches through the model (as it is
// now) and returns XᵀX/n of each layer's patches (and the bias's constant
// input, see hessianDim) at up to 16 sampled positions per image (nil for
// a nil layer).
func (c *Context) layerHessians(fls []*fitLayer) ([][]float64, error) {
	if c.Calib == nil {
		return nil, fmt.Errorf("no calibration data")
	}
	prog, err := cpu.Compile(c.Graph)
	if err != nil {
		return nil, err
	}
	grams := make([]*linalg.Gram, len(fls))
	for i, f := range fls {
		if f != nil {
			grams[i] = linalg.NewGram(f.hessianDim(), 0)
		}
	}
	bi := 0
	err = c.Calib.Batches(cmpOr(c.Batch, 64), func(x *tensor.Tensor, _ []int) error {
		if _, err := prog.Forward(false, x); err != nil {
			return err
		}
		full := true
		for i, f := range fls {
			if f == nil || grams[i].Rows >= obsRows {
				continue
			}
			full = false
			xv, yv := prog.Value(f.in), prog.Value(f.out)
			if xv == nil || yv == nil {
				return fmt.Errorf("%s: no value for its input or output", f.node.Name)
			}
			gm, err := f.geometryOf(xv.Shape, yv.Shape)
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(c.Seed, uint64(i)<<32|uint64(bi)))
			patch := make([]float64, f.hessianDim())
			if f.bias != nil {
				patch[len(patch)-1] = 1 // the bias's input
			}
			for _, s := range samplePositions(rng, gm.n, gm.per, 16) {
				f.patch(xv.Data, gm, int(s)/gm.per, int(s)%gm.per, 0, patch[:f.patchLen()])
				grams[i].Add(patch, nil)
			}
		}
		bi++
		if full {
			return errEnoughRows
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnoughRows) {
		return nil, err
	}
	hs := make([][]float64, len(fls))
	for i, g := range grams {
		if g == nil {
			continue
		}
		if g.Rows == 0 {
			return nil, fmt.Errorf("no calibration images")
		}
		h := g.Sym()
		for j := range h {
			h[j] /= float64(g.Rows)
		}
		if slices.ContainsFunc(h, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			return nil, fmt.Errorf("%s: activations are not finite", fls[i].node.Name)
		}
		hs[i] = h
	}
	return hs, nil
}

// obsBlock is the number of inputs whose mask SparseGPT chooses at once
// for single weights.
const obsBlock = 128

// Select prunes layer l to k units with the OBS update of the kept
// weights (see OBS), writing the weights into the graph.
func (o OBS) Select(c *Context, l *Layer, k int) ([]bool, error) {
	ol := c.obs[l]
	if ol == nil {
		return nil, fmt.Errorf("obs: %s was not scored before selection", l.Name)
	}
	f := ol.f
	pl := f.patchLen()
	d := f.hessianDim()
	wd := l.Param.Value.Data
	// The Hessian of the inputs as the layers pruned before left them.
	var h []float64
	if hs, err := c.layerHessians([]*fitLayer{f}); err != nil {
		return nil, fmt.Errorf("obs: %w", err)
	} else {
		h = hs[0]
	}
	// Walk the inputs kernel position first, channel second, so that the
	// M inputs of an N:M set (consecutive channels at one kernel position)
	// are consecutive.
	kk := f.kh * f.kw
	// The bias comes last: never pruned, it takes the compensation the
	// weights before it leave.
	order := make([]int, 0, d)
	for kp := range kk {
		for ch := range f.cin {
			order = append(order, ch*kk+kp)
		}
	}
	if f.bias != nil {
		order = append(order, pl)
	}
	weightAt := func(oc, j int) *float32 {
		if j == pl {
			return &f.bias.Value.Data[oc]
		}
		return &wd[f.widx(oc, j)]
	}
	hp := make([]float64, d*d)
	for a, ia := range order {
		for b, ib := range order {
			hp[a*d+b] = h[ia*d+ib]
		}
	}
	reg, err := linalg.CholeskyRidge(hp, d, obsDamp)
	if err != nil {
		return nil, fmt.Errorf("obs: %s: %w", l.Name, err)
	}
	u, err := reg.UpperCholeskyOfInverse()
	if err != nil {
		return nil, fmt.Errorf("obs: %s: %w", l.Name, err)
	}
	outs := f.outs
	w := make([]float64, outs*d) // rows in walk order
	for oc := range outs {
		for a, j := range order {
			w[oc*d+a] = float64(*weightAt(oc, j))
		}
	}
	w0 := slices.Clone(w)
	unitOf := func(oc, a int) int { return int(l.unit[f.widx(oc, order[a])]) }
	isPrior := func(u int) bool { return ol.prior != nil && ol.prior[u] }
	elementUnits := len(l.unit) == l.Units
	pruned := make([]bool, outs*d)
	keep := make([]bool, l.Units)
	switch {
	case elementUnits && l.sets != nil:
		// N:M: decided when the walk reaches a set.
	case elementUnits:
		// Single weights: per block, the same share of the layer.
	default:
		// Fixed units: the best-scoring k stay, the update compensates.
		keepBest(l, keep, k)
		for oc := range outs {
			for a := range pl {
				pruned[oc*d+a] = !keep[unitOf(oc, a)]
			}
		}
	}
	total := l.Units - k
	done := 0
	decided := map[int32]bool{}
	for a := range pl {
		ua := u[a*d+a]
		switch {
		case elementUnits && l.sets == nil && a%obsBlock == 0:
			end := min(a+obsBlock, pl)
			want := int(math.Round(float64(total)*float64(end)/float64(pl))) - done
			type cand struct {
				i int
				s float64
			}
			var cs []cand
			for oc := range outs {
				for b := a; b < end; b++ {
					i := oc*d + b
					s := w[i] * w[i] / (u[b*d+b] * u[b*d+b])
					if isPrior(unitOf(oc, b)) {
						s = math.Inf(-1)
					}
					cs = append(cs, cand{i, s})
				}
			}
			sort.SliceStable(cs, func(x, y int) bool { return cs[x].s < cs[y].s })
			n := max(0, min(want, len(cs)))
			for n < len(cs) && math.IsInf(cs[n].s, -1) {
				n++ // units pruned before stay pruned
			}
			for _, cd := range cs[:n] {
				pruned[cd.i] = true
			}
			done += n
		case elementUnits && l.sets != nil:
			for oc := range outs {
				set := l.sets[unitOf(oc, a)]
				if decided[set] {
					continue
				}
				decided[set] = true
				var members []int // walk positions of the set's elements in row oc
				for b := a; b < pl && l.sets[unitOf(oc, b)] == set; b++ {
					members = append(members, b)
				}
				sort.SliceStable(members, func(x, y int) bool {
					sx := w[oc*d+members[x]] * w[oc*d+members[x]] / (u[members[x]*d+members[x]] * u[members[x]*d+members[x]])
					sy := w[oc*d+members[y]] * w[oc*d+members[y]] / (u[members[y]*d+members[y]] * u[members[y]*d+members[y]])
					if px, py := isPrior(unitOf(oc, members[x])), isPrior(unitOf(oc, members[y])); px != py {
						return px
					}
					return sx < sy
				})
				for _, b := range members[:max(0, len(members)-l.n)] {
					pruned[oc*d+b] = true
				}
			}
		}
		for oc := range outs {
			i := oc*d + a
			if !pruned[i] {
				continue
			}
			e := w[i] / ua
			row := w[oc*d : (oc+1)*d]
			for b := a + 1; b < d; b++ {
				row[b] -= e * u[a*d+b]
			}
			w[i] = 0
		}
	}
	refitRows(w, w0, pruned, hp, outs, d, obsDamp)
	if slices.ContainsFunc(w, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
		return nil, fmt.Errorf("obs: %s: the updated weights are not finite", l.Name)
	}
	if elementUnits {
		clear(keep)
		for oc := range outs {
			for a := range pl {
				if !pruned[oc*d+a] {
					keep[unitOf(oc, a)] = true
				}
			}
		}
		if numTrue(keep) != k {
			return nil, fmt.Errorf("obs: %s: kept %d of %d weights, the allocation asked %d", l.Name, numTrue(keep), l.Units, k)
		}
	}
	for oc := range outs {
		for a, j := range order {
			*weightAt(oc, j) = float32(w[oc*d+a])
		}
	}
	return keep, nil
}

// obsDamp is the damping added to each layer's Hessian, relative to its
// mean diagonal (SparseGPT's 1%).
const obsDamp = 0.01

// refitRows replaces each row's kept weights (walk order) by the exact
// least-squares solution for its mask: min ‖X(w0 − ŵ)‖² over the kept
// entries, H_KK·ŵ_K = (H·w0)_K, H damped as for the walk. SparseGPT's
// walk only lets the weights after a pruned one compensate it; the row's
// own solve lets every kept weight do so (OBC's exact result for the
// chosen mask), and is cheap when most weights are pruned.
func refitRows(w, w0 []float64, pruned []bool, h []float64, outs, d int, damp float64) {
	var mean float64
	for i := range d {
		mean += h[i*d+i]
	}
	lam := damp * mean / float64(d)
	hw := make([]float64, d)
	for oc := range outs {
		row0 := w0[oc*d : (oc+1)*d]
		for i := range d {
			var v float64
			for j, x := range row0 {
				v += h[i*d+j] * x
			}
			hw[i] = v
		}
		var kept []int
		for a := range d {
			if !pruned[oc*d+a] {
				kept = append(kept, a)
			}
		}
		k := len(kept)
		if k == 0 {
			continue
		}
		sub := make([]float64, k*k)
		rhs := make([]float64, k)
		for x, i := range kept {
			for y, j := range kept {
				sub[x*k+y] = h[i*d+j]
			}
			sub[x*k+x] += lam
			rhs[x] = hw[i] + lam*row0[i]
		}
		reg, err := linalg.CholeskyRidge(sub, k, 0)
		if err != nil {
			continue // the walk's weights stay
		}
		reg.Solve(rhs, 1)
		for x, i := range kept {
			w[oc*d+i] = rhs[x]
		}
	}
}
