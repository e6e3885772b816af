package onnx

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// newerCase is a one-node model in an opset-18+ form: the node reads x
// (and constant inputs), and its output is y.
type newerCase struct {
	name   string
	opset  int64
	x      []any // input dims ("N" symbolic)
	node   *onnxpb.NodeProto
	inits  []*onnxpb.TensorProto
	nOuts  int
	checks func(t *testing.T, g *graph.Graph)
	// writes is the opset the export needs (0: the opset-13 form)
	writes int64
	// then are nodes after node; the last one's outputs are the graph's
	then []*onnxpb.NodeProto
}

func (c newerCase) model() *onnxpb.ModelProto {
	last := c.node
	if len(c.then) > 0 {
		last = c.then[len(c.then)-1]
	}
	var outs []*onnxpb.ValueInfoProto
	for _, o := range last.Output {
		outs = append(outs, &onnxpb.ValueInfoProto{Name: ptr(o)})
	}
	m := modelProto(c.opset, &onnxpb.GraphProto{
		Name:        ptr(c.name),
		Node:        append([]*onnxpb.NodeProto{c.node}, c.then...),
		Initializer: c.inits,
		Input:       []*onnxpb.ValueInfoProto{vinfo("x", c.x...)},
		Output:      outs,
	})
	m.IrVersion = ptr(int64(10))
	return m
}

func attrStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func floatVec(name string, v ...float32) *onnxpb.TensorProto {
	return floatInit(name, []int64{int64(len(v))}, v...)
}

func int64Vec(name string, v ...int64) *onnxpb.TensorProto {
	return int64Init(name, []int64{int64(len(v))}, v...)
}

