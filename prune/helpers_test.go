package prune

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
)

// randomizeBN gives every BatchNormalization non-trivial statistics, scale
// and shift, so that a channel whose conv output is zero still leaves BN
// non-zero unless γ and β are masked too.
func randomizeBN(g *graph.Graph, r *rand.Rand) {
	params := g.ParamMap()
	for _, n := range g.Nodes {
		if n.Op != "BatchNormalization" {
			continue
		}
		for i, t := range n.Inputs[1:5] {
			d := params[t].Value.Data
			for k := range d {
				switch i {
				case 0: // scale
					d[k] = float32(0.5 + r.Float64())
				case 1, 2: // bias, mean
					d[k] = float32(r.NormFloat64() * 0.5)
				case 3: // var
					d[k] = float32(0.5 + 1.5*r.Float64())
				}
			}
		}
	}
}

// randomKeep keeps a random 70% of every prunable group's channels (at
// least one is always removed from groups of 4 or more).
func randomKeep(d *DepGraph, r *rand.Rand) map[*Group][]int {
	keep := map[*Group][]int{}
	for _, grp := range d.Groups() {
		n := grp.Channels
		drop := int(0.3 * float64(n))
		perm := r.Perm(n)
		k := perm[drop:]
		slices.Sort(k)
		keep[grp] = k
	}
	return keep
}

func randInput(g *graph.Graph, batch int, r *rand.Rand) []*tensor.Tensor {
	return graph.RandomInputs(g, batch, r)
}

// run returns copies of g's outputs in inference mode.
func run(t *testing.T, g *graph.Graph, xs []*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	p.Threads = 1
	ys, err := p.Forward(false, xs...)
	if err != nil {
		t.Fatal(err)
	}
	var out []*tensor.Tensor
	for _, y := range ys {
		out = append(out, y.Clone())
	}
	return out
}

// sameOutputs fails unless every output of a and b agrees within tol.
func sameOutputs(t *testing.T, what string, a, b []*tensor.Tensor, tol float64) {
	t.Helper()
	for i := range a {
		if e := tensor.RelDiff(b[i], a[i]); !(e <= tol) {
			t.Errorf("%s: output %d differs: relative error %.3g > %g", what, i, e, tol)
		}
	}
}

func groupOf(t *testing.T, d *DepGraph, owner string) *Group {
	t.Helper()
	for _, g := range d.Groups() {
		if g.Owner == owner {
			return g
		}
	}
	var names []string
	for _, g := range d.Groups() {
		names = append(names, g.Owner)
	}
	t.Fatalf("no prunable group owned by %s (groups: %s)", owner, strings.Join(names, ", "))
	return nil
}

func unprunable(d *DepGraph, substr string) bool {
	for _, r := range d.Unprunable() {
		if strings.Contains(r.String(), substr) {
			return true
		}
	}
	return false
}

// gb builds small graphs by hand for the synthetic tests.
type gb struct {
	g *graph.Graph
	r *rand.Rand
}

func newGB(name string, in ...int) *gb {
	return &gb{g: &graph.Graph{Name: name, Inputs: []graph.ValueInfo{{Name: "x", Shape: append([]int{-1}, in...)}}, Meta: map[string]string{}},
		r: rand.New(rand.NewPCG(11, 13))}
}

func (b *gb) rand(scale float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(b.r.NormFloat64() * scale)
	}
	return t
}

func (b *gb) param(name string, t *tensor.Tensor) string {
	b.g.AddParam(name, t, true)
	return name
}

func (b *gb) op(name, op string, attrs graph.Attrs, inputs ...string) string {
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{name}, Attrs: attrs})
	return name
}

func (b *gb) conv(name, x string, in, out, k, group int) string {
	w := b.param(name+".weight", b.rand(1/math.Sqrt(float64(in/group*k*k)), out, in/group, k, k))
	bias := b.param(name+".bias", b.rand(0.3, out))
	p := k / 2
	return b.op(name, "Conv", graph.Attrs{"kernel_shape": []int{k, k}, "pads": []int{p, p, p, p}, "group": group}, x, w, bias)
}

