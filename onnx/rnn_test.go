package onnx

import (
	"slices"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// TestRNNImport: an LSTM's activations (a STRINGS attribute) survive
// import and export, and a layout=1 LSTM is imported as layout 0 between
// Transposes that compute the same.
func TestRNNImport(t *testing.T) {
	w := make([]float32, 4*2*3)
	r := make([]float32, 4*2*2)
	for i := range w {
		w[i] = float32(i%7)/7 - 0.4
	}
	for i := range r {
		r[i] = float32(i%5)/5 - 0.3
	}
	acts := &onnxpb.AttributeProto{Name: ptr("activations"), Type: onnxpb.AttributeProto_STRINGS.Enum(),
		Strings: [][]byte{[]byte("HardSigmoid"), []byte("Tanh"), []byte("Softsign")}}
	model := func(layout int64, x []int) []byte {
		return mustMarshal(t, modelProto(14, &onnxpb.GraphProto{
			Name: ptr("lstm"),
			Node: []*onnxpb.NodeProto{node("lstm", "LSTM", []string{"x", "w", "r"}, []string{"y", "yh"},
				attrInt("hidden_size", 2), attrInt("layout", layout), acts)},
			Initializer: []*onnxpb.TensorProto{floatInit("w", []int64{1, 8, 3}, w...), floatInit("r", []int64{1, 8, 2}, r...)},
			Input:       []*onnxpb.ValueInfoProto{vinfo("x", x[0], x[1], x[2])},
			Output:      []*onnxpb.ValueInfoProto{vinfo("y"), vinfo("yh")},
		}))
	}
	run := func(g *graph.Graph, x *tensor.Tensor) []*tensor.Tensor {
		t.Helper()
		p, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		outs, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		return []*tensor.Tensor{outs[0].Clone(), outs[1].Clone()}
	}
	// x: seq 3, batch 2, input 3.
	x := &tensor.Tensor{Shape: []int{3, 2, 3}, Data: make([]float32, 18)}
	for i := range x.Data {
		x.Data[i] = float32(i%4) - 1.5
	}
	g0, err := Decode(model(0, []int{3, 2, 3}), "lstm")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := g0.Nodes[0].Attrs["activations"].([]string); !slices.Equal(got, []string{"HardSigmoid", "Tanh", "Softsign"}) {
		t.Fatalf("activations imported as %v", g0.Nodes[0].Attrs["activations"])
	}
	want := run(g0, x)
	b, err := Encode(g0)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b, "lstm")
	if err != nil {
		t.Fatal(err)
	}
	g2 := g0.Clone() // output shapes are inferred on export
	for i := range g2.Outputs {
		g2.Outputs[i].Shape = back.Outputs[i].Shape
	}
	if d := diffGraphs(g2, back); d != "" {
		t.Errorf("export and re-import differ:\n%s", d)
	}
	// Batch first: x [2, 3, 3], y [2, 3, 1, 2], y_h [2, 1, 2].
	g1, err := Decode(model(1, []int{2, 3, 3}), "lstm")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g1.Nodes {
		if _, ok := n.Attrs["layout"]; ok {
			t.Errorf("node %s still has a layout attribute", n.Name)
		}
	}
	xb := &tensor.Tensor{Shape: []int{2, 3, 3}, Data: make([]float32, 18)}
	for s := range 3 {
		for bi := range 2 {
			copy(xb.Data[(bi*3+s)*3:(bi*3+s+1)*3], x.Data[(s*2+bi)*3:(s*2+bi+1)*3])
		}
	}
	got := run(g1, xb)
	for s := range 3 {
		for bi := range 2 {
			if a, b := got[0].Data[(bi*3+s)*2:(bi*3+s+1)*2], want[0].Data[(s*2+bi)*2:(s*2+bi+1)*2]; !slices.Equal(a, b) {
				t.Errorf("layout 1: y[%d, %d] = %v, layout 0 gives %v", bi, s, a, b)
			}
		}
	}
	if !slices.Equal(got[1].Data, want[1].Data) || !slices.Equal(got[1].Shape, []int{2, 1, 2}) {
		t.Errorf("layout 1: y_h %v %v, layout 0 gives %v", got[1].Shape, got[1].Data, want[1].Data)
	}
}
