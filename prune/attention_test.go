package prune

import (
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// encoderBlock builds a BERT-style encoder layer as exporters write one,
// on tokens x[N,T,E]: Q, K and V projections (MatMul + Add), each split
// into heads (Reshape to N×T×H×D, Transpose), scores Q·Kᵀ scaled and
// soft-maxed over the keys, the weighted sum of V, the heads merged back
// (Transpose, Reshape to N×T×E), the output projection and a residual;
// then an MLP (E → hidden → E, ReLU) with a residual.
func encoderBlock(t int, heads, d, hidden int) *graph.Graph {
	e := heads * d
	b := newGB("encoder", t, e)
	lin := func(name, x string, in, out int) string {
		w := b.param(name+".weight", b.rand(1/math.Sqrt(float64(in)), in, out))
		y := b.op(name+".mm", "MatMul", nil, x, w)
		return b.op(name, "Add", nil, y, b.param(name+".bias", b.rand(0.3, out)))
	}
	split := func(name, x string, perm []int) string {
		r := b.op(name+".split", "Reshape", nil, x, b.param(name+".shape", ints2t(0, t, heads, d)))
		return b.op(name+".t", "Transpose", graph.Attrs{"perm": perm}, r)
	}
	q := split("q", lin("q", "x", e, e), []int{0, 2, 1, 3})
	k := split("k", lin("k", "x", e, e), []int{0, 2, 3, 1})
	v := split("v", lin("v", "x", e, e), []int{0, 2, 1, 3})
	s := b.op("scores", "MatMul", nil, q, k)
	s = b.op("scaled", "Mul", nil, s, b.param("scale", &tensor.Tensor{Shape: []int{}, Data: []float32{float32(1 / math.Sqrt(float64(d)))}}))
	p := b.op("probs", "Softmax", graph.Attrs{"axis": -1}, s)
	c := b.op("ctx", "MatMul", nil, p, v)
	c = b.op("ctx.t", "Transpose", graph.Attrs{"perm": []int{0, 2, 1, 3}}, c)
	c = b.op("ctx.merge", "Reshape", nil, c, b.param("ctx.shape", ints2t(0, t, e)))
	y := b.op("res1", "Add", nil, "x", lin("out", c, e, e))
	h := b.op("mlp.relu", "Relu", nil, lin("mlp.fc1", y, e, hidden))
	return b.done(b.op("res2", "Add", nil, y, lin("mlp.fc2", h, hidden, e)))
}

// Attention heads are dependency groups: the heads of Q, K and V and the
// output projection's input rows go together, whole heads at a time, and
// the MLP's hidden units are a group of their own; slimmed = masked.
func TestAttentionHeads(t *testing.T) {
	g := encoderBlock(5, 4, 3, 10)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	byOwner := map[string]*Group{}
	for _, grp := range d.Groups() {
		byOwner[grp.Owner] = grp
	}
	heads := byOwner["q.mm"]
	if heads == nil || heads.Channels != 4 {
		t.Fatalf("no group of 4 heads owned by q.mm: %v", d.Groups())
	}
	for _, p := range []string{"q.weight", "k.weight", "v.weight", "out.weight", "q.bias", "k.bias", "v.bias"} {
		if !strings.Contains(heads.String(), p) {
			t.Errorf("the heads' group does not hold %s: %s", p, heads)
		}
	}
	if mlp := byOwner["mlp.fc1.mm"]; mlp == nil || mlp.Channels != 10 {
		t.Errorf("MLP hidden units: %v", mlp)
	}
	slim := pruneBothWays(t, g, 4)
	// 30% of 4 heads is one: 3 heads of 3 features stay in every projection.
	for _, p := range []string{"q.weight", "k.weight", "v.weight"} {
		if s := slim.Param(p).Value.Shape; s[1] != 9 {
			t.Errorf("%s is %v after pruning one of 4 heads, want 12×9", p, s)
		}
	}
	if s := slim.Param("out.weight").Value.Shape; s[0] != 9 {
		t.Errorf("out.weight is %v, want 9×12", s)
	}
	if sh := ints(slim.Param("q.shape")); sh[2] != 3 {
		t.Errorf("q's head split reshapes to %v, want 3 heads", sh)
	}
	if sh := ints(slim.Param("ctx.shape")); sh[2] != 9 {
		t.Errorf("the merge reshapes to %v, want 9 features", sh)
	}
}