// newerCases are the opset 18–21 forms of ops shears has.
func newerCases() []newerCase {
	inputsOf := func(g *graph.Graph, op string) []string {
		for _, n := range g.Nodes {
			if n.Op == op {
				return n.Inputs
			}
		}
		return nil
	}
	return []newerCase{
		{name: "reducemean_axes_input_18", opset: 18, x: []any{"N", 3, 5, 6},
			node:  node("r", "ReduceMean", []string{"x", "axes"}, []string{"y"}),
			inits: []*onnxpb.TensorProto{int64Vec("axes", 2, -1)}},
		{name: "reducemax_axes_input_keepdims0_20", opset: 20, x: []any{"N", 3, 5, 6},
			node:  node("r", "ReduceMax", []string{"x", "axes"}, []string{"y"}, attrInt("keepdims", 0)),
			inits: []*onnxpb.TensorProto{int64Vec("axes", 1)}},
		{name: "reducemin_all_axes_18", opset: 18, x: []any{2, 3, 4},
			node: node("r", "ReduceMin", []string{"x"}, []string{"y"})},
		{name: "split_num_outputs_uneven_18", opset: 18, x: []any{"N", 7, 4}, nOuts: 3,
			node: node("s", "Split", []string{"x"}, []string{"a", "b", "c"}, attrInt("axis", 1), attrInt("num_outputs", 3))},
		{name: "pad_axes_reflect_18", opset: 18, x: []any{"N", 2, 5, 6},
			node:  node("p", "Pad", []string{"x", "pads", "", "axes"}, []string{"y"}, attrStr("mode", "reflect")),
			inits: []*onnxpb.TensorProto{int64Vec("pads", 1, 2, 0, 1), int64Vec("axes", -2, 3)},
			checks: func(t *testing.T, g *graph.Graph) {
				ins := inputsOf(g, "Pad")
				if len(ins) != 2 {
					t.Fatalf("Pad inputs %q, want x and full pads", ins)
				}
				if p := g.Param(ins[1]); p == nil || !slices.Equal(p.Value.Data, []float32{0, 0, 1, 2, 0, 0, 0, 1}) {
					t.Errorf("full pads %v", p)
				}
				if g.Param("axes") != nil || g.Param("pads") != nil {
					t.Error("the replaced pads and axes are still params")
				}
			}},
		{name: "pad_wrap_19", opset: 19, x: []any{"N", 2, 4, 5}, writes: 19,
			node:  node("p", "Pad", []string{"x", "pads"}, []string{"y"}, attrStr("mode", "wrap")),
			inits: []*onnxpb.TensorProto{int64Vec("pads", 0, 0, 1, 2, 0, 0, 2, 1)}},
		// Pad's wrap mode makes the export opset 19, where ReduceMean
		// takes its axes as an input, not the opset-13 attribute.
		{name: "pad_wrap_then_reducemean_19", opset: 19, x: []any{"N", 2, 4, 5}, writes: 19,
			node:  node("p", "Pad", []string{"x", "pads"}, []string{"padded"}, attrStr("mode", "wrap")),
			then:  []*onnxpb.NodeProto{node("r", "ReduceMean", []string{"padded", "axes"}, []string{"y"})},
			inits: []*onnxpb.TensorProto{int64Vec("pads", 0, 0, 1, 2, 0, 0, 2, 1), int64Vec("axes", 2, 3)}},
		// A Split into equal parts by its output count, opset-13 style,
		// says num_outputs when the export is opset 19.
		{name: "pad_wrap_then_implicit_split_19", opset: 19, x: []any{"N", 2, 4, 5}, writes: 19,
			node:  node("p", "Pad", []string{"x", "pads"}, []string{"padded"}, attrStr("mode", "wrap")),
			then:  []*onnxpb.NodeProto{node("s", "Split", []string{"padded"}, []string{"y0", "y1"}, attrInt("axis", 1), attrInt("num_outputs", 2))},
			inits: []*onnxpb.TensorProto{int64Vec("pads", 0, 0, 1, 2, 0, 0, 2, 1)},
			checks: func(t *testing.T, g *graph.Graph) {
				// Make it the opset-13 form: equal parts by output count.
				for _, n := range g.Nodes {
					if n.Op == "Split" {
						delete(n.Attrs, "num_outputs")
					}
				}
			}},
		{name: "resize_axes_scales_linear_18", opset: 18, x: []any{"N", 2, 4, 5},
			node:  node("r", "Resize", []string{"x", "", "scales"}, []string{"y"}, attrStr("mode", "linear"), attrInts("axes", 2, 3)),
			inits: []*onnxpb.TensorProto{floatVec("scales", 2, 1.5)},
			checks: func(t *testing.T, g *graph.Graph) {
				ins := inputsOf(g, "Resize")
				if p := g.Param(ins[2]); p == nil || !slices.Equal(p.Value.Data, []float32{1, 1, 2, 1.5}) {
					t.Errorf("full scales %v", p)
				}
			}},
		{name: "resize_axes_sizes_nearest_dynamic_batch_18", opset: 18, x: []any{"N", 2, 4, 5},
			node:  node("r", "Resize", []string{"x", "", "", "sizes"}, []string{"y"}, attrInts("axes", -1, -2), attrStr("keep_aspect_ratio_policy", "stretch")),
			inits: []*onnxpb.TensorProto{int64Vec("sizes", 9, 7)}},
		{name: "resize_axes_sizes_cubic_fixed_19", opset: 19, x: []any{1, 2, 4, 5},
			node:  node("r", "Resize", []string{"x", "", "", "sizes"}, []string{"y"}, attrStr("mode", "cubic"), attrInts("axes", 2, 3)),
			inits: []*onnxpb.TensorProto{int64Vec("sizes", 7, 3)},
			checks: func(t *testing.T, g *graph.Graph) {
				ins := inputsOf(g, "Resize")
				if len(ins) != 4 || g.Param(ins[3]) == nil || !slices.Equal(g.Param(ins[3]).Value.Data, []float32{1, 2, 7, 3}) {
					t.Errorf("Resize inputs %q, want full sizes 1×2×7×3", ins)
				}
			}},
		{name: "averagepool_dilations_19", opset: 19, x: []any{"N", 2, 7, 7}, writes: 19,
			node: node("p", "AveragePool", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 2, 2), attrInts("dilations", 2, 2))},
		{name: "averagepool_unit_dilations_19", opset: 19, x: []any{"N", 2, 5, 5},
			node: node("p", "AveragePool", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 3, 3), attrInts("dilations", 1, 1), attrInts("pads", 1, 1, 1, 1))},
		{name: "transpose_21", opset: 21, x: []any{"N", 2, 3, 4},
			node: node("t", "Transpose", []string{"x"}, []string{"y"}, attrInts("perm", 0, 3, 1, 2))},
		{name: "flatten_21", opset: 21, x: []any{"N", 2, 3, 4},
			node: node("f", "Flatten", []string{"x"}, []string{"y"})},
		{name: "unsqueeze_21", opset: 21, x: []any{"N", 2, 3},
			node:  node("u", "Unsqueeze", []string{"x", "axes"}, []string{"y"}),
			inits: []*onnxpb.TensorProto{int64Vec("axes", 1, -1)}},
	}
}

