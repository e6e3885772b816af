package prune

import (
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// A DenseNet-style block: each conv reads the concatenation of all earlier
// outputs, so a consumer prunes each group's slice at its offset.
func TestConcatDense(t *testing.T) {
	b := newGB("dense", 3, 8, 8)
	a := b.cbr("a", "x", 3, 8, 3)
	c1 := b.op("cat1", "Concat", graph.Attrs{"axis": 1}, a, b.cbr("b", a, 8, 6, 3))
	c2 := b.op("cat2", "Concat", graph.Attrs{"axis": 1}, c1, b.cbr("c", c1, 14, 5, 3))
	g := b.head(b.cbr("d", c2, 19, 7, 1), 7)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Groups()) != 4 {
		t.Errorf("%d groups, want 4 (a, b, c, d)", len(d.Groups()))
	}
	for owner, want := range map[string][]string{
		"a": {"a.weight[out 0:8]", "b.weight[in 0:8]", "c.weight[in 0:8]", "d.weight[in 0:8]"},
		"b": {"b.weight[out 0:6]", "c.weight[in 8:14]", "d.weight[in 8:14]"},
		"c": {"c.weight[out 0:5]", "d.weight[in 14:19]"},
	} {
		s := groupOf(t, d, owner).String()
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("group %s lacks %s:\n%s", owner, w, s)
			}
		}
	}
	pruneBothWays(t, g, 1)
}

// Concatenated branches added to a conv of the same width: the conv's
// channels are coupled with both branches, which makes one group.
func TestConcatAdd(t *testing.T) {
	b := newGB("cat_add", 3, 6, 6)
	cat := b.op("cat", "Concat", graph.Attrs{"axis": 1}, b.cbr("a", "x", 3, 8, 3), b.cbr("b", "x", 3, 6, 3))
	sum := b.op("add", "Add", nil, cat, b.bn("e.bn", b.conv("e", "x", 3, 14, 1, 1), 14))
	g := b.head(b.cbr("f", sum, 14, 5, 3), 5)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	grp := groupOf(t, d, "a")
	if grp.Channels != 14 || len(d.Groups()) != 2 {
		t.Fatalf("want groups a (14 channels: a, b and e) and f, have:\n%v", d.Groups())
	}
	for _, w := range []string{"a.weight[out 0:8 ← channels 0:8]", "b.weight[out 0:6 ← channels 8:14]", "e.weight[out 0:14]", "f.weight[in 0:14]"} {
		if !strings.Contains(grp.String(), w) {
			t.Errorf("group lacks %s:\n%s", w, grp)
		}
	}
	pruneBothWays(t, g, 2)
}

// Squeeze-excitation: the expand conv's channels scale the trunk's, so
// they are the trunk's channels.
func TestSqueezeExcitation(t *testing.T) {
	b := newGB("se", 3, 8, 8)
	trunk := b.cbr("trunk", "x", 3, 16, 3)
	s := b.op("se.pool", "GlobalAveragePool", nil, trunk)
	s = b.op("se.relu", "Relu", nil, b.conv("se.reduce", s, 16, 4, 1, 1))
	s = b.op("se.gate", "Sigmoid", nil, b.conv("se.expand", s, 4, 16, 1, 1))
	y := b.op("se.mul", "Mul", nil, trunk, s)
	g := b.head(b.cbr("out", y, 16, 8, 3), 8)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	tr := groupOf(t, d, "trunk")
	for _, w := range []string{"trunk.weight[out 0:16]", "se.reduce.weight[in 0:16]", "se.expand.weight[out 0:16]", "se.expand.bias[0:16]", "out.weight[in 0:16]"} {
		if !strings.Contains(tr.String(), w) {
			t.Errorf("trunk group lacks %s:\n%s", w, tr)
		}
	}
	if groupOf(t, d, "se.reduce").Channels != 4 {
		t.Error("se.reduce group should have 4 channels")
	}
	pruneBothWays(t, g, 3)
}

