package prune

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
)

// shapeModels are the exports of scripts/export_shapes.py in
// testdata/shapes, with the groups each must have (owner and channel
// count) and params that must be in a prunable group. Each comes with a
// dynamic batch (name) and a fixed one (name_static), where the import
// folds the whole shape subgraph into a constant that holds the old
// channel count.
var shapeModels = []struct {
	name   string
	groups map[string]int
	params []string
	refuse string // a refusal the model has by design, besides inputs and outputs
}{
	// F.interpolate(l, size=h.shape[2:]): Resize sizes from Shape(l).
	{"interp_size", map[string]int{"/c1/Conv": 16, "/c2/Conv": 16}, nil, ""},
	// Reshape to [N, C, -1] and [N, -1] built from Shape(x).
	{"view_channels", map[string]int{"/c1/Conv": 12, "/c2/Conv": 8}, []string{"fc2.weight"}, "ReduceSum /ReduceSum reduces over the batch or channel axis"},
	// Expand(gate, Shape(x)): one channel to C, and C×1×1 to C×H×W.
	{"expand_as", map[string]int{"/c1/Conv": 16, "/spatial/Conv": 1}, []string{"se.weight"}, ""},
	// full_like and zero channels padded on: ConstantOfShape(Shape(x)).
	{"const_of_shape", map[string]int{"/c1/Conv": 16}, []string{"c2.weight"}, ""},
	// tf2onnx: NHWC input, BiasAdd, Pad, zero-padded shortcut, NHWC
	// stretch and outputs.
	{"tf_resnet", map[string]int{"model/conv1/Conv2D": 16, "model/conv2/Conv2D": 16},
		[]string{"model/conv1/bias", "model/conv2/bias", "model/conv3/bias", "model/bn/scale", "model/bn/offset", "model/dense/kernel", "model/head/kernel"}, ""},
	// tf2onnx: branches concatenated on the last axis of NHWC values.
	{"tf_nhwc_concat", map[string]int{"model/a/Conv2D": 8, "model/b/Conv2D": 6}, []string{"model/concat/bias", "model/dw/depthwise_kernel", "model/pw/kernel"}, ""},
}

// TestShapeModels imports each model of shapeModels, checks its groups,
// prunes 30% of every group (random channels) masked and slimmed, and
// checks that both compute the same: the slimmed graph compiles only if
// every shape that held a pruned channel count (Resize sizes, Reshape and
// Expand shapes, ConstantOfShape) follows the slimmed width.
func TestShapeModels(t *testing.T) {
	for _, m := range shapeModels {
		for _, suffix := range []string{"", "_static"} {
			name := m.name + suffix
			t.Run(name, func(t *testing.T) {
				g, err := onnx.Load(filepath.Join("testdata", "shapes", name+".onnx"))
				if err != nil {
					t.Fatal(err)
				}
				d, err := Analyze(g)
				if err != nil {
					t.Fatal(err)
				}
				checkCovered(t, g, d)
				for owner, n := range m.groups {
					if grp := groupOf(t, d, owner); grp.Channels != n {
						t.Errorf("group %s has %d channels, want %d: %s", owner, grp.Channels, n, grp)
					}
				}
				for _, p := range m.params {
					if !inGroup(d, p) {
						t.Errorf("param %s is in no prunable group", p)
					}
				}
				if len(d.Groups()) != len(m.groups) {
					t.Errorf("%d groups, want %d", len(d.Groups()), len(m.groups))
					for _, grp := range d.Groups() {
						t.Log(grp)
					}
				}
				for _, r := range d.Unprunable() {
					if strings.Contains(r.Why, "graph input") && r.Channels != 3 {
						t.Errorf("the RGB input is reported with %d channels: %s", r.Channels, r)
					}
					if !strings.Contains(r.Why, "graph input") && !strings.Contains(r.Why, "graph output") && (m.refuse == "" || !strings.Contains(r.Why, m.refuse)) {
						t.Errorf("refused for another reason than a graph input or output: %s", r)
					}
				}
				r := rand.New(rand.NewPCG(11, uint64(len(name))))
				res := maskAndSlim(t, g, d, randomKeep(d, r), randInput(g, 2, r))
				for _, n := range res.slim.Nodes {
					if n.Op == "ConstantOfShape" || n.Op == "Shape" {
						t.Errorf("%s %s left in the graph", n.Op, n.Name)
					}
				}
			})
		}
	}
}

