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

// ThiNet selects the channels of a group by how well the layers reading
// them can do without (Luo et al. 2017, "ThiNet: A Filter Level Pruning
// Method for Deep Neural Network Compression"): at sampled output
// positions of every conv and linear layer that reads the group, each
// channel's contribution z_c to each output is measured on calibration
// images, and channels are removed greedily, each time the one whose
// removal, with those removed before, changes the outputs least: the
// removed set T minimises ‖Σ_{c∈T} z_c‖², computed from the channels'
// contribution Gram matrix Q (ΣᵀΣ over positions and outputs, each reading
// layer weighted by the inverse of its output energy).
//
// The selection reads the dense model's activations (layers are chosen
// one after the other but the model is pruned once allocation is done);
// pair it with the reconstruct recovery (finetune.reconstruct) for
// ThiNet's least-squares refit of the kept weights. A channel's score for
// global allocation is Q_cc, its own contribution energy.
type ThiNet struct{}

func (ThiNet) Name() string               { return "thinet" }
func (ThiNet) Needs() Requirement         { return NeedsCalibration }
func (c ThiNet) Fits(g Granularity) error { return channelsFit(c.Name(), g.Structured()) }

func (t ThiNet) Score(c *Context, layers []*Layer) error {
	return c.contributionGrams(t.Name(), layers)
}

// Select removes channels greedily until k remain.
func (t ThiNet) Select(c *Context, l *Layer, k int) ([]bool, error) {
	cg, err := c.gramOf(t.Name(), l)
	if err != nil {
		return nil, err
	}
	n := cg.n
	keep := make([]bool, n)
	for i := range keep {
		keep[i] = true
	}
	// s[c] = Σ_{t∈T} Q_ct: removing c next adds Q_cc + 2·s[c].
	s := make([]float64, n)
	remove := func(r int) {
		keep[r] = false
		for i := range n {
			s[i] += cg.q[r*n+i]
		}
	}
	removed := 0
	for u := range n {
		if cg.prior != nil && cg.prior[u] {
			remove(u)
			removed++
		}
	}
	if n-removed < k {
		return nil, fmt.Errorf("thinet: %d of %d channels were pruned before, %d asked to stay", removed, n, k)
	}
	for ; removed < n-k; removed++ {
		best, bestCost := -1, math.Inf(1)
		for u := range n {
			if !keep[u] {
				continue
			}
			if cost := cg.q[u*n+u] + 2*s[u]; cost < bestCost {
				best, bestCost = u, cost
			}
		}
		remove(best)
	}
	return keep, nil
}

// ChannelLasso is He et al. 2017's channel selection ("Channel Pruning
// for Accelerating Very Deep Neural Networks", §3.1): a LASSO regression
// of the outputs of the layers reading a group on its channels'
// contributions, min_β ‖Σ_c z_c − Σ_c β_c z_c‖² + λ‖β‖₁, with λ searched
// until exactly the wanted number of β_c are non-zero (when the search
// stops above it, the largest |β_c|·‖z_c‖ stay); the kept channels are
// those. When no λ keeps as many channels as asked (channels that
// contribute nothing never enter), Select says how many it can reach.
//
// The second step of the method, least squares on the kept weights, is
// the reconstruct recovery (finetune.reconstruct, --reconstruct); the
// contribution Gram matrix and scores are ThiNet's.
type ChannelLasso struct{}

func (ChannelLasso) Name() string               { return "lasso" }
func (ChannelLasso) Needs() Requirement         { return NeedsCalibration }
func (c ChannelLasso) Fits(g Granularity) error { return channelsFit(c.Name(), g.Structured()) }

func (cl ChannelLasso) Score(c *Context, layers []*Layer) error {
	return c.contributionGrams(cl.Name(), layers)
}

func (cl ChannelLasso) Select(c *Context, l *Layer, k int) ([]bool, error) {
	cg, err := c.gramOf(cl.Name(), l)
	if err != nil {
		return nil, err
	}
	// The free channels (not pruned before) regress the dense output.
	var free []int
	for u := range cg.n {
		if cg.prior == nil || !cg.prior[u] {
			free = append(free, u)
		}
	}
	if k > len(free) {
		return nil, fmt.Errorf("lasso: %d of %d channels were pruned before, %d asked to stay", cg.n-len(free), cg.n, k)
	}
	m := len(free)
	q := make([]float64, m*m)
	b := make([]float64, m)
	for i, u := range free {
		for j, v := range free {
			q[i*m+j] = cg.q[u*cg.n+v]
		}
		for v := range cg.n { // target: the dense output Σ_c z_c
			b[i] += cg.q[u*cg.n+v]
		}
	}
	beta, _, err := linalg.LassoPath(q, b, m, k)
	var ue *linalg.UnreachableError
	if errors.As(err, &ue) {
		return nil, fmt.Errorf("lasso: channel selection reaches at most %d of %d channels (ratio %.3g kept), %d asked: on the calibration images the others contribute nothing the kept ones do not already give; prune more or use another criterion",
			ue.Reachable, cg.n, float64(ue.Reachable)/float64(cg.n), k)
	}
	if err != nil {
		return nil, err
	}
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	w := func(i int) float64 { return math.Abs(beta[i]) * math.Sqrt(q[i*m+i]) }
	sort.SliceStable(order, func(a, b int) bool { return w(order[a]) > w(order[b]) })
	keep := make([]bool, cg.n)
	for _, i := range order[:k] {
		keep[free[i]] = true
	}
	return keep, nil
}