// A grouped (not depthwise) conv keeps its group count: channel p of each
// group is coupled with channel p of the others, on both sides.
func TestGroupedConv(t *testing.T) {
	b := newGB("grouped", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	y := b.op("g.relu", "Relu", nil, b.bn("g.bn", b.conv("g", x, 8, 12, 3, 2), 12))
	g := b.head(y, 12)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	c0, gg := groupOf(t, d, "c0"), groupOf(t, d, "g")
	if c0.Channels != 4 || gg.Channels != 6 {
		t.Errorf("groups c0 %d, g %d channels; want 4 and 6", c0.Channels, gg.Channels)
	}
	for _, w := range []string{"c0.weight[out 0:4]", "c0.weight[out 4:8]", "g.weight[in 0:4]"} {
		if !strings.Contains(c0.String(), w) {
			t.Errorf("c0 group lacks %s:\n%s", w, c0)
		}
	}
	slim := pruneBothWays(t, g, 4)
	if grp, _ := slim.Node("g").Attrs.Int("group", 0); grp != 2 {
		t.Errorf("grouped conv has group %d after pruning, want 2", grp)
	}
	if s := slim.Param("g.weight").Value.Shape; s[0] != 10 || s[1] != 3 {
		t.Errorf("g.weight is %v, want 10×3×3×3", s)
	}
}

// A depthwise conv with channel multiplier 2: each input channel owns two
// output channels, and pruning removes whole groups.
func TestDepthwiseMultiplier(t *testing.T) {
	b := newGB("dw2", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	y := b.op("dw.relu", "Relu", nil, b.bn("dw.bn", b.conv("dw", x, 8, 16, 3, 8), 16))
	g := b.head(b.cbr("pw", y, 16, 6, 1), 6)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	c0 := groupOf(t, d, "c0")
	for _, w := range []string{"dw.weight[out 0:16, 2 per channel]", "dw.bn.{weight,bias,running_mean,running_var}[0:16, 2 per channel]", "pw.weight[in 0:16, 2 per channel]"} {
		if !strings.Contains(c0.String(), w) {
			t.Errorf("c0 group lacks %s:\n%s", w, c0)
		}
	}
	slim := pruneBothWays(t, g, 5)
	if grp, _ := slim.Node("dw").Attrs.Int("group", 0); grp != 6 {
		t.Errorf("depthwise conv has group %d after pruning 2 of 8, want 6", grp)
	}
}

// Split and Slice on the channel axis: the outputs are sub-ranges of the
// input's channels; sizes, starts and ends follow the pruning.
func TestSplitSlice(t *testing.T) {
	b := newGB("split", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 12, 3)
	b.param("split.sizes", ints2t(4, 8))
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "split", Op: "Split", Inputs: []string{x, "split.sizes"},
		Outputs: []string{"s0", "s1"}, Attrs: graph.Attrs{"axis": 1}})
	b.param("sl.starts", ints2t(2))
	b.param("sl.ends", ints2t(7))
	b.param("sl.axes", ints2t(1))
	sl := b.op("sl", "Slice", nil, "s1", "sl.starts", "sl.ends", "sl.axes")
	y := b.op("cat", "Concat", graph.Attrs{"axis": 1}, b.cbr("a", "s0", 4, 5, 3), b.cbr("b", sl, 5, 5, 1))
	g := b.head(y, 10)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	c0 := groupOf(t, d, "c0")
	for _, w := range []string{"a.weight[in 0:4 ← channels 0:4]", "b.weight[in 0:5 ← channels 6:11]"} {
		if !strings.Contains(c0.String(), w) {
			t.Errorf("c0 group lacks %s:\n%s", w, c0)
		}
	}
	slim := pruneBothWays(t, g, 6)
	sizes := slim.Param("split.sizes").Value.Data
	if sizes[0]+sizes[1] != float32(slim.Param("c0.weight").Value.Shape[0]) {
		t.Errorf("split sizes %v do not add up to c0's %d channels", sizes, slim.Param("c0.weight").Value.Shape[0])
	}
}

