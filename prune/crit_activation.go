package prune

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/backend/cpu"
)

// APoZ scores a channel by 1 − its average percentage of zeros, the share
// of its activations that are exactly zero over a calibration set (Hu et
// al. 2016, "Network Trimming: A Data-Driven Neuron Pruning Approach
// towards Efficient Deep Architectures"): channels that are almost always
// zero after their ReLU go first. The activation read is ActivationValue's.
type APoZ struct{}

func (APoZ) Name() string               { return "apoz" }
func (APoZ) Needs() Requirement         { return NeedsCalibration }
func (c APoZ) Fits(g Granularity) error { return channelsFit(c.Name(), g.Structured()) }

func (APoZ) Score(c *Context, layers []*Layer) error {
	return c.activationStats("apoz", layers, false, func(a, _ []float32, _ int) float64 {
		nz := 0
		for _, v := range a {
			if v != 0 {
				nz++
			}
		}
		return float64(nz) / float64(len(a))
	})
}

// MeanActivation scores a channel by the mean |a| of its activations over
// a calibration set (the mean-activation criterion Molchanov et al. 2017
// compare against; Network Trimming's companion statistic). The activation
// read is ActivationValue's.
type MeanActivation struct{}

func (MeanActivation) Name() string               { return "mean-act" }
func (MeanActivation) Needs() Requirement         { return NeedsCalibration }
func (c MeanActivation) Fits(g Granularity) error { return channelsFit(c.Name(), g.Structured()) }

func (MeanActivation) Score(c *Context, layers []*Layer) error {
	return c.activationStats("mean-act", layers, false, func(a, _ []float32, _ int) float64 {
		var sum float64
		for _, v := range a {
			sum += math.Abs(float64(v))
		}
		return sum / float64(len(a))
	})
}

// activationOps produce a channel's activation from its pre-activation.
var activationOps = map[string]bool{"Relu": true, "Clip": true, "LeakyRelu": true, "Sigmoid": true, "HardSigmoid": true,
	"HardSwish": true, "Tanh": true, "Elu": true, "Selu": true, "Gelu": true, "Softplus": true, "PRelu": true, "Mish": true}

// ActivationValue returns the value whose channels activation criteria
// (APoZ, mean activation, Taylor on channels) read for a group: the first
// output, in graph order, of an activation op (Relu, Clip, …) that holds
// every channel of the group — for conv → BN → ReLU, the ReLU's output;
// for a residual stage, the first ReLU that carries the stage's channels.
// When no activation holds them (LeNet-5's convs have none), it is the
// owner's output.
func (d *DepGraph) ActivationValue(grp *Group) string {
	prod := d.g.Producers()
	for _, v := range grp.Values {
		if n := prod[v]; n != nil && activationOps[n.Op] && d.holdsAll(grp, v) {
			return v
		}
	}
	return grp.Value
}

// holdsAll reports whether value v carries every channel of grp.
func (d *DepGraph) holdsAll(grp *Group, v string) bool {
	seen := 0
	for _, u := range d.lays[v] {
		if d.class[u.e].g == grp {
			seen++
		}
	}
	return seen == grp.Channels
}

// positions returns, for each channel of grp, its first position and
// span on the channel axis of value v.
func (d *DepGraph) positions(grp *Group, v string) [][2]int {
	pos := make([][2]int, grp.Channels)
	for _, u := range d.lays[v] {
		if r := d.class[u.e]; r.g == grp {
			pos[r.ch] = [2]int{u.off, u.span}
		}
	}
	return pos
}

// activationStats averages, over the calibration samples, f of each
// channel's activations a in one sample (and their gradients g of the
// mean loss over a batch of n, when backward).
func (c *Context) activationStats(name string, layers []*Layer, backward bool, f func(a, g []float32, n int) float64) error {
	if err := channelsOnly(name, layers); err != nil {
		return err
	}
	if c.Dep == nil {
		return fmt.Errorf("criterion %s needs the dependency analysis", name)
	}
	vals := make([]string, len(layers))
	pos := make([][][2]int, len(layers))
	for i, l := range layers {
		l.Scores = make([]float64, l.Units)
		vals[i] = c.Dep.ActivationValue(l.Group)
		pos[i] = c.Dep.positions(l.Group, vals[i])
	}
	samples := 0
	err := c.batches(backward, func(prog *cpu.Program, n int) error {
		samples += n
		for i, l := range layers {
			a := prog.Value(vals[i])
			var g []float32
			if backward {
				gt := prog.ValueGrad(vals[i])
				if gt == nil {
					return fmt.Errorf("criterion %s: no gradient reaches %s", name, vals[i])
				}
				g = gt.Data
			}
			forChannels(a.Shape, c.Dep.axisOf(vals[i]), pos[i], a.Data, g, func(ch int, as, gs []float32) {
				l.Scores[ch] += f(as, gs, n)
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range layers {
		for ch := range l.Scores {
			l.Scores[ch] /= float64(max(samples, 1))
		}
	}
	return nil
}

// forChannels calls f with each channel's activations (and gradients,
// when g is not nil) in each sample of a value whose channels are on axis
// ax: contiguous runs of a and g for N×C×… values, copies gathered from
// every position for channels-last values (N×H×W×C).
func forChannels(shape []int, ax int, pos [][2]int, a, g []float32, f func(ch int, a, g []float32)) {
	outer, inner := 1, 1
	for _, d := range shape[1:ax] {
		outer *= d
	}
	for _, d := range shape[ax+1:] {
		inner *= d
	}
	c := shape[ax]
	var ba, bg []float32
	for n := range shape[0] {
		for ch, p := range pos {
			if p[1] == 0 {
				continue
			}
			run := p[1] * inner
			if outer == 1 {
				lo := (n*c + p[0]) * inner
				var gs []float32
				if g != nil {
					gs = g[lo : lo+run]
				}
				f(ch, a[lo:lo+run], gs)
				continue
			}
			ba, bg = ba[:0], bg[:0]
			for o := range outer {
				lo := ((n*outer+o)*c + p[0]) * inner
				ba = append(ba, a[lo:lo+run]...)
				if g != nil {
					bg = append(bg, g[lo:lo+run]...)
				}
			}
			var gs []float32
			if g != nil {
				gs = bg
			}
			f(ch, ba, gs)
		}
	}
}

// axisOf is the channel axis of value v as analysed.
func (d *DepGraph) axisOf(v string) int {
	if ax, ok := d.axes[v]; ok {
		return ax
	}
	return 1
}
