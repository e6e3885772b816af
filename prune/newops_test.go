package prune

import (
	"testing"

	"github.com/shearsml/shears/graph"
)

// groupNormNet is conv(3→8) → GroupNormalization(num_groups) → Relu →
// conv(8→6) → head.
func groupNormNet(groups int) *graph.Graph {
	b := newGB("groupnorm", 3, 6, 6)
	c1 := b.conv("conv1", "x", 3, 8, 3, 1)
	s, sh := b.rand(0.5, 8), b.rand(0.5, 8)
	for i := range s.Data {
		s.Data[i] += 1
	}
	gn := b.op("gn", "GroupNormalization", graph.Attrs{"num_groups": groups, "epsilon": float32(1e-5)},
		c1, b.param("gn.scale", s), b.param("gn.bias", sh))
	y := b.conv("conv2", b.op("relu", "Relu", nil, gn), 8, 6, 3, 1)
	return b.head(y, 6)
}

// A GroupNormalization prunes whole groups: conv1's 8 filters are 4
// units of 2, and num_groups follows.
func TestGroupNormPrunesWholeGroups(t *testing.T) {
	g := groupNormNet(4)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "conv1"); grp.Channels != 4 {
		t.Fatalf("conv1's group has %d units, want 4 (one per normalisation group): %s", grp.Channels, grp)
	}
	slim := pruneBothWays(t, g, 5)
	// 30% of 4 groups is one group: 3 are left.
	if n, _ := slim.Node("gn").Attrs.Int("num_groups", 0); n != 3 {
		t.Errorf("slimmed num_groups %d, want 3", n)
	}
	if s := slim.Param("gn.scale").Value.Shape; s[0] != 6 {
		t.Errorf("slimmed scale has shape %v, want [6]", s)
	}
	// One channel per group: channels prune one by one.
	d, err = Analyze(groupNormNet(8))
	if err != nil {
		t.Fatal(err)
	}
	if grp := groupOf(t, d, "conv1"); grp.Channels != 8 {
		t.Errorf("num_groups 8: conv1's group has %d units, want 8", grp.Channels)
	}
	pruneBothWays(t, groupNormNet(8), 6)
}

// One group normalises every channel together: conv1 is refused, with
// the reason.
func TestGroupNormOneGroupIsOpaque(t *testing.T) {
	d, err := Analyze(groupNormNet(1))
	if err != nil {
		t.Fatal(err)
	}
	if !unprunable(d, "normalises all its channels together (num_groups 1)") {
		t.Errorf("num_groups 1: no refusal naming it; unprunable: %v", d.Unprunable())
	}
	for _, grp := range d.Groups() {
		if grp.Owner == "conv1" {
			t.Errorf("num_groups 1: conv1 is prunable: %s", grp)
		}
	}
}

// An L2 norm over the spatial axes (a normalised embedding's pooling)
// passes channels; one over the channels fixes them.
func TestReduceL2Rule(t *testing.T) {
	b := newGB("l2", 3, 4, 4)
	c1 := b.conv("conv1", "x", 3, 8, 3, 1)
	pooled := b.op("l2", "ReduceL2", graph.Attrs{"axes": []int{2, 3}, "keepdims": 1}, c1)
	g := b.head(b.conv("conv2", pooled, 8, 6, 1, 1), 6)
	pruneBothWays(t, g, 3)

	b = newGB("l2c", 3, 4, 4)
	c1 = b.conv("conv1", "x", 3, 8, 3, 1)
	norm := b.op("l2", "ReduceL2", graph.Attrs{"axes": []int{1}, "keepdims": 1}, c1)
	d, err := Analyze(b.head(b.op("div", "Div", nil, c1, norm), 8))
	if err != nil {
		t.Fatal(err)
	}
	if !unprunable(d, "ReduceL2 l2 reduces over the batch or channel axis") {
		t.Errorf("ReduceL2 over channels: no refusal naming it; unprunable: %v", d.Unprunable())
	}
}