func inGroup(d *DepGraph, param string) bool {
	for _, grp := range d.Groups() {
		for _, s := range grp.Slices {
			if s.Param == param {
				return true
			}
		}
	}
	return false
}

// A constant Pad on the channel axis (what the import makes of a shortcut
// zero-padded to more channels) keeps its input's channels, shifted; the
// padded ones go with the channels they are added to, and surgery pads as
// many as stay.
func TestPadChannels(t *testing.T) {
	b := newGB("padchannels", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	p := b.op("p", "Pad", nil, x, b.param("p.pads", ints2t(0, 2, 0, 0, 0, 3, 0, 0)), b.param("p.value", &tensor.Tensor{Shape: []int{}, Data: []float32{0.5}}))
	y := b.op("add", "Add", nil, b.cbr("c1", x, 8, 13, 3), p)
	g := b.head(b.cbr("c2", y, 13, 6, 3), 6)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "c0"); grp.Channels != 13 {
		t.Errorf("c0's group has %d channels, want 13 (8 of c0, 5 padded, coupled with c1's): %s", grp.Channels, grp)
	}
	slim := pruneBothWays(t, g, 5)
	pads := ints(slim.Param(slim.Node("p").Inputs[1]))
	c1 := slim.Param("c1.weight").Value.Shape[0]
	c0 := slim.Param("c0.weight").Value.Shape[0]
	if pads[1]+pads[5]+c0 != c1 {
		t.Errorf("pads %v around %d channels, c1 has %d", pads, c0, c1)
	}
}

// A shape param that two Resizes read (one folded sizes constant) is
// copied for each when their channels are pruned differently.
func TestSharedSizes(t *testing.T) {
	b := newGB("sharedsizes", 3, 6, 6)
	b.g.Inputs[0].Shape[0] = 1
	b.param("rs.roi", &tensor.Tensor{Shape: []int{0}})
	b.param("rs.sizes", ints2t(1, 8, 12, 12))
	b.g.Param("rs.sizes").Trainable = false
	b.g.Param("rs.roi").Trainable = false
	x := b.cbr("c0", "x", 3, 8, 3)
	y := b.cbr("c1", x, 8, 8, 3)
	u := b.op("u0", "Resize", graph.Attrs{"mode": "nearest"}, x, "rs.roi", "", "rs.sizes")
	v := b.op("u1", "Resize", graph.Attrs{"mode": "nearest"}, y, "rs.roi", "", "rs.sizes")
	g := b.head(b.cbr("c2", b.op("cat", "Concat", graph.Attrs{"axis": 1}, u, v), 16, 4, 3), 4)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[*Group][]int{}
	for _, grp := range d.Groups() {
		keep[grp] = nil
		for ch := range grp.Channels {
			keep[grp] = append(keep[grp], ch)
		}
	}
	keep[groupOf(t, d, "c0")] = []int{0, 1, 2, 3, 4}
	keep[groupOf(t, d, "c1")] = []int{0, 2, 4}
	res := maskAndSlim(t, g, d, keep, randInput(g, 1, rand.New(rand.NewPCG(3, 4))))
	for node, want := range map[string]int{"u0": 5, "u1": 3} {
		if got := ints(res.slim.Param(res.slim.Node(node).Inputs[3])); got[1] != want {
			t.Errorf("%s: sizes %v, want %d channels", node, got, want)
		}
	}
}