// channelGram is the contribution Gram matrix of one group's channels.
type channelGram struct {
	n     int
	q     []float64 // n×n
	prior []bool    // units pruned earlier
}

func (c *Context) gramOf(name string, l *Layer) (*channelGram, error) {
	cg := c.grams[l]
	if cg == nil {
		return nil, fmt.Errorf("%s: %s was not scored before selection", name, l.Name)
	}
	return cg, nil
}

// contributionReader is one conv or linear layer reading a group: which
// patch columns each group channel owns.
type contributionReader struct {
	fl    *fitLayer
	cols  [][]int // per group channel, its patch columns (nil: not read)
	layer int     // index into the layers scored
	gram  *linalg.Gram
	yy    float64 // output energy at the samples
}

// contributionGrams measures, for every layer (a group), the Gram matrix
// of its channels' contributions to the outputs of the conv and linear
// layers that read it, at sampled positions of the calibration images,
// stores them for Select, and scores each channel by its diagonal entry.
func (c *Context) contributionGrams(name string, layers []*Layer) error {
	if err := channelsOnly(name, layers); err != nil {
		return err
	}
	if c.Dep == nil {
		return fmt.Errorf("criterion %s needs the dependency analysis", name)
	}
	params := c.Graph.ParamMap()
	reads := map[string]*graph.Node{} // weight → the node reading it
	for _, n := range c.Graph.Nodes {
		if w, _, ok := graph.WeightOf(c.Graph, n, params); ok {
			reads[w.Name] = n
		}
	}
	var readers []*contributionReader
	for i, l := range layers {
		found := false
		for _, s := range l.Group.Slices {
			n := reads[s.Param]
			if n == nil || s.Role != graph.AxisIn {
				continue
			}
			fl, err := newFitLayer(c.Graph, n, params)
			if err != nil || fl.groups != 1 {
				continue // grouped convs read their channels through their outputs' group
			}
			r := &contributionReader{fl: fl, cols: make([][]int, l.Units), layer: i, gram: linalg.NewGram(l.Units, 0)}
			for ch := s.First; ch < s.First+s.Count; ch++ {
				lo, hi, _ := s.Elems(ch)
				for j := lo; j < hi; j++ {
					for k := range fl.kh * fl.kw {
						r.cols[ch] = append(r.cols[ch], j*fl.kh*fl.kw+k)
					}
				}
			}
			readers = append(readers, r)
			found = true
		}
		if !found {
			return fmt.Errorf("%s: %s: no conv or linear layer reading its channels to measure contributions on", name, l.Name)
		}
	}
	if err := c.sampleContributions(readers, 4, 8192); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if c.grams == nil {
		c.grams = map[*Layer]*channelGram{}
	}
	for i, l := range layers {
		cg := &channelGram{n: l.Units, q: make([]float64, l.Units*l.Units)}
		if i < len(c.Prior) {
			cg.prior = c.Prior[i]
		}
		for _, r := range readers {
			if r.layer != i {
				continue
			}
			w := 1 / max(r.yy, 1e-30)
			for a, v := range r.gram.Sym() {
				cg.q[a] += w * v
			}
		}
		l.Scores = make([]float64, l.Units)
		for u := range l.Units {
			l.Scores[u] = cg.q[u*l.Units+u]
		}
		c.grams[l] = cg
	}
	return nil
}

var errEnough = errors.New("enough samples")

// sampleContributions runs calibration batches through the model until
// every reader has about limit sampled positions (per images each) and
// accumulates each reader's contribution Gram matrix.
func (c *Context) sampleContributions(readers []*contributionReader, per, limit int) error {
	prog, err := cpu.Compile(c.Graph)
	if err != nil {
		return err
	}
	bs := cmpOr(c.Batch, 64)
	samples, bi := 0, 0
	err = c.Calib.Batches(bs, func(x *tensor.Tensor, _ []int) error {
		if _, err := prog.Forward(false, x); err != nil {
			return err
		}
		batchSamples := 0
		for ri, r := range readers {
			fl := r.fl
			xv, yv := prog.Value(fl.in), prog.Value(fl.out)
			if xv == nil || yv == nil {
				return fmt.Errorf("%s: no value for its input or output", fl.node.Name)
			}
			gm, err := fl.geometryOf(xv.Shape, yv.Shape)
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(c.Seed, uint64(ri)<<32|uint64(bi)))
			pos := samplePositions(rng, gm.n, gm.per, per)
			batchSamples = max(batchSamples, len(pos))
			patch := make([]float64, fl.patchLen())
			z := make([]float64, len(r.cols))
			wd := fl.w.Value.Data
			for _, s := range pos {
				img, p := int(s)/gm.per, int(s)%gm.per
				fl.patch(xv.Data, gm, img, p, 0, patch)
				for o := range fl.outs {
					for ch, cols := range r.cols {
						var v float64
						for _, j := range cols {
							v += float64(wd[fl.widx(o, j)]) * patch[j]
						}
						z[ch] = v
					}
					r.gram.Add(z, nil)
					y := fl.output(yv.Data, gm, img, p, o)
					if fl.bias != nil {
						y -= float64(fl.bias.Value.Data[o])
					}
					r.yy += y * y
				}
			}
		}
		bi++
		if samples += batchSamples; samples >= limit {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err == nil && bi == 0 {
		err = fmt.Errorf("no calibration images")
	}
	for _, r := range readers {
		if slices.ContainsFunc(r.gram.AtA, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			return fmt.Errorf("%s: activations are not finite", r.fl.node.Name)
		}
	}
	return err
}
