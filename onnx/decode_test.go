package onnx

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

func mustUnmarshal(t *testing.T, b []byte) *onnxpb.ModelProto {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func mustMarshal(t testing.TB, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Builders for hand-made ModelProtos.

func vinfo(name string, dims ...any) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(floatT)), Shape: &onnxpb.TensorShapeProto{}}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case int64:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		}
		tt.Shape.Dim = append(tt.Shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{Name: ptr(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

func node(name, op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: ptr(op), Input: in, Output: out, Attribute: attrs}
	if name != "" {
		n.Name = ptr(name)
	}
	return n
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &v}
}

func floatInit(name string, dims []int64, v ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: ptr(name), Dims: dims, DataType: ptr(int32(floatT)), FloatData: v}
}

func modelProto(opset int64, g *onnxpb.GraphProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   ptr(int64(7)),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: ptr(""), Version: &opset}},
		Graph:       g,
	}
}

// reluModel is x → Relu → y, to be spoiled by the tests.
func reluModel() *onnxpb.ModelProto {
	return modelProto(13, &onnxpb.GraphProto{
		Name:   ptr("relu"),
		Node:   []*onnxpb.NodeProto{node("relu", "Relu", []string{"x"}, []string{"y"})},
		Input:  []*onnxpb.ValueInfoProto{vinfo("x", "batch", 4)},
		Output: []*onnxpb.ValueInfoProto{vinfo("y", "batch", 4)},
	})
}