// An N×T×F graph input read by a MatMul has its features on the last
// axis: the layer's outputs are prunable.
func TestInputFeaturesLast(t *testing.T) {
	b := newGB("featureslast", 5, 6)
	y := b.op("mm1", "MatMul", nil, "x", b.param("mm1.w", b.rand(0.4, 6, 8)))
	y = b.op("add1", "Add", nil, y, b.param("mm1.b", b.rand(0.3, 8)))
	y = b.op("relu", "Relu", nil, y)
	g := b.done(b.op("mm2", "MatMul", nil, y, b.param("mm2.w", b.rand(0.4, 8, 4))))
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "mm1"); grp.Channels != 8 || !slices.ContainsFunc(grp.Slices, func(s Slice) bool { return s.Param == "mm1.b" }) {
		t.Errorf("mm1's group: %s", grp)
	}
	pruneBothWays(t, g, 2)
}

// A Conv reading a value whose channels a Transpose moved still starts new
// channels on axis 1, its filters: they are prunable, while the channels
// it reads (and its weight's in axis) are fixed.
func TestConvAfterMovedChannels(t *testing.T) {
	b := newGB("movedchannels", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
	y = b.op("cl.relu", "Relu", nil, b.conv("cl", y, 6, 10, 3, 1))
	g := b.head(b.cbr("c2", y, 10, 5, 3), 5)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "cl"); grp.Channels != 10 {
		t.Errorf("cl's group: %s", grp)
	}
	if !unprunable(d, "Conv cl reads t with its channels on axis 3") {
		t.Errorf("no reason names cl's input: %v", d.Unprunable())
	}
	for _, grp := range d.Groups() {
		if grp.Owner == "c0" {
			t.Errorf("c0 is prunable: %s", grp)
		}
	}
	pruneBothWays(t, g, 4)
}

// Keras' Flatten of an N×H×W×C value gives each channel every C-th
// feature: refused with that reason, and the layers around stay prunable.
func TestFlattenChannelsLast(t *testing.T) {
	b := newGB("flattenlast", 3, 4, 4)
	x := b.cbr("c0", "x", 3, 6, 3)
	y := b.cbr("c1", x, 6, 5, 3)
	y = b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, y)
	y = b.op("flat", "Reshape", nil, y, b.param("flat.shape", ints2t(0, -1)))
	g := b.done(b.linear("fc2", b.op("fc1.relu", "Relu", nil, b.linear("fc1", y, 80, 7)), 7, 3))
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if !unprunable(d, "Reshape flat flattens t channels-last (N×4×4×5 → N×80)") {
		t.Errorf("no reason names the flatten: %v", d.Unprunable())
	}
	groupOf(t, d, "c0")
	groupOf(t, d, "fc1")
	pruneBothWays(t, g, 6)
}

// Views of channels-last values that keep the last axis keep the
// channels there: Keras' global pooling (ReduceMean over H and W of
// N×H×W×C, then Squeeze) into a Dense layer, and N×H×W×C reshaped to
// N×(H·W)×C tokens for a MatMul.
func TestChannelsLastViews(t *testing.T) {
	b := newGB("lastviews", 3, 4, 4)
	x := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, b.cbr("c0", "x", 3, 6, 3))
	x = b.op("scale", "Mul", nil, x, b.param("scale.w", b.rand(1, 6)))
	tok := b.op("tok", "Reshape", nil, x, b.param("tok.shape", ints2t(0, 16, 6)))
	tok = b.op("mm", "MatMul", nil, tok, b.param("mm.w", b.rand(0.4, 6, 5)))
	tok = b.op("tokmean", "ReduceMean", graph.Attrs{"axes": []int{1}, "keepdims": 0}, tok)
	gap := b.op("gap", "ReduceMean", graph.Attrs{"axes": []int{1, 2}, "keepdims": 1}, x)
	gap = b.op("sq", "Squeeze", nil, gap, b.param("sq.axes", ints2t(1, 2)))
	y := b.op("cat", "Concat", graph.Attrs{"axis": 1}, b.linear("fc", gap, 6, 7), tok)
	g := b.done(b.linear("out", b.op("relu", "Relu", nil, y), 12, 3))
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "c0"); grp.Channels != 6 || !slices.ContainsFunc(grp.Slices, func(s Slice) bool { return s.Param == "mm.w" }) {
		t.Errorf("c0's group: %s", grp)
	}
	groupOf(t, d, "fc")
	groupOf(t, d, "mm")
	pruneBothWays(t, g, 8)
}