// Per-channel constants (a param operand of Add/Mul) are part of the
// group; scalars and channel-broadcast operands are not.
func TestParamOperands(t *testing.T) {
	b := newGB("consts", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	x = b.op("addc", "Add", nil, x, b.param("shift", b.rand(1, 8, 1, 1)))
	x = b.op("mulc", "Mul", nil, b.param("scale", b.rand(1, 1, 8, 1, 1)), x)
	x = b.op("muls", "Mul", nil, x, b.param("two", ints2t(2)))
	att := b.op("att.gate", "Sigmoid", nil, b.conv("att", x, 8, 1, 3, 1))
	x = b.op("attmul", "Mul", nil, x, att)
	g := b.head(x, 8)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	s := groupOf(t, d, "c0").String()
	for _, w := range []string{"shift[axis 0 0:8]", "scale[axis 1 0:8]", "att.weight[in 0:8]"} {
		if !strings.Contains(s, w) {
			t.Errorf("c0 group lacks %s:\n%s", w, s)
		}
	}
	if strings.Contains(s, "two") {
		t.Errorf("scalar operand in the group:\n%s", s)
	}
	pruneBothWays(t, g, 7)
}

// An explicit Reshape to N×(C·H·W) before a linear layer; two reshapes
// share the shape param, which is copied when it must change.
func TestReshapeLinear(t *testing.T) {
	b := newGB("reshape", 3, 4, 4)
	x := b.cbr("c0", "x", 3, 8, 3)
	b.param("shape", ints2t(-1, 128))
	f1 := b.op("r1", "Reshape", nil, x, "shape")
	f2 := b.op("r2", "Reshape", nil, b.cbr("c1", "x", 3, 8, 3), "shape")
	y := b.op("sum", "Add", nil, b.linear("fa", f1, 128, 3), b.linear("fb", f2, 128, 3))
	g := b.done(y)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if s := groupOf(t, d, "c0").String(); !strings.Contains(s, "fa.weight[in 0:128, 16 per channel]") {
		t.Errorf("c0 group:\n%s", s)
	}
	slim := pruneBothWays(t, g, 8)
	for _, r := range []string{"r1", "r2"} {
		n := slim.Node(r)
		if got := slim.Param(n.Inputs[1]).Value.Data[1]; got != 6*16 {
			t.Errorf("%s reshapes to %v features, want 96", r, got)
		}
	}
	if slim.Param("shape") != nil {
		t.Error("the shared shape param is still there, unused")
	}
}

// Ops that move, mix or reinterpret channels make the channels they touch
// unprunable, with a reason.
func TestReported(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		build      func(b *gb, x string) string // after x (8 channels, 6×6); returns 8 channels
	}{
		{"transpose", "Transpose t moves the batch axis", func(b *gb, x string) string {
			y := b.op("t", "Transpose", graph.Attrs{"perm": []int{1, 0, 2, 3}}, x)
			return b.op("t2", "Transpose", graph.Attrs{"perm": []int{1, 0, 2, 3}}, y)
		}},
		{"channels-last conv", "Conv cl reads t with its channels on axis 3", func(b *gb, x string) string {
			y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
			b.param("cl.w", b.rand(0.3, 6, 6, 1, 1))
			y = b.op("cl", "Conv", nil, y, "cl.w")
			return b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 3, 1, 2}}, y)
		}},
		{"layernorm", "LayerNormalization ln normalises across channels", func(b *gb, x string) string {
			y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
			y = b.op("ln", "LayerNormalization", nil, y, b.param("ln.s", b.rand(1, 8)), b.param("ln.b", b.rand(1, 8)))
			return b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 3, 1, 2}}, y)
		}},
		{"reducemean last", "ReduceMean rm reduces over the batch or channel axis (axis 3 here", func(b *gb, x string) string {
			y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
			m := b.op("rm", "ReduceMean", graph.Attrs{"axes": []int{-1}}, y)
			y = b.op("sub", "Sub", nil, y, m)
			return b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 3, 1, 2}}, y)
		}},
		{"shuffle", "Reshape r1 splits the channel axis", func(b *gb, x string) string {
			b.param("s1", ints2t(0, 2, 4, 6, 6))
			b.param("s2", ints2t(0, 8, 6, 6))
			y := b.op("r1", "Reshape", nil, x, "s1")
			y = b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 1, 3, 4}}, y)
			return b.op("r2", "Reshape", nil, y, "s2")
		}},
		{"softmax", "Softmax sm normalises across channels", func(b *gb, x string) string {
			return b.op("sm", "Softmax", graph.Attrs{"axis": 1}, x)
		}},
		{"lrn", "LRN lrn normalises across neighbouring channels", func(b *gb, x string) string {
			return b.op("lrn", "LRN", graph.Attrs{"size": 3}, x)
		}},
		{"resize channels", "Resize rs resizes the batch or channel axis", func(b *gb, x string) string {
			b.param("rs.roi", &tensor.Tensor{Shape: []int{0}})
			b.param("rs.scales", &tensor.Tensor{Shape: []int{4}, Data: []float32{1, 0.5, 1, 1}})
			b.param("rs2.scales", &tensor.Tensor{Shape: []int{4}, Data: []float32{1, 2, 1, 1}})
			y := b.op("rs", "Resize", nil, x, "rs.roi", "rs.scales")
			return b.op("rs2", "Resize", nil, y, "rs.roi", "rs2.scales")
		}},
		{"gather", "Gather ga picks along the batch or channel axis", func(b *gb, x string) string {
			b.param("idx", ints2t(7, 6, 5, 4, 3, 2, 1, 0))
			return b.op("ga", "Gather", graph.Attrs{"axis": 1}, x, "idx")
		}},
		// Constant channels padded on are prunable (TestPadChannels);
		// reflected ones copy other channels.
		{"pad", "Pad p pads the batch axis, or the channel axis other than with a constant", func(b *gb, x string) string {
			b.param("pads", ints2t(0, 1, 0, 0, 0, 0, 0, 0))
			b.param("crop.s", ints2t(1))
			b.param("crop.e", ints2t(9))
			b.param("crop.a", ints2t(1))
			return b.op("crop", "Slice", nil, b.op("p", "Pad", graph.Attrs{"mode": "reflect"}, x, "pads"), "crop.s", "crop.e", "crop.a")
		}},
		{"broadcast", "Add ad: operand fv (1×8) broadcasts its channel axis onto axis 3", func(b *gb, x string) string {
			fv := b.op("fv", "Flatten", nil, b.op("gp", "GlobalAveragePool", nil, b.cbr("cb", x, 8, 8, 1)))
			b.g.Inputs[0].Shape = []int{1, 3, 8, 8} // fixed batch 1 so that N×8 broadcasts onto the width 8
			return b.op("ad", "Add", nil, x, fv)
		}},
		{"strided slice", "Slice sl takes every 2-th channel", func(b *gb, x string) string {
			for _, p := range [][2]any{{"sl.s", ints2t(0)}, {"sl.e", ints2t(8)}, {"sl.a", ints2t(1)}, {"sl.st", ints2t(2)}} {
				b.param(p[0].(string), p[1].(*tensor.Tensor))
			}
			y := b.op("sl", "Slice", nil, x, "sl.s", "sl.e", "sl.a", "sl.st")
			return b.op("cat", "Concat", graph.Attrs{"axis": 1}, y, y)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newGB(tc.name, 3, 6, 6)
			x := b.cbr("c0", "x", 3, 8, 3)
			g := b.head(b.cbr("c1", tc.build(b, x), 8, 5, 3), 5)
			d, err := Analyze(g)
			if err != nil {
				t.Fatal(err)
			}
			if !unprunable(d, tc.want) {
				t.Errorf("no reason mentions %q: %v", tc.want, d.Unprunable())
			}
			for _, grp := range d.Groups() {
				if grp.Owner == "c0" {
					t.Errorf("c0 is prunable: %s", grp)
				}
			}
			groupOf(t, d, "c1") // after the op: still prunable
			pruneBothWays(t, g, 9)
		})
	}
}