// decodeErr decodes b and returns the error text, failing when there is
// none or when it lacks the "onnx: m.onnx: " prefix or want.
func decodeErr(t *testing.T, b []byte, want ...string) string {
	t.Helper()
	g, err := Decode(b, "m.onnx")
	if err == nil {
		t.Fatalf("decoded without error (graph %q with %d nodes); want an error containing %q", g.Name, len(g.Nodes), want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "onnx: m.onnx: ") {
		t.Errorf("error %q lacks the onnx: m.onnx: prefix", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
	return msg
}

func TestDecodeSimple(t *testing.T) {
	m := reluModel()
	m.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: ptr("author"), Value: ptr("me")}}
	g, err := Decode(mustMarshal(t, m), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "relu" || len(g.Nodes) != 1 || g.Meta["author"] != "me" ||
		!slices.Equal(g.Inputs[0].Shape, []int{-1, 4}) || !slices.Equal(g.Outputs[0].Shape, []int{-1, 4}) {
		t.Fatalf("decoded %+v", g)
	}
}

func TestNodeNames(t *testing.T) {
	m := reluModel()
	m.Graph.Node = []*onnxpb.NodeProto{
		node("", "Relu", []string{"x"}, []string{"a"}),
		node("Relu_0", "Relu", []string{"a"}, []string{"b"}), // taken by a later explicit name
		node("dup", "Relu", []string{"b"}, []string{"c"}),
		node("dup", "Relu", []string{"c"}, []string{"y"}),
	}
	g, err := Decode(mustMarshal(t, m), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range g.Nodes {
		names = append(names, n.Name)
	}
	if want := []string{"Relu_1", "Relu_0", "dup", "Relu_2"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
}

func TestUnsupportedOps(t *testing.T) {
	m := reluModel()
	m.Graph.Node = []*onnxpb.NodeProto{
		node("lstm_1", "LSTMx", []string{"x"}, []string{"a"}),
		node("gru_0", "GRUx", []string{"a"}, []string{"b"}),
		node("relu", "Relu", []string{"b"}, []string{"c"}),
		node("gru_3", "GRUx", []string{"c"}, []string{"y"}),
	}
	msg := decodeErr(t, mustMarshal(t, m))
	if want := "onnx: m.onnx: 3 unsupported nodes: LSTMx (lstm_1), GRUx (gru_0, gru_3)"; msg != want {
		t.Fatalf("error\n%s\nwant\n%s", msg, want)
	}
	m = reluModel()
	m.Graph.Node[0].Domain = ptr("com.microsoft")
	decodeErr(t, mustMarshal(t, m), "1 unsupported node: com.microsoft.Relu (relu)")
	m.Graph.Node[0].Domain = ptr("ai.onnx")
	if _, err := Decode(mustMarshal(t, m), "m.onnx"); err != nil {
		t.Fatal(err)
	}
}

func TestVersions(t *testing.T) {
	for _, c := range []struct {
		ir, opset int64
		domain    string
		want      string
	}{
		{11, 13, "", "IR version 11"},
		{2, 13, "", "IR version 2"},
		{10, 22, "", "opset 22"},
		{8, 5, "", "opset 5"},
		{8, 13, "ai.onnx.ml", "no default-domain"},
	} {
		m := reluModel()
		m.IrVersion = &c.ir
		m.OpsetImport = []*onnxpb.OperatorSetIdProto{{Domain: &c.domain, Version: &c.opset}}
		decodeErr(t, mustMarshal(t, m), c.want)
	}
	m := reluModel()
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: ptr("ai.onnx.ml"), Version: ptr(int64(3))})
	m.IrVersion = ptr(int64(3))
	if _, err := Decode(mustMarshal(t, m), "m.onnx"); err != nil {
		t.Fatal(err)
	}
}

func TestFormatVersion(t *testing.T) {
	m := reluModel()
	m.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: ptr(FormatKey), Value: ptr("2")}}
	decodeErr(t, mustMarshal(t, m), "newer shears")
	m.MetadataProps[0].Value = ptr("x")
	decodeErr(t, mustMarshal(t, m), FormatKey)
	m.MetadataProps[0].Value = ptr("1")
	g, err := Decode(mustMarshal(t, m), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Meta[FormatKey]; ok {
		t.Fatal("format key kept in Meta")
	}
}

func TestForeignFiles(t *testing.T) {
	decodeErr(t, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"), "not an ONNX model", "PNG")
	decodeErr(t, []byte("name,value\nconv1,3\n"), "not an ONNX model", "text file")
	decodeErr(t, []byte("PK\x03\x04rest of a zip"), "zip")
	decodeErr(t, nil, "empty")
	decodeErr(t, []byte{0x08}, "not an ONNX model")
	// A valid protobuf that is not a model.
	decodeErr(t, mustMarshal(t, &onnxpb.ModelProto{ProducerName: ptr("x")}), "not an ONNX model")
}

func TestTruncated(t *testing.T) {
	full, err := Encode(smallCNN())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Decode(full, "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for n := 0; n < len(full); n++ {
		g, err := Decode(full[:n], "m.onnx")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "onnx: m.onnx: ") {
				t.Fatalf("prefix %d: error %q lacks the prefix", n, err)
			}
			continue
		}
		// Cutting between top-level fields can leave a valid model with
		// fewer metadata entries: nothing else may be lost.
		ok++
		g.Meta, ref.Meta = nil, nil
		if d := diffGraphs(ref, g); d != "" {
			t.Fatalf("prefix %d of %d decoded to a different graph:\n%s", n, len(full), d)
		}
	}
	if ok > 3 {
		t.Fatalf("%d truncated files decoded", ok)
	}
}

func TestRandomBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seed, _ := Encode(smallCNN())
	for i := 0; i < 3000; i++ {
		var b []byte
		if i%2 == 0 {
			b = make([]byte, r.IntN(200))
			for k := range b {
				b[k] = byte(r.Uint32())
			}
		} else {
			// Flip a few bytes of a valid model.
			b = slices.Clone(seed)
			for k := 0; k < 1+r.IntN(4); k++ {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
		}
		if _, err := Decode(b, "m.onnx"); err != nil && !strings.HasPrefix(err.Error(), "onnx: m.onnx: ") {
			t.Fatalf("error %q lacks the prefix", err)
		}
	}
}