// runNewer decodes a case and runs it on x.
func runNewer(t *testing.T, c newerCase, x *tensor.Tensor) (*graph.Graph, []*tensor.Tensor) {
	t.Helper()
	g, err := Decode(mustMarshal(t, c.model()), c.name+".onnx")
	if err != nil {
		t.Fatal(err)
	}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	return g, out
}

// newerInput is the random input of a case, batch 2 where it is symbolic.
func newerInput(c newerCase) *tensor.Tensor {
	shape := make([]int, len(c.x))
	for i, d := range c.x {
		shape[i] = 2
		if v, ok := d.(int); ok {
			shape[i] = v
		}
	}
	return testutil.NormalTensor(testutil.NewRand(3, uint64(len(c.name))), shape...)
}

// TestNewerOpsets imports each opset 18–21 form, checks the rewrite, and
// checks that the export is written as opset 13 (17 at most) and comes
// back computing the same.
func TestNewerOpsets(t *testing.T) {
	for _, c := range newerCases() {
		t.Run(c.name, func(t *testing.T) {
			x := newerInput(c)
			g, out := runNewer(t, c, x)
			if c.checks != nil {
				c.checks(t, g)
			}
			b, err := Encode(g)
			if err != nil {
				t.Fatal(err)
			}
			m := mustUnmarshal(t, b)
			switch v := m.OpsetImport[0].GetVersion(); {
			case c.writes != 0 && v != c.writes:
				t.Errorf("written as opset %d, want %d", v, c.writes)
			case c.writes == 0 && v > 17:
				t.Errorf("written as opset %d, want the opset-13 form", v)
			}
			// IR 8 came with opsets 13 to 18, IR 9 with 19 and 20.
			if ir, v := m.GetIrVersion(), m.OpsetImport[0].GetVersion(); (v <= 18 && ir != 8) || (v >= 19 && v <= 20 && ir != 9) {
				t.Errorf("opset %d written as IR %d", v, ir)
			}
			h, err := Decode(b, "again.onnx")
			if err != nil {
				t.Fatal(err)
			}
			p, err := cpu.Compile(h)
			if err != nil {
				t.Fatal(err)
			}
			again, err := p.Forward(false, x)
			if err != nil {
				t.Fatal(err)
			}
			for k := range out {
				if !slices.Equal(out[k].Shape, again[k].Shape) || !slices.Equal(out[k].Data, again[k].Data) {
					t.Errorf("output %d differs after export at opset %d", k, m.OpsetImport[0].GetVersion())
				}
			}
		})
	}
}

