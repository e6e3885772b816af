package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/linalg"
	"github.com/shearsml/shears/tensor"
)

// ReconstructOptions tunes Reconstruct.
type ReconstructOptions struct {
	// Samples is the number of output positions sampled per image and
	// layer (10 when 0, as He et al. 2017 and ThiNet do; a linear layer
	// has one row per image).
	Samples int
	Batch   int // calibration batch (64 when 0)
	Seed    uint64
	// Ridge is the ridge added to the normal equations, relative to the
	// mean of their diagonal (1e-6 when 0; negative: none). Systems that
	// need more get more, with a warning naming the layer.
	Ridge float64
	// BN re-estimates the running statistics of each BatchNorm that reads
	// a refit layer's output, from the refit outputs on the calibration
	// positions.
	BN bool
	// Threads bounds the workers of the forward passes (0: all cores).
	Threads int
}

func (o ReconstructOptions) samples() int { return cmpOr(o.Samples, 10) }
func (o ReconstructOptions) batch() int   { return cmpOr(o.Batch, 64) }
func (o ReconstructOptions) ridge() float64 {
	switch {
	case o.Ridge == 0:
		return 1e-6
	case o.Ridge < 0:
		return 0
	}
	return o.Ridge
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// ReconstructResult says what Reconstruct did.
type ReconstructResult struct {
	Refit    []string // the layers refit, in order
	BN       []string // the BatchNorms whose statistics were re-estimated
	Warnings []string // ill-conditioned systems, layers not refit and why
}

// Reconstruct refits, by least squares on calibration activations, the
// kept weights of every conv and linear layer of the pruned model g whose
// input the pruning changed (or whose kept filters lost inputs), so that
// its output matches the dense model's (He et al. 2017, "Channel Pruning
// for Accelerating Very Deep Neural Networks", §3.1's second step; ThiNet's
// refit, Luo et al. 2017). It needs no labels and no training.
//
// Layers are refit in graph order, each on the inputs the already refit
// model gives it (sequential, as He et al.), against the dense model's
// output at Samples sampled positions per calibration image, with the
// normal equations accumulated in float64. A layer with a bias refits it
// too. Pruned weights (zeros of masks) stay zero: each kept output is
// solved on its own kept inputs (outputs with the same kept inputs, as
// after channel pruning, share one solve). With BN set, each BatchNorm
// reading a refit output gets the mean and variance of the refit outputs
// as its running statistics.
//
// dense and g must have the same nodes and param shapes (g is dense's
// masked copy). An ill-conditioned system (too few positions, dead
// channels) is regularised with a ridge and a warning naming the layer;
// a solution that is not finite leaves the layer's weights as they were,
// with a warning. Nothing is refit silently wrong: a layer whose patch
// model disagrees with its real output is left alone, with a warning.
func Reconstruct(dense, g *graph.Graph, masks Masks, calib Calibration, o ReconstructOptions) (*ReconstructResult, error) {
	if calib == nil {
		return nil, fmt.Errorf("reconstruction needs calibration data")
	}
	if err := masks.check(g); err != nil {
		return nil, err
	}
	progD, err := cpu.Compile(dense)
	if err != nil {
		return nil, fmt.Errorf("reconstruction: dense model: %w", err)
	}
	progD.Threads = o.Threads
	if err := g.Sort(); err != nil {
		return nil, err
	}
	res := &ReconstructResult{}
	layers, denseLayers := refitCandidates(dense, g, masks, res)
	if len(layers) == 0 {
		return res, nil
	}
	// One pass over the dense model: the targets at sampled positions.
	tg := make([]*targets, len(layers))
	for i := range tg {
		tg[i] = &targets{}
	}
	bi := 0
	err = calib.Batches(o.batch(), func(x *tensor.Tensor, _ []int) error {
		if _, err := progD.Forward(false, x); err != nil {
			return err
		}
		for i, l := range denseLayers {
			if l == nil {
				continue
			}
			xv, yv := progD.Value(l.in), progD.Value(l.out)
			if xv == nil || yv == nil {
				return fmt.Errorf("reconstruction: %s: no value for its input or output", l.node.Name)
			}
			if bi == 0 {
				if err := l.checkDense(xv, yv); err != nil {
					res.Warnings = append(res.Warnings, err.Error())
					denseLayers[i], layers[i] = nil, nil
					continue
				}
			}
			gm, err := l.geometryOf(xv.Shape, yv.Shape)
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(o.Seed, uint64(i)<<32|uint64(bi)))
			pos := samplePositions(rng, gm.n, gm.per, o.samples())
			tg[i].pos = append(tg[i].pos, pos)
			for _, s := range pos {
				img, p := int(s)/gm.per, int(s)%gm.per
				for oc := range l.outs {
					// With a bias, the bias is refit too: the target is
					// the whole output.
					tg[i].y = append(tg[i].y, float32(l.output(yv.Data, gm, img, p, oc)))
				}
			}
		}
		bi++
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, l := range layers {
		if l == nil {
			continue
		}
		if err := refitLayer(g, l, masks[l.w.Name], tg[i], calib, o, res); err != nil {
			return nil, err
		}
		tg[i] = nil // free the targets
	}
	return res, nil
}

// targets are one layer's sampled positions per batch and the dense
// outputs there, position-major.
type targets struct {
	pos [][]int32
	y   []float32
}

// refitCandidates lists, in graph order, the layers of g to refit (and
// the same layers of dense): conv and linear layers whose input value
// changed, or whose kept filters lost inputs. Layers that cannot be
// modelled are warned about.
func refitCandidates(dense, g *graph.Graph, masks Masks, res *ReconstructResult) (layers, denseLayers []*fitLayer) {
	params, dparams := g.ParamMap(), dense.ParamMap()
	dnodes := map[string]*graph.Node{}
	for _, n := range dense.Nodes {
		dnodes[n.Name] = n
	}
	changed := map[string]bool{}
	for _, n := range g.Nodes {
		inChanged, modified := false, false
		for _, in := range n.Inputs {
			if changed[in] {
				inChanged = true
			}
			if mk := masks[in]; mk != nil && slices.Contains(mk.Data, 0) {
				modified = true
			}
		}
		if w, _, ok := graph.WeightOf(g, n, params); ok && (inChanged || lostInputs(masks[w.Name], w)) {
			l, err := newFitLayer(g, n, params)
			var dl *fitLayer
			if err == nil {
				if dn := dnodes[n.Name]; dn == nil {
					err = fmt.Errorf("%s is not in the dense model", n.Name)
				} else if dl, err = newFitLayer(dense, dn, dparams); err == nil && !slices.Equal(dl.w.Value.Shape, l.w.Value.Shape) {
					err = fmt.Errorf("%s: weight %s, dense %s", n.Name, tensor.ShapeString(l.w.Value.Shape), tensor.ShapeString(dl.w.Value.Shape))
				}
			}
			if err != nil {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s not refit: %v", n.Name, err))
			} else {
				layers, denseLayers = append(layers, l), append(denseLayers, dl)
				modified = true
			}
		}
		if inChanged || modified {
			for _, out := range n.Outputs {
				changed[out] = true
			}
		}
	}
	return layers, denseLayers
}

// lostInputs reports whether mask mk of weight w prunes some but not all
// elements of an output: a kept filter lost inputs.
func lostInputs(mk *tensor.Tensor, w *graph.Param) bool {
	if mk == nil {
		return false
	}
	oa, _ := w.WeightAxes()
	outer, n, inner := axisBlocks(w.Value.Shape, oa)
	for o := range n {
		kept, pruned := false, false
		for a := range outer {
			for _, v := range mk.Data[(a*n+o)*inner : (a*n+o+1)*inner] {
				kept, pruned = kept || v != 0, pruned || v == 0
			}
		}
		if kept && pruned {
			return true
		}
	}
	return false
}

// refitLayer runs the calibration set through g once, collects l's
// patches at the sampled positions, and solves for its kept weights.
func refitLayer(g *graph.Graph, l *fitLayer, mk *tensor.Tensor, tg *targets, calib Calibration, o ReconstructOptions, res *ReconstructResult) error {
	prog, err := cpu.Compile(g)
	if err != nil {
		return fmt.Errorf("reconstruction: %w", err)
	}
	prog.Threads = o.Threads
	pl := l.patchLen()
	rows := make([][]float64, l.groups) // per group, row-major rows × cols
	bi := 0
	patch := make([]float64, pl)
	err = calib.Batches(o.batch(), func(x *tensor.Tensor, _ []int) error {
		if _, err := prog.Forward(false, x); err != nil {
			return err
		}
		xv, yv := prog.Value(l.in), prog.Value(l.out)
		if xv == nil || yv == nil {
			return fmt.Errorf("reconstruction: %s: no value for its input or output", l.node.Name)
		}
		if bi >= len(tg.pos) {
			return fmt.Errorf("reconstruction: the calibration set gave more batches than on the dense pass")
		}
		gm, err := l.geometryOf(xv.Shape, yv.Shape)
		if err != nil {
			return err
		}
		for _, s := range tg.pos[bi] {
			img, p := int(s)/gm.per, int(s)%gm.per
			for grp := range l.groups {
				l.patch(xv.Data, gm, img, p, grp, patch)
				rows[grp] = append(rows[grp], patch...)
				if l.bias != nil {
					rows[grp] = append(rows[grp], 1) // the bias's input
				}
			}
		}
		bi++
		return nil
	})
	if err != nil {
		return err
	}
	res.Refit = append(res.Refit, l.node.Name)
	newOut := l.solve(rows, mk, tg, o, res)
	if o.BN && newOut != nil {
		if bn := reestimateBN(g, l, newOut); bn != "" {
			res.BN = append(res.BN, bn)
		}
	}
	return nil
}

// solve fits each group's kept outputs on their kept inputs, writes the
// weights (and bias) and returns the refit outputs at the sampled rows
// (rows × outs, pruned outputs NaN), or nil when nothing was written.
func (l *fitLayer) solve(rows [][]float64, mk *tensor.Tensor, tg *targets, o ReconstructOptions, res *ReconstructResult) []float64 {
	pl := l.patchLen()
	cols := pl
	if l.bias != nil {
		cols++
	}
	opg := l.outsPerGroup()
	nrows := len(rows[0]) / cols
	out := make([]float64, nrows*l.outs)
	for i := range out {
		out[i] = math.NaN()
	}
	wd := l.w.Value.Data
	var worstRidge float64
	var failed []string
	wrote := false
	for grp := range l.groups {
		gr := linalg.NewGram(cols, opg)
		y := make([]float64, opg)
		for r := range nrows {
			for k := range opg {
				y[k] = float64(tg.y[r*l.outs+grp*opg+k])
			}
			gr.Add(rows[grp][r*cols:(r+1)*cols], y)
		}
		ata := gr.Sym()
		// Outputs that keep the same inputs share one solve.
		patterns := map[string][]int{}
		var order []string
		for oc := grp * opg; oc < (grp+1)*opg; oc++ {
			var key strings.Builder
			kept := 0
			for j := range pl {
				if mk == nil || mk.Data[l.widx(oc, j)] != 0 {
					key.WriteByte('1')
					kept++
				} else {
					key.WriteByte('0')
				}
			}
			if kept == 0 {
				continue // a pruned output stays zero
			}
			k := key.String()
			if patterns[k] == nil {
				order = append(order, k)
			}
			patterns[k] = append(patterns[k], oc)
		}
		for _, k := range order {
			outsK := patterns[k]
			var idx []int
			for j := range pl {
				if k[j] == '1' {
					idx = append(idx, j)
				}
			}
			if l.bias != nil {
				idx = append(idx, pl)
			}
			d := len(idx)
			sub := make([]float64, d*d)
			for a, ia := range idx {
				for b, ib := range idx {
					sub[a*d+b] = ata[ia*cols+ib]
				}
			}
			rhs := make([]float64, d*len(outsK))
			for a, ia := range idx {
				for b, oc := range outsK {
					rhs[a*len(outsK)+b] = gr.AtY[ia*opg+oc-grp*opg]
				}
			}
			reg, err := linalg.CholeskyRidge(sub, d, o.ridge())
			if err != nil {
				failed = append(failed, err.Error())
				continue
			}
			if reg.IllConditioned() {
				worstRidge = max(worstRidge, reg.Added/max(meanDiag(sub, d), 1e-300))
			}
			reg.Solve(rhs, len(outsK))
			if slices.ContainsFunc(rhs, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
				failed = append(failed, "the solution is not finite")
				continue
			}
			for b, oc := range outsK {
				for a, j := range idx {
					v := float32(rhs[a*len(outsK)+b])
					if j == pl {
						l.bias.Value.Data[oc] = v
					} else {
						wd[l.widx(oc, j)] = v
					}
				}
				for r := range nrows {
					row := rows[grp][r*cols:]
					var v float64
					for a, j := range idx {
						v += rhs[a*len(outsK)+b] * row[j]
					}
					out[r*l.outs+oc] = v
				}
			}
			wrote = true
		}
	}
	if worstRidge > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: least squares ill-conditioned (dead or collinear inputs, or too few calibration positions): regularised with a ridge of %.2g × the mean diagonal", l.node.Name, worstRidge))
	}
	if len(failed) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %d of its least-squares systems left as they were: %s", l.node.Name, len(failed), failed[0]))
	}
	if !wrote {
		return nil
	}
	return out
}