// A constant concatenated onto the channels (tf2onnx's zero-padded
// shortcut, Concat(x, zeros), as the import folds it) is dropped by its
// Concat when all its channels go, instead of refusing the pruning: the
// slimmed graph computes what the masked one does.
func TestConcatConstantDropped(t *testing.T) {
	b := newGB("concatzeros", 3, 6, 6)
	b.g.Inputs[0].Shape[0] = 1
	x := b.cbr("c0", "x", 3, 8, 3)
	z := b.param("zeros", tensor.New(1, 4, 6, 6))
	y := b.op("cat", "Concat", graph.Attrs{"axis": 1}, x, z)
	sum := b.op("add", "Add", nil, b.cbr("c1", x, 8, 12, 3), y)
	g := b.head(b.cbr("c2", sum, 12, 5, 3), 5)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	grp := groupOf(t, d, "c0")
	if grp.Channels != 12 {
		t.Fatalf("c0's group has %d channels, want 12 (8 of c0, 4 concatenated zeros): %s", grp.Channels, grp)
	}
	keep := map[*Group][]int{}
	for _, gr := range d.Groups() {
		keep[gr] = make([]int, gr.Channels)
		for i := range keep[gr] {
			keep[gr][i] = i
		}
	}
	keep[grp] = []int{0, 2, 3, 5, 6, 7} // all four zero channels (8:12) go, and two of c0's
	xs := randInput(g, 1, rand.New(rand.NewPCG(3, 99)))
	slim := maskAndSlim(t, g, d, keep, xs).slim
	if slim.Param("zeros") != nil {
		t.Errorf("the emptied constant is still a param: %v", slim.Param("zeros").Value.Shape)
	}
	if in := slim.Node("cat").Inputs; len(in) != 1 {
		t.Errorf("Concat reads %v, want only c0's output", in)
	}
	// Keeping one of the zero channels keeps the constant, one channel wide.
	keep[grp] = []int{0, 1, 2, 3, 4, 5, 6, 7, 9}
	slim = maskAndSlim(t, g, d, keep, xs).slim
	if p := slim.Param("zeros"); p == nil || p.Value.Shape[1] != 1 {
		t.Errorf("zeros after keeping one of its channels: %v", p)
	}
}

// A view that only inserts or drops axes of size 1 moves the channel axis
// and the channels follow it: an STFT front end (Conv1d filters,
// Unsqueeze(1), Transpose to put the bins last, a mel MatMul) prunes its
// frequency bins with the mel matrix's rows, and a Reshape that drops the
// size-1 axis again brings them back to axis 1.
func TestUnitAxisViews(t *testing.T) {
	b := newGB("unitaxes", 2, 16)
	w := b.param("stft.weight", b.rand(0.3, 9, 2, 3))
	spec := b.op("stft", "Conv", graph.Attrs{"kernel_shape": []int{3}, "pads": []int{1, 1}}, "x", w)
	u := b.op("u", "Unsqueeze", nil, spec, b.param("u.axes", ints2t(1)))     // N×1×9×16
	tr := b.op("tr", "Transpose", graph.Attrs{"perm": []int{0, 1, 3, 2}}, u) // N×1×16×9
	sq := b.op("sq", "Mul", nil, tr, tr)
	mel := b.op("mel", "MatMul", nil, sq, b.param("mel.weight", b.rand(0.3, 9, 5))) // N×1×16×5
	back := b.op("back", "Transpose", graph.Attrs{"perm": []int{0, 1, 3, 2}}, mel)  // N×1×5×16
	r := b.op("r", "Reshape", nil, back, b.param("r.shape", ints2t(0, 5, 16)))      // N×5×16
	c := b.op("c", "Conv", graph.Attrs{"kernel_shape": []int{3}, "pads": []int{1, 1}}, r, b.param("c.weight", b.rand(0.3, 7, 5, 3)))
	g := b.done(b.op("out", "ReduceMean", graph.Attrs{"axes": []int{2}, "keepdims": 0}, c))
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	for owner, want := range map[string]int{"stft": 9, "mel": 5} {
		if grp := groupOf(t, d, owner); grp.Channels != want {
			t.Errorf("%s's group has %d channels, want %d: %s", owner, grp.Channels, want, grp)
		}
	}
	slim := pruneBothWays(t, g, 7)
	if s := slim.Param("mel.weight").Value.Shape; s[0] != 7 || s[1] != 4 {
		t.Errorf("mel weight %v after pruning 30%% of 9 bins and 5 mel channels, want 7×4", s)
	}
}