func (b *gb) bn(name, x string, c int) string {
	in := []string{x}
	for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
		t := b.rand(0.5, c)
		if s == "weight" || s == "running_var" {
			for i := range t.Data {
				t.Data[i] = 0.5 + float32(b.r.Float64())
			}
		}
		in = append(in, b.param(name+"."+s, t))
	}
	return b.op(name, "BatchNormalization", nil, in...)
}

// cbr is conv → BN → ReLU.
func (b *gb) cbr(name, x string, in, out, k int) string {
	return b.op(name+".relu", "Relu", nil, b.bn(name+".bn", b.conv(name, x, in, out, k, 1), out))
}

func (b *gb) linear(name, x string, in, out int) string {
	w := b.param(name+".weight", b.rand(1/math.Sqrt(float64(in)), out, in))
	bias := b.param(name+".bias", b.rand(0.3, out))
	return b.op(name, "Gemm", graph.Attrs{"transB": 1}, x, w, bias)
}

// head is global average pool → flatten → linear to 3 outputs.
func (b *gb) head(x string, c int) *graph.Graph {
	y := b.linear("fc", b.op("flatten", "Flatten", graph.Attrs{"axis": 1}, b.op("gap", "GlobalAveragePool", nil, x)), c, 3)
	return b.done(y)
}

func (b *gb) done(outputs ...string) *graph.Graph {
	for _, o := range outputs {
		b.g.Outputs = append(b.g.Outputs, graph.ValueInfo{Name: o})
	}
	graph.LabelAxes(b.g)
	return b.g
}

func ints2t(v ...int) *tensor.Tensor {
	t := tensor.New(len(v))
	for i, x := range v {
		t.Data[i] = float32(x)
	}
	return t
}

// pruneBothWays checks that no layer of g is skipped silently
// (checkCovered), prunes 30% of every group of g (random channels) masked and
// slimmed, checks that both compute the same, that the slimmed graph saves
// and reloads as it is, and returns the slimmed graph.
func pruneBothWays(t *testing.T, g *graph.Graph, seed uint64) *graph.Graph {
	t.Helper()
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	checkCovered(t, g, d)
	xs := randInput(g, 3, rand.New(rand.NewPCG(seed, 99)))
	return maskAndSlim(t, g, d, randomKeep(d, rand.New(rand.NewPCG(seed, 1))), xs).slim
}

// weightOut is a learnable param axis that holds a layer's output
// features: a conv's filters, a linear layer's out axis, BatchNorm's and
// LayerNorm's per-feature params.
type weightOut struct {
	node, param string
	axis        int
}

// weightOuts lists, independently of the analysis, the output-feature axes
// of every param of g that a layer could lose channels of: Conv W and bias
// axis 0; Gemm B's out axis (by transB) and C's last axis; a MatMul param
// operand's last axis (x·B) or second-to-last (A·x); BatchNormalization's
// four params and LayerNormalization's Scale and B, axis 0.
func weightOuts(g *graph.Graph) []weightOut {
	params := g.ParamMap()
	var out []weightOut
	add := func(n *graph.Node, i, axis int) {
		if i >= len(n.Inputs) || n.Inputs[i] == "" {
			return
		}
		p := params[n.Inputs[i]]
		if p == nil {
			return
		}
		if axis < 0 {
			axis += p.Value.Rank()
		}
		if axis >= 0 && axis < p.Value.Rank() {
			out = append(out, weightOut{n.Name, p.Name, axis})
		}
	}
	for _, n := range g.Nodes {
		switch n.Op {
		case "Conv":
			add(n, 1, 0)
			add(n, 2, 0)
		case "Gemm":
			if tb, _ := n.Attrs.Int("transB", 0); tb != 0 {
				add(n, 1, 0)
			} else {
				add(n, 1, 1)
			}
			add(n, 2, -1)
		case "MatMul":
			if p := params[n.Inputs[1]]; p != nil && p.Value.Rank() >= 2 {
				add(n, 1, -1)
			}
			if p := params[n.Inputs[0]]; p != nil && p.Value.Rank() >= 2 {
				add(n, 0, -2)
			}
		case "BatchNormalization":
			for i := 1; i <= 4; i++ {
				add(n, i, 0)
			}
		case "LayerNormalization":
			add(n, 1, 0)
			add(n, 2, 0)
		}
	}
	return out
}

