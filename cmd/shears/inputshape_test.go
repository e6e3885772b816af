package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/onnx"
)

// symbolicModel writes a model for any image size, as exporters write
// one: x[N,1,H,W] → Conv(1→4) → Relu → Conv(4→2) → Reshape to [N, -1]
// with the shape computed from Shape(x), so that it folds only once H
// and W are known.
func symbolicModel(t *testing.T, path string) {
	t.Helper()
	str := func(s string) *string { return &s }
	i64 := func(v int64) *int64 { return &v }
	dims := func(ds ...any) *onnxpb.TypeProto {
		sh := &onnxpb.TensorShapeProto{}
		for _, d := range ds {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch d := d.(type) {
			case int:
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
			case string:
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
			}
			sh.Dim = append(sh.Dim, dim)
		}
		elem := int32(onnxpb.TensorProto_FLOAT)
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem, Shape: sh}}}
	}
	floats := func(name string, shape []int64) *onnxpb.TensorProto {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%7)/7 - 0.4
		}
		return &onnxpb.TensorProto{Name: str(name), Dims: shape, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: v}
	}
	ints := func(name string, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: str(name), Dims: []int64{int64(len(v))}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v}
	}
	node := func(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: str(op), Input: in, Output: out, Attribute: attrs}
	}
	pads := &onnxpb.AttributeProto{Name: str("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}
	axis0 := &onnxpb.AttributeProto{Name: str("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: i64(0)}
	m := &onnxpb.ModelProto{
		IrVersion:   i64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: i64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: str("anysize"),
			Node: []*onnxpb.NodeProto{
				node("Conv", []string{"x", "w1", "b1"}, []string{"c1"}, pads),
				node("Relu", []string{"c1"}, []string{"r1"}),
				node("Conv", []string{"r1", "w2"}, []string{"c2"}, pads),
				node("Shape", []string{"x"}, []string{"s"}),
				node("Slice", []string{"s", "zero", "one"}, []string{"n"}),
				node("Concat", []string{"n", "minus1"}, []string{"flat"}, axis0),
				node("Reshape", []string{"c2", "flat"}, []string{"y"}),
			},
			Initializer: []*onnxpb.TensorProto{floats("w1", []int64{4, 1, 3, 3}), floats("b1", []int64{4}), floats("w2", []int64{2, 4, 3, 3}),
				ints("zero", 0), ints("one", 1), ints("minus1", -1)},
			Input:  []*onnxpb.ValueInfoProto{{Name: str("x"), Type: dims("N", 1, "H", "W")}},
			Output: []*onnxpb.ValueInfoProto{{Name: str("y"), Type: dims("N", "F")}},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInputShapeFlag(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "anysize.onnx")
	symbolicModel(t, model)

	_, stderr, code := shears(t, "info", model)
	if code != 1 || !strings.Contains(stderr, `graph input "x" has symbolic dims N×1×H×W`) || !strings.Contains(stderr, "--input-shape x=Nx1x<H>x<W>") {
		t.Fatalf("info without --input-shape: exit %d, %q", code, stderr)
	}
	stdout, stderr, code := shears(t, "info", model, "--input-shape", "x=Nx1x8x10")
	if code != 0 || !strings.Contains(stdout, "inputs x N×1×8×10") {
		t.Fatalf("info: exit %d, %s%s", code, stdout, stderr)
	}

	// The batch stays dynamic: run at batch 3.
	stdout, stderr, code = shears(t, "run", model, "--random-input", "--batch", "3", "--repeat", "1", "--input-shape", "x=Nx1x8x10", "--json")
	if code != 0 {
		t.Fatalf("run: exit %d, %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rep struct {
		Outputs []struct{ Shape []int } `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil || len(rep.Outputs) != 1 || len(rep.Outputs[0].Shape) != 2 ||
		rep.Outputs[0].Shape[0] != 3 || rep.Outputs[0].Shape[1] != 2*8*10 {
		t.Fatalf("run: outputs %+v (%v) from %q, want one of 3×160", rep.Outputs, err, lines[len(lines)-1])
	}

	// An export holds the bound sizes: it loads without the flag, and the
	// Shape-based Reshape is folded away.
	out := filepath.Join(dir, "fixed.onnx")
	if _, stderr, code = shears(t, "export", model, "--input-shape", "x=Nx1x8x10", "--out", out); code != 0 {
		t.Fatalf("export: exit %d, %s", code, stderr)
	}
	g, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Op == "Shape" || n.Op == "Slice" || n.Op == "Concat" {
			t.Errorf("node %s (%s) left after binding: the shape subgraph did not fold", n.Name, n.Op)
		}
	}

	// A recipe carries the same binding.
	recipeFile := filepath.Join(dir, "r.yaml")
	pruned := filepath.Join(dir, "pruned.onnx")
	yaml := "model: " + model + "\ninput_shapes: {x: [N, 1, 8, 10]}\nmethod: {criterion: l1, granularity: filter}\ntarget: {ratio: 0.5}\nfinetune: {epochs: 0}\noutput: {out: " + pruned + ", latency_runs: 0}\n"
	if err := os.WriteFile(recipeFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code = shears(t, "prune", "--recipe", recipeFile, "--quiet"); code != 0 {
		t.Fatalf("prune --recipe: exit %d, %s", code, stderr)
	}
	pg, err := onnx.Load(pruned)
	if err != nil {
		t.Fatal(err)
	}
	if w := pg.Param("w1"); w == nil || w.Value.Shape[0] != 2 {
		t.Errorf("pruned w1 %v, want 2 of 4 filters kept", w)
	}
}

// A model that expands a param to its batch size (a ViT's class token)
// loads only with a fixed batch: the error says so and gives the flag.
func TestBatchComputedShapeNamesFlag(t *testing.T) {
	str := func(s string) *string { return &s }
	i64 := func(v int64) *int64 { return &v }
	elem := int32(onnxpb.TensorProto_FLOAT)
	typ := func(d0 *onnxpb.TensorShapeProto_Dimension) *onnxpb.TypeProto {
		sh := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{d0, {Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}}}}
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem, Shape: sh}}}
	}
	n := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
	ints := func(name string, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: str(name), Dims: []int64{int64(len(v))}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v}
	}
	node := func(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: str(op), Input: in, Output: out, Attribute: attrs}
	}
	axis0 := &onnxpb.AttributeProto{Name: str("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: i64(0)}
	m := &onnxpb.ModelProto{
		IrVersion:   i64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: i64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: str("token"),
			Node: []*onnxpb.NodeProto{
				node("Shape", []string{"x"}, []string{"s"}),
				node("Slice", []string{"s", "zero", "one"}, []string{"n"}),
				node("Concat", []string{"n", "three"}, []string{"shape"}, axis0),
				node("Expand", []string{"cls", "shape"}, []string{"e"}),
				node("Add", []string{"x", "e"}, []string{"y"}),
			},
			Initializer: []*onnxpb.TensorProto{ints("zero", 0), ints("one", 1), ints("three", 3),
				{Name: str("cls"), Dims: []int64{1, 3}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{1, 2, 3}}},
			Input:  []*onnxpb.ValueInfoProto{{Name: str("x"), Type: typ(n)}},
			Output: []*onnxpb.ValueInfoProto{{Name: str("y"), Type: typ(n)}},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "token.onnx")
	if err := os.WriteFile(model, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := shears(t, "info", model)
	if code != 2 || !strings.Contains(stderr, "computes it from the batch size") || !strings.Contains(stderr, "--input-shape x=1x3") {
		t.Fatalf("info with a dynamic batch: exit %d, %q", code, stderr)
	}
	if stdout, stderr, code := shears(t, "info", model, "--input-shape", "x=1x3"); code != 0 {
		t.Fatalf("info with the batch bound: exit %d, %s%s", code, stdout, stderr)
	}
}