// Comparisons and Where are elementwise: a peak mask (x == MaxPool(x), as
// line and keypoint detectors compute it) and a Where over it couple the
// channels they read, and the group prunes with slim = masked.
func TestComparisonChannels(t *testing.T) {
	b := newGB("peaks", 3, 6, 6)
	x := b.op("sig", "Sigmoid", nil, b.conv("c0", "x", 3, 8, 3, 1))
	mp := b.op("mp", "MaxPool", graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}, x)
	peak := b.op("peak", "Equal", nil, x, mp)
	y := b.op("w", "Where", nil, peak, x, b.op("half", "Mul", nil, x, b.param("half.k", &tensor.Tensor{Shape: []int{}, Data: []float32{0.5}})))
	g := b.head(b.cbr("c1", y, 8, 5, 3), 5)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "c0"); grp.Channels != 8 {
		t.Errorf("c0's group: %s", grp)
	}
	pruneBothWays(t, g, 9)
}

// A graph input viewed with only size-1 axes moved (tf2onnx's NHWC input
// with one channel reshaped to N×1×H×W) takes its layout from its
// consumers: the Reshape keeps its shape through the pruning.
func TestInputUnitAxisView(t *testing.T) {
	b := newGB("inputview", 6, 5, 1)
	r := b.op("r", "Reshape", nil, "x", b.param("r.shape", ints2t(0, 1, 6, 5)))
	g := b.head(b.cbr("c1", b.cbr("c0", r, 1, 6, 3), 6, 5, 3), 5)
	slim := pruneBothWays(t, g, 3)
	if sh := ints(slim.Param("r.shape")); !slices.Equal(sh, []int{0, 1, 6, 5}) {
		t.Errorf("the input's Reshape became %v", sh)
	}
}

// ArgMax along the channels (a per-pixel class map) fixes them; along a
// spatial axis the channels pass.
func TestArgMaxChannels(t *testing.T) {
	b := newGB("argmax", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	w := b.op("am", "ArgMax", graph.Attrs{"axis": 3, "keepdims": 1}, x) // N×8×6×1
	y := b.op("cat", "Mul", nil, x, w)
	g := b.head(b.cbr("c1", y, 8, 5, 3), 5)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "c0"); grp.Channels != 8 {
		t.Errorf("c0: %s", grp)
	}
	b = newGB("classmap", 3, 6, 6)
	g = b.done(b.op("am", "ArgMax", graph.Attrs{"axis": 1}, b.cbr("c0", "x", 3, 8, 3)))
	d, err = Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Groups()) != 0 || !strings.Contains(fmt.Sprint(d.Unprunable()), "ArgMax am picks along the batch or channel axis") {
		t.Errorf("ArgMax over channels: groups %v, refusals %v", d.Groups(), d.Unprunable())
	}
}