func TestNewerOpsetRefusals(t *testing.T) {
	for _, c := range []struct {
		node  *onnxpb.NodeProto
		inits []*onnxpb.TensorProto
		want  []string
	}{
		{node("r", "Resize", []string{"x", "", "", "sizes"}, []string{"y"}, attrStr("keep_aspect_ratio_policy", "not_larger")),
			[]*onnxpb.TensorProto{int64Vec("sizes", 1, 2, 8, 8)}, []string{`node "r" (Resize)`, "keep_aspect_ratio_policy not_larger"}},
		{node("r", "Resize", []string{"x", "", "scales"}, []string{"y"}, attrInt("antialias", 1), attrStr("mode", "linear")),
			[]*onnxpb.TensorProto{floatVec("scales", 1, 1, 0.5, 0.5)}, []string{`node "r" (Resize)`, "antialias"}},
		{node("r", "Resize", []string{"x", "", "scales"}, []string{"y"}, attrStr("coordinate_transformation_mode", "half_pixel_symmetric")),
			[]*onnxpb.TensorProto{floatVec("scales", 1, 1, 2, 2)}, []string{`node "r" (Resize)`, "half_pixel_symmetric"}},
		{node("r", "Resize", []string{"x", "", "scales"}, []string{"y"}, attrInts("axes", 2, 2)),
			[]*onnxpb.TensorProto{floatVec("scales", 2, 2)}, []string{`node "r" (Resize)`, "twice"}},
		{node("r", "Resize", []string{"x", "", "scales"}, []string{"y"}, attrInts("axes", 2, 3)),
			[]*onnxpb.TensorProto{floatVec("scales", 2, 2, 2)}, []string{`node "r" (Resize)`, "3 values for 2 axes"}},
		{node("p", "Pad", []string{"x", "pads", "", "axes"}, []string{"y"}),
			[]*onnxpb.TensorProto{int64Vec("pads", 1, 1), int64Vec("axes", 4)}, []string{`node "p" (Pad)`, "axis 4 is out of range"}},
		{node("p", "Pad", []string{"x", "pads", "", "axes"}, []string{"y"}),
			[]*onnxpb.TensorProto{int64Vec("pads", 1, 1, 1), int64Vec("axes", 3)}, []string{`node "p" (Pad)`, "3 values for 1 axes"}},
		{node("c", "Col2Im", []string{"x", "a", "b"}, []string{"y"}), nil, []string{"unsupported node", "Col2Im (c)"}},
	} {
		m := newerCase{name: "bad", opset: 19, x: []any{"N", 2, 4, 4}, node: c.node, inits: c.inits}.model()
		msg := decodeErr(t, mustMarshal(t, m), c.want...)
		if strings.Contains(msg, "\n") {
			t.Errorf("error on several lines: %q", msg)
		}
	}
}

// IR 10 adds fields the reader does not know (NodeProto.overload and
// metadata_props, GraphProto.metadata_props): a file that sets them reads
// as one that does not.
func TestIR10Fields(t *testing.T) {
	m := reluModel()
	m.IrVersion = ptr(int64(10))
	m.OpsetImport[0].Version = ptr(int64(21))
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "key")
	entry = protowire.AppendTag(entry, 2, protowire.BytesType)
	entry = protowire.AppendString(entry, "value")
	var nodeExtra []byte
	nodeExtra = protowire.AppendTag(nodeExtra, 8, protowire.BytesType) // overload
	nodeExtra = protowire.AppendString(nodeExtra, "v2")
	nodeExtra = protowire.AppendTag(nodeExtra, 9, protowire.BytesType) // metadata_props
	nodeExtra = protowire.AppendBytes(nodeExtra, entry)
	m.Graph.Node[0].ProtoReflect().SetUnknown(nodeExtra)
	graphExtra := protowire.AppendTag(nil, 16, protowire.BytesType) // metadata_props
	graphExtra = protowire.AppendBytes(graphExtra, entry)
	m.Graph.ProtoReflect().SetUnknown(graphExtra)
	g, err := Decode(mustMarshal(t, m), "ir10.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Op != "Relu" {
		t.Fatalf("nodes %v", g.Nodes)
	}
}

// Tensors of the element types IR 9 and 10 added (float8, int4) are
// refused by name, not misread.
func TestIR10ElementTypes(t *testing.T) {
	for _, c := range []struct {
		dt   int32
		name string
	}{{17, "FLOAT8E4M3FN"}, {19, "FLOAT8E5M2"}, {21, "UINT4"}, {22, "INT4"}} {
		m := reluModel()
		m.IrVersion = ptr(int64(10))
		m.OpsetImport[0].Version = ptr(int64(21))
		m.Graph.Initializer = []*onnxpb.TensorProto{{Name: ptr("w"), Dims: []int64{2}, DataType: ptr(c.dt), RawData: []byte{1, 2}}}
		m.Graph.Node = append(m.Graph.Node, node("add", "Add", []string{"y", "w"}, []string{"z"}))
		m.Graph.Output[0] = vinfo("z", "batch", 4)
		decodeErr(t, mustMarshal(t, m), `initializer "w"`, c.name)
	}
}
