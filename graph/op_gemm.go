package graph

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

// GemmAttrs are Gemm's attributes.
type GemmAttrs struct {
	Alpha, Beta    float32
	TransA, TransB bool
}

// GemmDims are a Gemm's sizes for given input shapes.
type GemmDims struct {
	M, N, K      int
	CRows, CCols int // C's broadcast shape (1 or M, 1 or N; 0 without C)
}

func init() {
	RegisterOp(OpSpec{Type: "Gemm", Infer: inferWith(ParseGemm), Weight: gemmWeight, Params: gemmParams, MACs: gemmMACs,
		Init: linearInit(gemmWeight, true)})
}

// ParseGemm decodes a Gemm node's attributes, for the spec's Infer and for
// the kernels, which build from the decoded form.
func ParseGemm(n *Node) (GemmAttrs, error) {
	r := AttrReader{A: n.Attrs}
	a := GemmAttrs{Alpha: r.Float("alpha", 1), Beta: r.Float("beta", 1),
		TransA: r.Int("transA", 0) != 0, TransB: r.Int("transB", 0) != 0}
	return a, r.Err
}

// gemmWeight: B is out×in with transB=1 (a linear layer), in×out without.
// This is the one place that reads transB for the rest of shears.
func gemmWeight(n *Node, in []Operand) (WeightUse, bool) {
	if len(in) < 2 {
		return WeightUse{}, false
	}
	if tb, _ := n.Attrs.Int("transB", 0); tb != 0 {
		return WeightUse{Input: 1, Out: 0, In: 1, Groups: 1}, true
	}
	return WeightUse{Input: 1, Out: 1, In: 0, Groups: 1}, true
}

// gemmParams: B is the weight, C the bias when 1-D (out) or 2-D (1×out);
// both train. A scalar C is a constant.
func gemmParams(n *Node, in []Operand) []ParamUse {
	w, ok := gemmWeight(n, in)
	if !ok {
		return nil
	}
	roles := make([]AxisRole, 2)
	roles[w.Out], roles[w.In] = AxisOut, AxisIn
	uses := []ParamUse{{Input: w.Input, Kind: ParamWeight, Axes: roles, Trainable: true}}
	if c := paramAt(in, 2); c != nil {
		switch c.Value.Rank() {
		case 1:
			uses = append(uses, ParamUse{Input: 2, Kind: ParamBias, Axes: []AxisRole{AxisOut}, Trainable: true})
		case 2:
			uses = append(uses, ParamUse{Input: 2, Kind: ParamBias, Axes: []AxisRole{AxisNone, AxisOut}, Trainable: true})
		}
	}
	return uses
}

// gemmMACs: every output element is a dot product over A's inner axis.
func gemmMACs(n *Node, in, out [][]int) int {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	a := in[0]
	k := a[1]
	if t, _ := n.Attrs.Int("transA", 0); t != 0 {
		k = a[0]
	}
	return NumElems(out[0]) * k
}

// Infer is Gemm's shape inference.
func (g GemmAttrs) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := g.Dims(in)
	if err != nil {
		return nil, err
	}
	return [][]int{{d.M, d.N}}, nil
}

// Dims checks A, B and C against the attributes and sizes the product.
func (g GemmAttrs) Dims(in [][]int) (GemmDims, error) {
	var d GemmDims
	if err := WantInputs(in, 2, 3); err != nil {
		return d, err
	}
	a, b := in[0], in[1]
	if len(a) != 2 || len(b) != 2 {
		return d, ShapeErr("A and B must be 2-D, have %v and %v", a, b)
	}
	m, ka := a[0], a[1]
	if g.TransA {
		m, ka = a[1], a[0]
	}
	kb, n := b[0], b[1]
	if g.TransB {
		kb, n = b[1], b[0]
	}
	if ka != kb {
		return d, ShapeErr("inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", a, g.TransA, b, g.TransB)
	}
	d.M, d.N, d.K = m, n, ka
	if len(in) == 3 && in[2] != nil {
		c := in[2]
		switch len(c) {
		case 0:
			d.CRows, d.CCols = 1, 1
		case 1:
			d.CRows, d.CCols = 1, c[0]
		case 2:
			d.CRows, d.CCols = c[0], c[1]
		default:
			return d, ShapeErr("C must have at most 2 dims, have %v", c)
		}
		if (d.CRows != 1 && d.CRows != m) || (d.CCols != 1 && d.CCols != n) {
			return d, ShapeErr("C %v does not broadcast to %d×%d", c, m, n)
		}
	}
	return d, nil
}