// allocDuring reports the bytes allocated while f runs.
func allocDuring(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestHugeTensor(t *testing.T) {
	for _, c := range []struct {
		dims []int64
		want string
	}{
		{[]int64{1 << 20, 1 << 20}, "more than"},          // 2^40 elements
		{[]int64{1 << 40}, "too large"},                   // one absurd dim
		{[]int64{1 << 62, 1 << 62}, "too large"},          // an overflowing product
		{[]int64{3037000500, 3037000500, 2}, "too large"}, // product overflows int64
		{[]int64{-1}, "negative"},
		{[]int64{0, 1 << 40}, "too large"},
	} {
		m := reluModel()
		m.Graph.Initializer = []*onnxpb.TensorProto{{Name: ptr("w"), Dims: c.dims, DataType: ptr(int32(floatT)), RawData: []byte{1, 2, 3, 4}}}
		b := mustMarshal(t, m)
		var msg string
		if a := allocDuring(func() { msg = decodeErr(t, b, `initializer "w"`, c.want) }); a > 1<<20 {
			t.Errorf("dims %v: decoding allocated %d bytes", c.dims, a)
		}
		_ = msg
	}
}

func TestTensorData(t *testing.T) {
	f16 := func(v ...uint16) []byte {
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
		return b
	}
	i64 := func(v ...int64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
		}
		return b
	}
	for _, c := range []struct {
		name string
		tp   *onnxpb.TensorProto
		want []float32
		err  string
	}{
		{"float raw", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{2}, RawData: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}}, []float32{1, -2}, ""},
		{"float typed", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{2}, FloatData: []float32{1, -2}}, []float32{1, -2}, ""},
		{"double", &onnxpb.TensorProto{DataType: ptr(int32(11)), Dims: []int64{2}, DoubleData: []float64{0.5, 3}}, []float32{0.5, 3}, ""},
		{"float16", &onnxpb.TensorProto{DataType: ptr(int32(10)), Dims: []int64{5}, RawData: f16(0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555)},
			[]float32{1, -2, 5.9604645e-08, float32(math.Inf(1)), 0.33325195}, ""},
		{"float16 typed", &onnxpb.TensorProto{DataType: ptr(int32(10)), Dims: []int64{1}, Int32Data: []int32{0x3800}}, []float32{0.5}, ""},
		{"bfloat16", &onnxpb.TensorProto{DataType: ptr(int32(16)), Dims: []int64{2}, RawData: f16(0x3f80, 0xc040)}, []float32{1, -3}, ""},
		{"int8", &onnxpb.TensorProto{DataType: ptr(int32(3)), Dims: []int64{2}, RawData: []byte{0xff, 7}}, []float32{-1, 7}, ""},
		{"uint8 typed", &onnxpb.TensorProto{DataType: ptr(int32(2)), Dims: []int64{2}, Int32Data: []int32{255, 7}}, []float32{255, 7}, ""},
		{"bool", &onnxpb.TensorProto{DataType: ptr(int32(9)), Dims: []int64{3}, RawData: []byte{1, 0, 1}}, []float32{1, 0, 1}, ""},
		{"int16", &onnxpb.TensorProto{DataType: ptr(int32(5)), Dims: []int64{1}, RawData: f16(0xfffe)}, []float32{-2}, ""},
		{"int32 typed", &onnxpb.TensorProto{DataType: ptr(int32(6)), Dims: []int64{2}, Int32Data: []int32{-5, 1 << 20}}, []float32{-5, 1 << 20}, ""},
		{"int64 raw", &onnxpb.TensorProto{DataType: ptr(int32(7)), Dims: []int64{3}, RawData: i64(-1, 3, math.MaxInt64)}, []float32{-1, 3, 9.223372e18}, ""},
		{"int64 typed", &onnxpb.TensorProto{DataType: ptr(int32(7)), Dims: []int64{1}, Int64Data: []int64{42}}, []float32{42}, ""},
		{"uint64", &onnxpb.TensorProto{DataType: ptr(int32(13)), Dims: []int64{1}, Uint64Data: []uint64{1 << 40}}, []float32{1 << 40}, ""},
		{"scalar", &onnxpb.TensorProto{DataType: ptr(int32(1)), FloatData: []float32{7}}, []float32{7}, ""},
		{"empty", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{0, 3}}, []float32{}, ""},
		{"short raw", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{2}, RawData: []byte{1, 2, 3, 4}}, nil, "raw_data holds 4 bytes"},
		{"short typed", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{2, 2}, FloatData: []float32{1, 2, 3}}, nil, "float_data holds 3 values"},
		{"type mismatch", &onnxpb.TensorProto{DataType: ptr(int32(7)), Dims: []int64{1}, FloatData: []float32{1}}, nil, "stored in float_data"},
		{"raw and typed", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{1}, FloatData: []float32{1}, RawData: []byte{0, 0, 0, 0}}, nil, "both"},
		{"string", &onnxpb.TensorProto{DataType: ptr(int32(8)), Dims: []int64{1}, StringData: [][]byte{[]byte("a")}}, nil, "STRING is not supported"},
		{"no type", &onnxpb.TensorProto{Dims: []int64{1}, FloatData: []float32{1}}, nil, "no data type"},
		{"unknown type", &onnxpb.TensorProto{DataType: ptr(int32(99)), Dims: []int64{1}}, nil, "data type 99"},
		{"external", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{1}, DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: ptr("location"), Value: ptr("weights.bin")}}}, nil, `external file ("weights.bin")`},
		{"rank", &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: make([]int64, 40)}, nil, "rank 40"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := proto.Clone(c.tp).(*onnxpb.TensorProto)
			tp.Name = ptr("w")
			m := reluModel()
			m.Graph.Initializer = []*onnxpb.TensorProto{tp}
			if c.err != "" {
				decodeErr(t, mustMarshal(t, m), `initializer "w"`, c.err)
				return
			}
			g, err := Decode(mustMarshal(t, m), "m.onnx")
			if err != nil {
				t.Fatal(err)
			}
			got := g.Param("w").Value.Data
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestStructuralErrors(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		m := reluModel()
		m.Graph.Node = []*onnxpb.NodeProto{
			node("A", "Add", []string{"x", "b"}, []string{"a"}),
			node("B", "Relu", []string{"a"}, []string{"b"}),
			node("C", "Relu", []string{"a"}, []string{"y"}),
		}
		decodeErr(t, mustMarshal(t, m), "cycle", `node "A" (Add)`)
		m.Graph.Node = []*onnxpb.NodeProto{node("self", "Add", []string{"x", "y"}, []string{"y"})}
		decodeErr(t, mustMarshal(t, m), "cycle", `node "self"`)
	})
	t.Run("dangling", func(t *testing.T) {
		m := reluModel()
		m.Graph.Node[0].Input = []string{"nowhere"}
		decodeErr(t, mustMarshal(t, m), `node "relu" (Relu)`, `"nowhere"`)
	})
	t.Run("missing output", func(t *testing.T) {
		m := reluModel()
		m.Graph.Output[0].Name = ptr("z")
		decodeErr(t, mustMarshal(t, m), `"z"`)
	})
	t.Run("duplicate output", func(t *testing.T) {
		m := reluModel()
		m.Graph.Node = append(m.Graph.Node, node("again", "Relu", []string{"x"}, []string{"y"}))
		decodeErr(t, mustMarshal(t, m), `"again"`, `output "y"`)
	})
	t.Run("output is initializer", func(t *testing.T) {
		m := reluModel()
		m.Graph.Initializer = []*onnxpb.TensorProto{floatInit("y", []int64{1}, 1)}
		decodeErr(t, mustMarshal(t, m), `output "y"`)
	})
	t.Run("required input", func(t *testing.T) {
		m := reluModel()
		m.Graph.Initializer = []*onnxpb.TensorProto{floatInit("w", []int64{4, 4}, make([]float32, 16)...)}
		m.Graph.Node = []*onnxpb.NodeProto{node("mm", "MatMul", []string{"", "w"}, []string{"y"})}
		decodeErr(t, mustMarshal(t, m), `node "mm" (MatMul)`, "required input 0")
		m.Graph.Node = []*onnxpb.NodeProto{node("mm", "MatMul", []string{"x"}, []string{"y"})}
		decodeErr(t, mustMarshal(t, m), `node "mm" (MatMul)`, "at least 2 inputs")
		m.Graph.Node = []*onnxpb.NodeProto{node("r", "Relu", []string{"x"}, []string{""}), node("s", "Relu", []string{"x"}, []string{"y"})}
		decodeErr(t, mustMarshal(t, m), `node "r" (Relu)`, "no outputs")
	})
	t.Run("no op type", func(t *testing.T) {
		m := reluModel()
		m.Graph.Node[0].OpType = nil
		decodeErr(t, mustMarshal(t, m), "no op type")
	})
	t.Run("negative input dim", func(t *testing.T) {
		m := reluModel()
		m.Graph.Input[0] = vinfo("x", -3, 4)
		decodeErr(t, mustMarshal(t, m), `graph input "x"`, "negative")
	})
	t.Run("huge input dims", func(t *testing.T) {
		m := reluModel()
		m.Graph.Input[0] = vinfo("x", "N", int64(1)<<40)
		decodeErr(t, mustMarshal(t, m), `graph input "x"`, "too large")
		m.Graph.Input[0] = vinfo("x", 1<<20, 1<<20)
		decodeErr(t, mustMarshal(t, m), `graph input "x"`, "more than")
	})
	t.Run("input without shape", func(t *testing.T) {
		m := reluModel()
		m.Graph.Input[0].Type.GetTensorType().Shape = nil
		decodeErr(t, mustMarshal(t, m), `graph input "x"`, "no shape")
		m.Graph.Input[0].Type = nil
		decodeErr(t, mustMarshal(t, m), `graph input "x"`, "not a tensor")
	})
	t.Run("string input", func(t *testing.T) {
		m := reluModel()
		m.Graph.Input[0].Type.GetTensorType().ElemType = ptr(int32(8))
		decodeErr(t, mustMarshal(t, m), "STRING")
	})
	t.Run("attributes", func(t *testing.T) {
		m := reluModel()
		m.Graph.Node[0].Attribute = []*onnxpb.AttributeProto{attrInt("a", 1), attrInt("a", 2)}
		decodeErr(t, mustMarshal(t, m), `node "relu" (Relu)`, `attribute "a" is given twice`)
		m.Graph.Node[0].Attribute = []*onnxpb.AttributeProto{{Name: ptr("g"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: &onnxpb.GraphProto{}}}
		decodeErr(t, mustMarshal(t, m), `node "relu" (Relu)`, "GRAPH")
		m.Graph.Node[0].Attribute = []*onnxpb.AttributeProto{{Name: ptr("t"), Type: onnxpb.AttributeProto_TENSOR.Enum()}}
		decodeErr(t, mustMarshal(t, m), `attribute "t"`)
		m.Graph.Node[0].Attribute = []*onnxpb.AttributeProto{{Name: ptr("t"), Type: onnxpb.AttributeProto_TENSOR.Enum(),
			T: &onnxpb.TensorProto{DataType: ptr(int32(1)), Dims: []int64{1 << 20, 1 << 20}}}}
		decodeErr(t, mustMarshal(t, m), `attribute "t"`, "more than")
	})
	t.Run("duplicate initializer", func(t *testing.T) {
		m := reluModel()
		m.Graph.Initializer = []*onnxpb.TensorProto{floatInit("w", nil, 1), floatInit("w", nil, 2)}
		decodeErr(t, mustMarshal(t, m), `initializer "w" is defined twice`)
	})
	t.Run("sparse initializer", func(t *testing.T) {
		m := reluModel()
		m.Graph.SparseInitializer = []*onnxpb.SparseTensorProto{{Values: floatInit("s", []int64{1}, 1)}}
		decodeErr(t, mustMarshal(t, m), "sparse")
	})
}