// An op without a channel rule is reported, not skipped; so is Shape,
// whose output is the channel count.
func TestUnknownOp(t *testing.T) {
	cpu.Register("TestIdentity", func(*graph.Node) (cpu.Op, error) { return testIdentity{}, nil })
	b := newGB("unknown", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 8, 3)
	b.op("sz", "Shape", nil, x)
	y := b.op("odd", "TestIdentity", nil, b.cbr("c1", x, 8, 8, 3))
	g := b.head(b.cbr("c2", y, 8, 8, 3), 8)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	checkCovered(t, g, d)
	for _, want := range []string{"c0: 8 channels not prunable: Shape sz reads the channel count", "c1: 8 channels not prunable: TestIdentity odd: no channel rule"} {
		if !unprunable(d, want) {
			t.Errorf("no reason %q in %v", want, d.Unprunable())
		}
	}
	if len(d.Groups()) != 1 || d.Groups()[0].Owner != "c2" {
		t.Errorf("want only c2 prunable, have %v", d.Groups())
	}
}

// A layer whose weight makes no channels, or that the rules cannot group,
// is refused with the reason, and the refusal lists its weight: nothing is
// skipped silently (checkCovered in pruneBothWays checks every layer).
func TestRefusedWeights(t *testing.T) {
	for _, tc := range []struct {
		name, want, param string
		prunable          bool                         // c0's channels pass the op
		build             func(b *gb, x string) string // after x (8 channels, 6×6); returns 8 channels
	}{
		{"matmul on the width", "mm: 6 features not prunable: MatMul mm multiplies along axis 3, not the channel axis (axis 1 of N×8×6×6)", "mm.w", true,
			func(b *gb, x string) string { return b.op("mm", "MatMul", nil, x, b.param("mm.w", b.rand(0.4, 6, 6))) }},
		{"matmul narrowing the width", "mm: 4 features not prunable: MatMul mm multiplies along axis 3", "mm.w", true,
			func(b *gb, x string) string { return b.op("mm", "MatMul", nil, x, b.param("mm.w", b.rand(0.4, 6, 4))) }},
		{"matmul on the width, channels last", "MatMul mm multiplies along axis 3, not the channel axis (axis 2 of N×6×8×6)", "mm.w", true,
			func(b *gb, x string) string {
				y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
				y = b.op("t1", "Transpose", graph.Attrs{"perm": []int{0, 1, 3, 2}}, y) // N×H×C×W
				y = b.op("mm", "MatMul", nil, y, b.param("mm.w", b.rand(0.4, 6, 6)))
				return b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 2, 1, 3}}, y)
			}},
		{"layernorm over the width", "ln: 6 features not prunable: LayerNormalization ln normalises along axis 3 onwards, not the channel axis (axis 1)", "ln.s", true,
			func(b *gb, x string) string {
				return b.op("ln", "LayerNormalization", nil, x, b.param("ln.s", b.rand(1, 6)), b.param("ln.b", b.rand(1, 6)))
			}},
		{"layernorm across channels", "LayerNormalization ln normalises across channels", "ln.s", false,
			func(b *gb, x string) string {
				y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
				y = b.op("ln", "LayerNormalization", nil, y, b.param("ln.s", b.rand(1, 8)), b.param("ln.b", b.rand(1, 8)))
				return b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 3, 1, 2}}, y)
			}},
		{"param × activation", "MatMul ml: only activation × 2-D param is understood", "ml.w", false,
			func(b *gb, x string) string { return b.op("ml", "MatMul", nil, b.param("ml.w", b.rand(0.4, 6, 6)), x) }},
		{"channels-last conv", "Conv cl reads t with its channels on axis 3", "cl.w", false,
			func(b *gb, x string) string {
				y := b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, x)
				y = b.op("cl", "Conv", nil, y, b.param("cl.w", b.rand(0.3, 6, 6, 1, 1)))
				return b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 3, 1, 2}}, y)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newGB(tc.name, 3, 6, 6)
			x := b.cbr("c0", "x", 3, 8, 3)
			g := b.head(b.cbr("c1", tc.build(b, x), 8, 5, 3), 5)
			d, err := Analyze(g)
			if err != nil {
				t.Fatal(err)
			}
			checkCovered(t, g, d)
			found, listed := false, false
			for _, r := range d.Unprunable() {
				if strings.Contains(r.String(), tc.want) {
					found = true
					listed = listed || slices.ContainsFunc(r.Slices, func(s Slice) bool { return s.Param == tc.param })
				}
			}
			if !found {
				t.Errorf("no reason mentions %q: %v", tc.want, d.Unprunable())
			} else if !listed {
				t.Errorf("no refusal for %q lists %s: %v", tc.want, tc.param, d.Unprunable())
			}
			for _, grp := range d.Groups() {
				if strings.Contains(grp.String(), tc.param+"[") {
					t.Errorf("%s is in a prunable group: %s", tc.param, grp)
				}
			}
			if c0 := slices.ContainsFunc(d.Groups(), func(g *Group) bool { return g.Owner == "c0" }); c0 != tc.prunable {
				t.Errorf("c0 prunable: %v, want %v", c0, tc.prunable)
			}
			groupOf(t, d, "c1")
			pruneBothWays(t, g, 12)
		})
	}
}