// A Tile along the spatial axes passes channels; along the channels it
// is opaque, with the reason.
func TestTileRule(t *testing.T) {
	b := newGB("tile", 3, 4, 4)
	c1 := b.conv("conv1", "x", 3, 8, 3, 1)
	tiled := b.op("tile", "Tile", nil, c1, b.param("reps", ints2t(1, 1, 2, 3)))
	b.g.Param("reps").Trainable = false
	pruneBothWays(t, b.head(b.conv("conv2", tiled, 8, 6, 3, 1), 6), 4)

	b = newGB("tilec", 3, 4, 4)
	c1 = b.conv("conv1", "x", 3, 8, 3, 1)
	tiled = b.op("tile", "Tile", nil, c1, b.param("reps", ints2t(1, 2, 1, 1)))
	b.g.Param("reps").Trainable = false
	d, err := Analyze(b.head(b.conv("conv2", tiled, 16, 6, 3, 1), 6))
	if err != nil {
		t.Fatal(err)
	}
	if !unprunable(d, "Tile tile repeats the channel axis (axis 1) 2 times") {
		t.Errorf("Tile over channels: no refusal naming it; unprunable: %v", d.Unprunable())
	}
}

// An Einsum that is a linear layer prunes like a Gemm, with its weight
// either way round; an attention product is opaque, naming its equation.
func TestEinsumRule(t *testing.T) {
	for _, c := range []struct {
		eq        string
		transpose bool
	}{{"nd,df->nf", false}, {"nd,fd->nf", true}} {
		b := newGB("einsum", 3, 6, 6)
		c1 := b.conv("conv1", "x", 3, 8, 3, 1)
		flat := b.op("flatten", "Flatten", graph.Attrs{"axis": 1}, b.op("gap", "GlobalAveragePool", nil, c1))
		w1, w2 := b.rand(0.3, 8, 10), b.rand(0.3, 10, 4)
		if c.transpose {
			w1, w2 = b.rand(0.3, 10, 8), b.rand(0.3, 4, 10)
		}
		e1 := b.op("fc1", "Einsum", graph.Attrs{"equation": c.eq}, flat, b.param("fc1.w", w1))
		e2 := b.op("fc2", "Einsum", graph.Attrs{"equation": c.eq}, b.op("relu", "Relu", nil, e1), b.param("fc2.w", w2))
		g := b.done(e2)
		d, err := Analyze(g)
		if err != nil {
			t.Fatal(err)
		}
		if grp := groupOf(t, d, "fc1"); grp.Channels != 10 {
			t.Errorf("%s: fc1's group has %d channels, want 10", c.eq, grp.Channels)
		}
		slim := pruneBothWays(t, g, 7)
		axis := 1
		if c.transpose {
			axis = 0
		}
		if s := slim.Param("fc1.w").Value.Shape; s[axis] != 7 || s[1-axis] != 6 {
			t.Errorf("%s: slimmed fc1.w has shape %v", c.eq, s)
		}
	}

	b := newGB("attn", 4, 6)
	s := b.op("scores", "Einsum", graph.Attrs{"equation": "bid,bjd->bij"}, "x", "x")
	d, err := Analyze(b.done(b.op("mix", "Einsum", graph.Attrs{"equation": "bij,bjd->bid"}, s, "x")))
	if err != nil {
		t.Fatal(err)
	}
	if !unprunable(d, `Einsum scores ("bid,bjd->bij"): only a linear layer`) {
		t.Errorf("attention Einsum: no refusal naming its equation; unprunable: %v", d.Unprunable())
	}
}

// An LSTM is opaque, with the reason; the conv before it is refused.
func TestRecurrentOpaque(t *testing.T) {
	for _, op := range []string{"LSTM", "GRU"} {
		g := map[string]int{"LSTM": 4, "GRU": 3}[op]
		b := newGB("rnn", 3, 8)
		c := b.op("conv1", "Conv", graph.Attrs{"kernel_shape": []int{1}}, "x", b.param("conv1.weight", b.rand(0.3, 6, 3, 1)))
		seq := b.op("perm", "Transpose", graph.Attrs{"perm": []int{2, 0, 1}}, c) // [8, N, 6]: time first
		y := b.op("rnn", op, graph.Attrs{"hidden_size": 4}, seq, b.param("rnn.w", b.rand(0.3, 1, g*4, 6)), b.param("rnn.r", b.rand(0.3, 1, g*4, 4)))
		d, err := Analyze(b.done(y))
		if err != nil {
			t.Fatal(err)
		}
		if !unprunable(d, op+" rnn: its hidden units feed back into every gate") {
			t.Errorf("%s: no refusal naming it; unprunable: %v", op, d.Unprunable())
		}
	}
}