func meanDiag(a []float64, n int) float64 {
	var s float64
	for i := range n {
		s += a[i*n+i]
	}
	return s / float64(max(n, 1))
}

// reestimateBN sets the running statistics of the BatchNorm that reads
// l's output to the mean and variance of the refit outputs out (rows ×
// outs; NaN for pruned outputs, left as they were), and returns its name
// ("" when no BatchNorm reads l directly).
func reestimateBN(g *graph.Graph, l *fitLayer, out []float64) string {
	params := g.ParamMap()
	for _, n := range g.Nodes {
		if len(n.Inputs) == 0 || n.Inputs[0] != l.out {
			continue
		}
		var mean, vr *graph.Param
		for _, u := range graph.ParamUses(g, n, params) {
			switch u.Kind {
			case graph.ParamMean:
				mean = params[n.Inputs[u.Input]]
			case graph.ParamVar:
				vr = params[n.Inputs[u.Input]]
			}
		}
		if mean == nil || vr == nil || mean.Value.Len() != l.outs || vr.Value.Len() != l.outs {
			continue
		}
		nrows := len(out) / l.outs
		for oc := range l.outs {
			if math.IsNaN(out[oc]) || nrows == 0 {
				continue
			}
			var s, ss float64
			for r := range nrows {
				v := out[r*l.outs+oc]
				s += v
				ss += v * v
			}
			m := s / float64(nrows)
			mean.Value.Data[oc] = float32(m)
			vr.Value.Data[oc] = float32(max(ss/float64(nrows)-m*m, 0))
		}
		return n.Name
	}
	return ""
}
