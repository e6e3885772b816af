//go:build cgo

package onnx

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func attrStrs(name string, v ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

func tensorInit(name string, t *tensor.Tensor) *onnxpb.TensorProto {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	return floatInit(name, dims, t.Data...)
}

// TestNewOpsORT runs one-node models of the ops added for shipped models
// in ONNX Runtime, at the opsets that define them, and in shears, on the
// same random inputs: outputs agree within 1e-4 of their largest value.
// shears reads each file as opset min(opset, MaxOpset), the same node
// (the reader's opset limit is raised separately).
func TestNewOpsORT(t *testing.T) {
	needORT(t)
	r := rand.New(rand.NewPCG(31, 32))
	u := func(s ...int) *tensor.Tensor { return testutil.UniformTensor(r, s...) }
	type input struct {
		name string
		t    *tensor.Tensor
	}
	cases := []struct {
		name    string
		opset   int64
		node    *onnxpb.NodeProto
		inputs  []input // graph inputs
		inits   []input // initializers
		outputs []string
	}{
		{"Gelu", 20, node("n", "Gelu", []string{"x"}, []string{"y"}), []input{{"x", u(2, 3, 4)}}, nil, []string{"y"}},
		{"Gelu tanh", 20, node("n", "Gelu", []string{"x"}, []string{"y"}, attrStr("approximate", "tanh")), []input{{"x", u(2, 3, 4)}}, nil, []string{"y"}},
		{"Mish", 18, node("n", "Mish", []string{"x"}, []string{"y"}), []input{{"x", u(2, 3, 4)}}, nil, []string{"y"}},
		{"GroupNormalization 21", 21, node("n", "GroupNormalization", []string{"x", "s", "b"}, []string{"y"}, attrInt("num_groups", 3)),
			[]input{{"x", u(2, 6, 3, 3)}}, []input{{"s", u(6)}, {"b", u(6)}}, []string{"y"}},
		{"GroupNormalization 18", 18, node("n", "GroupNormalization", []string{"x", "s", "b"}, []string{"y"}, attrInt("num_groups", 3), attrFloat("epsilon", 1e-3)),
			[]input{{"x", u(2, 6, 5)}}, []input{{"s", u(3)}, {"b", u(3)}}, []string{"y"}},
		{"ReduceL2 13", 13, node("n", "ReduceL2", []string{"x"}, []string{"y"}, attrInts("axes", 2, 3)), []input{{"x", u(2, 3, 4, 5)}}, nil, []string{"y"}},
		{"ReduceLogSumExp 13", 13, node("n", "ReduceLogSumExp", []string{"x"}, []string{"y"}, attrInts("axes", 1), attrInt("keepdims", 0)), []input{{"x", u(2, 3, 4)}}, nil, []string{"y"}},
		{"ReduceL1 13", 13, node("n", "ReduceL1", []string{"x"}, []string{"y"}), []input{{"x", u(2, 3, 4)}}, nil, []string{"y"}},
		{"ReduceSumSquare 13", 13, node("n", "ReduceSumSquare", []string{"x"}, []string{"y"}, attrInts("axes", -1)), []input{{"x", u(2, 3, 4)}}, nil, []string{"y"}},
		{"Tile", 13, node("n", "Tile", []string{"x", "reps"}, []string{"y"}), []input{{"x", u(2, 3, 2)}}, nil, []string{"y"}},
		{"Einsum attention", 12, node("n", "Einsum", []string{"q", "k"}, []string{"y"}, attrStr("equation", "bhid,bhjd->bhij")),
			[]input{{"q", u(1, 2, 3, 4)}, {"k", u(1, 2, 5, 4)}}, nil, []string{"y"}},
		{"Einsum linear", 12, node("n", "Einsum", []string{"x", "w"}, []string{"y"}, attrStr("equation", "bsd,df->bsf")),
			[]input{{"x", u(2, 3, 4)}}, []input{{"w", u(4, 5)}}, []string{"y"}},
		{"Einsum ellipsis", 12, node("n", "Einsum", []string{"a", "b"}, []string{"y"}, attrStr("equation", "...ij,...jk->...ik")),
			[]input{{"a", u(2, 3, 2, 4)}, {"b", u(2, 3, 4, 3)}}, nil, []string{"y"}},
		{"Einsum implicit", 12, node("n", "Einsum", []string{"a"}, []string{"y"}, attrStr("equation", "ba")),
			[]input{{"a", u(3, 4)}}, nil, []string{"y"}},
		{"LSTM bidirectional peepholes", 14, node("n", "LSTM", []string{"x", "w", "r", "b", "", "h0", "c0", "p"}, []string{"y", "yh", "yc"},
			attrInt("hidden_size", 3), attrStr("direction", "bidirectional")),
			[]input{{"x", u(4, 2, 5)}, {"h0", u(2, 2, 3)}, {"c0", u(2, 2, 3)}}, []input{{"w", u(2, 12, 5)}, {"r", u(2, 12, 3)}, {"b", u(2, 24)}, {"p", u(2, 9)}},
			[]string{"y", "yh", "yc"}},
		// ORT runs no layout=1 recurrent op: the backend node tests check it.
		{"LSTM reverse clip", 14, node("n", "LSTM", []string{"x", "w", "r", "b"}, []string{"y", "yh"},
			attrInt("hidden_size", 3), attrStr("direction", "reverse"), attrFloat("clip", 0.5)),
			[]input{{"x", u(4, 2, 5)}}, []input{{"w", u(1, 12, 5)}, {"r", u(1, 12, 3)}, {"b", u(1, 24)}}, []string{"y", "yh"}},
		{"LSTM input_forget activations", 14, node("n", "LSTM", []string{"x", "w", "r"}, []string{"y"},
			attrInt("hidden_size", 3), attrInt("input_forget", 1), attrStrs("activations", "HardSigmoid", "Tanh", "Softsign")),
			[]input{{"x", u(3, 2, 5)}}, []input{{"w", u(1, 12, 5)}, {"r", u(1, 12, 3)}}, []string{"y"}},
		{"GRU bidirectional linear_before_reset", 14, node("n", "GRU", []string{"x", "w", "r", "b", "", "h0"}, []string{"y", "yh"},
			attrInt("hidden_size", 3), attrStr("direction", "bidirectional"), attrInt("linear_before_reset", 1)),
			[]input{{"x", u(4, 2, 5)}, {"h0", u(2, 2, 3)}}, []input{{"w", u(2, 9, 5)}, {"r", u(2, 9, 3)}, {"b", u(2, 18)}}, []string{"y", "yh"}},
		{"GRU reverse clip activations", 14, node("n", "GRU", []string{"x", "w", "r", "b"}, []string{"y", "yh"},
			attrInt("hidden_size", 3), attrStr("direction", "reverse"), attrFloat("clip", 0.4), attrStrs("activations", "Sigmoid", "Relu")),
			[]input{{"x", u(4, 2, 5)}}, []input{{"w", u(1, 9, 5)}, {"r", u(1, 9, 3)}, {"b", u(1, 18)}}, []string{"y", "yh"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gp := &onnxpb.GraphProto{Name: ptr("newop"), Node: []*onnxpb.NodeProto{c.node}}
			var xs []*tensor.Tensor
			for _, in := range c.inputs {
				dims := make([]any, len(in.t.Shape))
				for i, d := range in.t.Shape {
					dims[i] = d
				}
				gp.Input = append(gp.Input, vinfo(in.name, dims...))
				xs = append(xs, in.t)
			}
			for _, in := range c.inits {
				gp.Initializer = append(gp.Initializer, tensorInit(in.name, in.t))
			}
			if c.node.GetOpType() == "Tile" {
				gp.Initializer = append(gp.Initializer, int64Init("reps", []int64{3}, 2, 1, 3))
			}
			for _, o := range c.outputs {
				gp.Output = append(gp.Output, &onnxpb.ValueInfoProto{Name: ptr(o), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
					TensorType: &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(floatT))}}}})
			}
			m := modelProto(c.opset, gp)
			m.IrVersion = ptr(int64(10))
			s, err := ortref.Open(mustMarshal(t, m), ortref.Options{Threads: 1})
			if err != nil {
				t.Fatalf("ORT: %v", err)
			}
			defer s.Close()
			want, err := s.Run(xs...)
			if err != nil {
				t.Fatalf("ORT run: %v", err)
			}
			m.OpsetImport[0].Version = ptr(min(c.opset, int64(MaxOpset)))
			m.IrVersion = ptr(int64(8))
			g, err := Decode(mustMarshal(t, m), c.name)
			if err != nil {
				t.Fatal(err)
			}
			p, err := cpu.Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Forward(false, xs...)
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if e := tensor.RelDiff(got[k], want[k]); !(e <= 1e-4) || !tensor.SameShape(got[k].Shape, want[k].Shape) {
					t.Errorf("output %s: shears %v vs ORT %v, relative difference %.3g", c.outputs[k], got[k].Shape, want[k].Shape, e)
				}
			}
			// The file shears writes must be one ORT runs (an op newer
			// than opset 13 raises the written opset) and compute the same.
			out, err := Encode(g)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			s2, err := ortref.Open(out, ortref.Options{Threads: 1})
			if err != nil {
				t.Fatalf("ORT on shears' export: %v", err)
			}
			defer s2.Close()
			again, err := s2.Run(xs...)
			if err != nil {
				t.Fatalf("ORT run of shears' export: %v", err)
			}
			for k := range want {
				if e := tensor.RelDiff(again[k], want[k]); !(e <= 1e-4) {
					t.Errorf("output %s of shears' export in ORT: relative difference %.3g", c.outputs[k], e)
				}
			}
		})
	}
}