type testIdentity struct{}

func (testIdentity) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	return [][]int{in[0]}, nil
}
func (testIdentity) Forward(_ *cpu.Ctx, in, out []*tensor.Tensor) error {
	copy(out[0].Data, in[0].Data)
	return nil
}
func (testIdentity) Backward(_ *cpu.Ctx, in, out, gout, gin []*tensor.Tensor) error { return nil }

// A ConvNeXt block: depthwise conv, channels moved last, LayerNorm (the
// op, or PyTorch's opset-13 decomposition), linear 4× expansion, GELU
// (through Erf), linear back, per-channel layer scale, channels moved back,
// residual add. LayerNorm normalises across the residual channels, which
// fixes them; the expansion's hidden features are a prunable group on the
// last axis, read by MatMul weights.
func TestChannelsLast(t *testing.T) {
	for _, decomposed := range []bool{false, true} {
		b := newGB("convnext", 3, 5, 5)
		x := b.conv("stem", "x", 3, 8, 1, 1)
		y := b.conv("dw", x, 8, 8, 3, 8)
		y = b.op("t", "Transpose", graph.Attrs{"perm": []int{0, 2, 3, 1}}, y)
		if decomposed {
			m := b.op("ln.mean", "ReduceMean", graph.Attrs{"axes": []int{-1}}, y)
			d := b.op("ln.sub", "Sub", nil, y, m)
			v := b.op("ln.var", "ReduceMean", graph.Attrs{"axes": []int{-1}}, b.op("ln.pow", "Pow", nil, d, b.param("two", ints2t(2))))
			sd := b.op("ln.sqrt", "Sqrt", nil, b.op("ln.eps", "Add", nil, v, b.param("eps", b.rand(0, 1))))
			y = b.op("ln.div", "Div", nil, d, sd)
			y = b.op("ln.add", "Add", nil, b.op("ln.mul", "Mul", nil, y, b.param("ln.s", b.rand(1, 8))), b.param("ln.b", b.rand(1, 8)))
		} else {
			y = b.op("ln", "LayerNormalization", nil, y, b.param("ln.s", b.rand(1, 8)), b.param("ln.b", b.rand(1, 8)))
		}
		y = b.op("pw1", "MatMul", nil, y, b.param("pw1.w", b.rand(0.4, 8, 32)))
		y = b.op("pw1.add", "Add", nil, b.param("pw1.b", b.rand(0.3, 32)), y)
		e := b.op("erf", "Erf", nil, b.op("gelu.div", "Div", nil, y, b.param("sqrt2", ints2t(1))))
		y = b.op("gelu", "Mul", nil, y, b.op("gelu.add", "Add", nil, e, b.param("one", ints2t(1))))
		y = b.op("pw2", "MatMul", nil, y, b.param("pw2.w", b.rand(0.2, 32, 8)))
		y = b.op("pw2.add", "Add", nil, y, b.param("pw2.b", b.rand(0.3, 8)))
		y = b.op("scale", "Mul", nil, y, b.param("gamma", b.rand(1, 8)))
		y = b.op("t2", "Transpose", graph.Attrs{"perm": []int{0, 3, 1, 2}}, y)
		g := b.head(b.op("res", "Add", nil, x, y), 8)
		d, err := Analyze(g)
		if err != nil {
			t.Fatal(err)
		}
		grp := groupOf(t, d, "pw1")
		for _, w := range []string{"pw1.w[out 0:32]", "pw1.b[0:32]", "pw2.w[in 0:32]"} {
			if !strings.Contains(grp.String(), w) {
				t.Errorf("decomposed %v: group lacks %s:\n%s", decomposed, w, grp)
			}
		}
		if len(d.Groups()) != 1 {
			t.Errorf("decomposed %v: want only the hidden group prunable, have %v", decomposed, d.Groups())
		}
		if !unprunable(d, "normalises across channels") && !unprunable(d, "a LayerNorm over channels?") {
			t.Errorf("decomposed %v: the residual channels' reason is missing: %v", decomposed, d.Unprunable())
		}
		slim := pruneBothWays(t, g, 3)
		if w := slim.Param("pw2.w").Value.Shape; w[0] >= 32 {
			t.Errorf("decomposed %v: pw2 weight %v not slimmed", decomposed, w)
		}
	}
}