// checkCovered is the rule that no layer is skipped silently: every
// output-feature axis of every layer's param (weightOuts) is covered,
// entry by entry, by the slices of prunable groups (Groups) and of refused
// ones (Unprunable, which must say why).
func checkCovered(t *testing.T, g *graph.Graph, d *DepGraph) {
	t.Helper()
	params := g.ParamMap()
	type key struct {
		param string
		axis  int
	}
	covered := map[key][]bool{}
	mark := func(s Slice) {
		k := key{s.Param, s.Axis}
		c := covered[k]
		if c == nil {
			c = make([]bool, params[s.Param].Value.Shape[s.Axis])
			covered[k] = c
		}
		for i := s.Offset; i < s.Offset+s.Count*s.Span && i < len(c); i++ {
			c[i] = true
		}
	}
	for _, grp := range d.Groups() {
		for _, s := range grp.Slices {
			mark(s)
		}
	}
	for _, r := range d.Unprunable() {
		if strings.TrimSpace(r.Why) == "" {
			t.Errorf("refusal without a reason: %v", r)
		}
		for _, s := range r.Slices {
			mark(s)
		}
	}
	for _, w := range weightOuts(g) {
		c := covered[key{w.param, w.axis}]
		missing := 0
		for i := range params[w.param].Value.Shape[w.axis] {
			if c == nil || !c[i] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d entries of %s axis %d are in no group and no refusal (skipped silently)",
				w.node, missing, params[w.param].Value.Shape[w.axis], w.param, w.axis)
		}
	}
}

// slimmed is what maskAndSlim returns.
type slimmed struct {
	masked, slim *graph.Graph
	dense, small graph.NodeStats // totals of orig and of slim
	diff         float64         // relative difference, slimmed vs masked
}

// maskAndSlim removes the channels keep names (keep's groups are d's, the
// analysis of orig) from two copies of orig, masked and physically. Groups
// belong to the graph they were analysed on, so each copy goes through its
// own analysis, whose groups come out in the same order. It checks that
// both copies compute the same on xs, that masking changed the output
// (else the comparison could not tell), that the slimmed model is smaller
// and that it saves and reloads unchanged.
func maskAndSlim(t *testing.T, orig *graph.Graph, d *DepGraph, keep map[*Group][]int, xs []*tensor.Tensor) slimmed {
	t.Helper()
	res := slimmed{masked: orig.Clone(), slim: orig.Clone()}
	remap := func(g *graph.Graph) map[*Group][]int {
		d2, err := Analyze(g)
		if err != nil {
			t.Fatal(err)
		}
		k2 := map[*Group][]int{}
		for i, grp := range d.Groups() {
			k2[d2.Groups()[i]] = keep[grp]
		}
		return k2
	}
	if _, err := MaskGroups(res.masked, remap(res.masked)); err != nil {
		t.Fatal(err)
	}
	if err := PruneGroups(res.slim, remap(res.slim)); err != nil {
		t.Fatal(err)
	}
	ym, ys := run(t, res.masked, xs), run(t, res.slim, xs)
	sameOutputs(t, "slimmed vs masked", ym, ys, 1e-4)
	res.diff = tensor.RelDiff(ys[0], ym[0])
	if e := tensor.RelDiff(ym[0], run(t, orig, xs)[0]); e < 1e-3 {
		t.Errorf("masking barely changed the output (%.3g): the test cannot tell", e)
	}
	var err error
	if _, res.dense, err = graph.Stats(orig); err != nil {
		t.Fatal(err)
	}
	if _, res.small, err = graph.Stats(res.slim); err != nil {
		t.Fatal(err)
	}
	if !(res.small.Params < res.dense.Params && res.small.MACs < res.dense.MACs) {
		t.Errorf("slimmed params %d MACs %d, dense %d and %d", res.small.Params, res.small.MACs, res.dense.Params, res.dense.MACs)
	}
	b, err := onnx.Encode(res.slim)
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Decode(b, orig.Name)
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "reloaded vs slimmed", ys, run(t, back, xs), 0)
	return res
}