// wireModel wraps raw GraphProto bytes in a ModelProto with a valid header.
func wireModel(graphBytes []byte) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 8)
	var op []byte
	op = protowire.AppendTag(op, 2, protowire.VarintType)
	op = protowire.AppendVarint(op, 13)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, op)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	return protowire.AppendBytes(b, graphBytes)
}

func TestLimits(t *testing.T) {
	t.Run("nodes", func(t *testing.T) {
		var gb []byte
		for i := 0; i <= MaxNodes; i++ {
			gb = append(gb, 0x0a, 0x00) // an empty NodeProto
		}
		b := wireModel(gb)
		if a := allocDuring(func() { decodeErr(t, b, "too large", "nodes") }); a > 1<<20 {
			t.Errorf("rejecting %d nodes allocated %d bytes", MaxNodes+1, a)
		}
	})
	// The other limits are lowered so that the test stays cheap.
	saved := limits
	defer func() { limits = saved }()
	limits.items, limits.ints = 1000, 1000
	t.Run("items", func(t *testing.T) {
		// Many empty inputs: ValueInfoProtos cost as much as nodes.
		var gb []byte
		for i := 0; i <= limits.items; i++ {
			gb = append(gb, 0x5a, 0x00) // GraphProto.input (11), empty
		}
		decodeErr(t, wireModel(gb), "too large", "messages")
		// Node input names count too.
		nb := []byte{}
		for i := 0; i <= limits.items; i++ {
			nb = append(nb, 0x0a, 0x01, 'x') // NodeProto.input (1)
		}
		gb = protowire.AppendTag(nil, 1, protowire.BytesType)
		gb = protowire.AppendBytes(gb, nb)
		decodeErr(t, wireModel(gb), "too large", "strings")
	})
	t.Run("ints", func(t *testing.T) {
		// A packed dims field of one-byte varints.
		payload := make([]byte, limits.ints+1)
		var tb []byte
		tb = protowire.AppendTag(tb, 1, protowire.BytesType)
		tb = protowire.AppendBytes(tb, payload)
		var gb []byte
		gb = protowire.AppendTag(gb, 5, protowire.BytesType) // initializer
		gb = protowire.AppendBytes(gb, tb)
		decodeErr(t, wireModel(gb), "too large", "integers")
		// Unpacked INTS of an attribute.
		var ab []byte
		for i := 0; i <= limits.ints; i++ {
			ab = append(ab, 0x40, 0x01) // AttributeProto.ints (8), varint 1
		}
		var nb []byte
		nb = protowire.AppendTag(nb, 5, protowire.BytesType)
		nb = protowire.AppendBytes(nb, ab)
		gb = protowire.AppendTag(nil, 1, protowire.BytesType)
		gb = protowire.AppendBytes(gb, nb)
		decodeErr(t, wireModel(gb), "too large", "integers")
	})
	t.Run("depth", func(t *testing.T) {
		// Subgraphs nested in attributes: Graph{Node{Attribute{g: Graph{...}}}}.
		gb := []byte{}
		for i := 0; i < limits.depth; i++ {
			var ab []byte
			ab = protowire.AppendTag(ab, 6, protowire.BytesType)
			ab = protowire.AppendBytes(ab, gb)
			var nb []byte
			nb = protowire.AppendTag(nb, 5, protowire.BytesType)
			nb = protowire.AppendBytes(nb, ab)
			gb = protowire.AppendTag(nil, 1, protowire.BytesType)
			gb = protowire.AppendBytes(gb, nb)
		}
		decodeErr(t, wireModel(gb), "nested")
	})
}