// forChannels gives a channels-last value's channels the elements it
// gives the same data with channels on axis 1.
func TestForChannelsLast(t *testing.T) {
	const n, h, w, c = 2, 3, 2, 4
	last := make([]float32, n*h*w*c) // N×H×W×C
	first := make([]float32, n*c*h*w)
	for i := range last {
		last[i] = float32(i)
		b, rest := i/(h*w*c), i%(h*w*c)
		y, x, ch := rest/(w*c), rest/c%w, rest%c
		first[((b*c+ch)*h+y)*w+x] = float32(i)
	}
	pos := [][2]int{{0, 1}, {1, 2}, {3, 1}} // channel 1 spans positions 1 and 2
	tot := func(shape []int, ax int, data []float32) []float32 {
		s := make([]float32, len(pos))
		forChannels(shape, ax, pos, data, data, func(ch int, a, g []float32) {
			if len(a) != len(g) {
				t.Errorf("channel %d: %d activations, %d gradients", ch, len(a), len(g))
			}
			for _, v := range a {
				s[ch] += v
			}
		})
		return s
	}
	ta, tb := tot([]int{n, h, w, c}, 3, last), tot([]int{n, c, h, w}, 1, first)
	for ch := range ta {
		if ta[ch] != tb[ch] {
			t.Errorf("channel %d: channels-last sum %v, channels-first %v", ch, ta[ch], tb[ch])
		}
	}
}