// MatMulDims are a MatMul's sizes for given input shapes.
type MatMulDims struct {
	M, N, K    int
	Batches    int
	aVec, bVec bool
	// ab, bb are the operands' batch shapes, batch their broadcast.
	Ab, Bb, Batch []int
	Out           []int
}

func init() {
	RegisterOp(OpSpec{Type: "MatMul", Infer: inferMatMul,
		Weight: matMulWeight, Params: matMulParams, MACs: matMulMACs, Init: linearInit(matMulWeight, false)})
}

// matMulWeight: a 2-D param B of x·B is a linear layer's in×out weight;
// MatMul by anything else has none.
func matMulWeight(n *Node, in []Operand) (WeightUse, bool) {
	if b := paramAt(in, 1); b == nil || b.Value.Rank() != 2 {
		return WeightUse{}, false
	}
	return WeightUse{Input: 1, Out: 1, In: 0, Groups: 1}, true
}

// matMulParams: the weight trains; other param operands are constants.
func matMulParams(n *Node, in []Operand) []ParamUse {
	w, ok := matMulWeight(n, in)
	if !ok {
		return nil
	}
	return []ParamUse{{Input: w.Input, Kind: ParamWeight, Axes: []AxisRole{AxisIn, AxisOut}, Trainable: true}}
}

// matMulMACs: every output element is a dot product over A's last axis.
func matMulMACs(n *Node, in, out [][]int) int {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	a := in[0]
	return NumElems(out[0]) * a[len(a)-1]
}

// inferMatMul is MatMul's shape inference.
func inferMatMul(_ *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	d, err := MatMulShape(in)
	if err != nil {
		return nil, err
	}
	return [][]int{d.Out}, nil
}

// MatMulShape checks the operands (numpy semantics) and sizes the
// product.
func MatMulShape(in [][]int) (MatMulDims, error) {
	var mm MatMulDims
	if err := WantInputs(in, 2, 2); err != nil {
		return mm, err
	}
	a, b := in[0], in[1]
	if len(a) == 0 || len(b) == 0 {
		return mm, fmt.Errorf("MatMul operands must have at least 1 dim")
	}
	mm.aVec, mm.bVec = len(a) == 1, len(b) == 1
	if mm.aVec {
		a = []int{1, a[0]}
	}
	if mm.bVec {
		b = []int{b[0], 1}
	}
	mm.M, mm.K = a[len(a)-2], a[len(a)-1]
	if b[len(b)-2] != mm.K {
		return mm, ShapeErr("inner dimensions differ: %v · %v", in[0], in[1])
	}
	mm.N = b[len(b)-1]
	ab, bb := a[:len(a)-2], b[:len(b)-2]
	batch, err := matmulBroadcast(ab, bb)
	if err != nil {
		return mm, ShapeErr("batch dims of %v and %v do not broadcast", in[0], in[1])
	}
	mm.Batches = ShapeProd(batch)
	mm.Ab, mm.Bb, mm.Batch = ab, bb, batch
	out := append([]int(nil), batch...)
	if !mm.aVec {
		out = append(out, mm.M)
	}
	if !mm.bVec {
		out = append(out, mm.N)
	}
	mm.Out = out
	return mm, nil
}

// matmulBroadcast applies numpy broadcasting to two shapes.
func matmulBroadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}