func TestConstantsBecomeParams(t *testing.T) {
	m := reluModel()
	m.Graph.Node = []*onnxpb.NodeProto{
		node("c", "Constant", nil, []string{"k"}, &onnxpb.AttributeProto{Name: ptr("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(),
			T: &onnxpb.TensorProto{DataType: ptr(int32(7)), Dims: []int64{4}, Int64Data: []int64{1, 2, 3, 4}}}),
		node("c2", "Constant", nil, []string{"f"}, attrFloat("value_float", 0.5)),
		node("add", "Add", []string{"x", "k"}, []string{"a"}),
		node("mul", "Mul", []string{"a", "f"}, []string{"y"}),
	}
	g, err := Decode(mustMarshal(t, m), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || g.Param("k") == nil || !slices.Equal(g.Param("k").Value.Data, []float32{1, 2, 3, 4}) ||
		g.Param("f") == nil || len(g.Param("f").Value.Shape) != 0 || g.Param("f").Value.Data[0] != 0.5 {
		t.Fatalf("constants not turned into params: nodes %v params %v", g.Nodes, g.Params)
	}
	m.Graph.Node[0].Attribute[0].Name = ptr("value_string")
	m.Graph.Node[0].Attribute[0].Type = onnxpb.AttributeProto_STRING.Enum()
	m.Graph.Node[0].Attribute[0].S = []byte("hi")
	decodeErr(t, mustMarshal(t, m), `node "c" (Constant)`, "value_string")
}

// legacyModel uses opset-9 forms that the reader rewrites.
func legacyModel() *onnxpb.ModelProto {
	m := reluModel()
	m.OpsetImport[0].Version = ptr(int64(9))
	m.Graph.Input[0] = vinfo("x", "N", 1, 4)
	m.Graph.Node = []*onnxpb.NodeProto{
		node("sq", "Squeeze", []string{"x"}, []string{"a"}, attrInts("axes", 1)),
		node("clip", "Clip", []string{"a"}, []string{"b"}, attrFloat("max", 6)),
		node("pad", "Pad", []string{"b"}, []string{"c"}, attrInts("pads", 0, 1, 0, 1), attrFloat("value", 0),
			&onnxpb.AttributeProto{Name: ptr("mode"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("constant")}),
		node("topk", "TopK", []string{"c"}, []string{"d", "idx"}, attrInt("k", 2)),
		node("sm", "Softmax", []string{"d"}, []string{"y"}),
	}
	m.Graph.Output[0] = vinfo("y", "N", 2)
	return m
}

func TestOpsetNormalisation(t *testing.T) {
	m := legacyModel()
	g, err := Decode(mustMarshal(t, m), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"sq": {"x", "sq_axes"}, "clip": {"a", "", "clip_max"}, "pad": {"b", "pad_pads"}, "topk": {"c", "topk_k"}, "sm": {"d"},
	}
	for _, n := range g.Nodes {
		if !slices.Equal(n.Inputs, want[n.Name]) {
			t.Errorf("node %s inputs %q, want %q", n.Name, n.Inputs, want[n.Name])
		}
	}
	if a := g.Node("sq").Attrs; len(a) != 0 {
		t.Errorf("squeeze attrs %v", a)
	}
	if a := g.Node("pad").Attrs; len(a) != 1 || a["mode"] != "constant" {
		t.Errorf("pad attrs %v", a)
	}
	if a := g.Node("sm").Attrs; a["axis"] != 1 {
		t.Errorf("softmax attrs %v", a)
	}
	for name, v := range map[string][]float32{"sq_axes": {1}, "clip_max": {6}, "pad_pads": {0, 1, 0, 1}, "topk_k": {2}} {
		if p := g.Param(name); p == nil || !slices.Equal(p.Value.Data, v) {
			t.Errorf("param %s = %v, want %v", name, p, v)
		}
	}
	if s := g.Param("clip_max").Value.Shape; len(s) != 0 {
		t.Errorf("clip max has shape %v, want a scalar", s)
	}
}

// softmaxModel is one Softmax node of the given opset.
func softmaxModel(opset int64, shape []any, attrs ...*onnxpb.AttributeProto) *onnxpb.ModelProto {
	m := reluModel()
	m.OpsetImport[0].Version = &opset
	m.Graph.Input[0] = vinfo("x", shape...)
	m.Graph.Output[0] = vinfo("y", shape...)
	m.Graph.Node = []*onnxpb.NodeProto{node("sm", "Softmax", []string{"x"}, []string{"y"}, attrs...)}
	return m
}

func TestLegacySoftmax(t *testing.T) {
	mk := func(opset int64, shape []any, attrs ...*onnxpb.AttributeProto) []byte {
		return mustMarshal(t, softmaxModel(opset, shape, attrs...))
	}
	for _, c := range []struct {
		b  []byte
		ok bool
	}{
		{mk(11, []any{"N", 10}), true},
		{mk(11, []any{"N", 10, 1, 1}), true},
		{mk(11, []any{"N", 3, 4}, attrInt("axis", -1)), true},
		{mk(11, []any{"N", 3, 4}, attrInt("axis", 2)), true},
		{mk(13, []any{"N", 3, 4}), true},
		{mk(11, []any{"N", 3, 4}), false},
		{mk(11, []any{"N", 10}, attrInt("axis", 0)), false},
		{mk(11, []any{2, 10}, attrInt("axis", 5)), false},
	} {
		_, err := Decode(c.b, "m.onnx")
		if (err == nil) != c.ok {
			t.Errorf("case %d: err = %v", len(c.b), err)
		}
		if err != nil && !strings.Contains(err.Error(), `node "sm" (Softmax)`) {
			t.Errorf("error %q does not name the node", err)
		}
	}
}

func TestInputsThatAreInitializers(t *testing.T) {
	m := reluModel()
	m.Graph.Node[0] = node("add", "Add", []string{"x", "w"}, []string{"y"})
	m.Graph.Initializer = []*onnxpb.TensorProto{floatInit("w", []int64{4}, 1, 2, 3, 4)}
	m.Graph.Input = append(m.Graph.Input, vinfo("w", 4))
	g, err := Decode(mustMarshal(t, m), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != 1 || g.Inputs[0].Name != "x" {
		t.Fatalf("inputs %v", g.Inputs)
	}
	if _, err := cpu.Compile(g); err != nil {
		t.Fatal(err)
	}
	_ = tensor.MaxElems
}
