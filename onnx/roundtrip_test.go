package onnx

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

func vecT(v ...float32) *tensor.Tensor {
	t := tensor.New(len(v))
	copy(t.Data, v)
	return t
}

// smallCNN is conv → BN → relu → maxpool → global average pool → reshape →
// gemm → softmax, with params, built directly as a graph.
func smallCNN() *graph.Graph {
	r := rand.New(rand.NewPCG(1, 2))
	g := &graph.Graph{
		Name:    "small_cnn",
		Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{-1, 3, 8, 8}}},
		Outputs: []graph.ValueInfo{{Name: "prob", Shape: []int{-1, 10}}},
		Meta:    map[string]string{"recipe": "l1-filter 50%", "history": "epoch 3: acc 0.91"},
	}
	g.AddParam("conv1.w", testutil.UniformTensor(r, 4, 3, 3, 3), true)
	g.AddParam("conv1.b", testutil.UniformTensor(r, 4), true)
	g.AddParam("bn1.scale", testutil.UniformTensor(r, 4), true)
	g.AddParam("bn1.bias", testutil.UniformTensor(r, 4), true)
	g.AddParam("bn1.mean", testutil.UniformTensor(r, 4), false)
	v := testutil.UniformTensor(r, 4)
	for i := range v.Data {
		v.Data[i] = 1 + v.Data[i]*v.Data[i]
	}
	// Odd bit patterns must survive: a negative zero, a NaN payload, an
	// infinity and a subnormal.
	w := g.Params[0].Value.Data
	w[0] = float32(math.Copysign(0, -1))
	w[1] = math.Float32frombits(0x7fc00123)
	w[2] = float32(math.Inf(-1))
	w[3] = math.Float32frombits(1)
	g.AddParam("bn1.var", v, false)
	g.AddParam("flat.shape", vecT(-1, 4), false)
	g.AddParam("fc.w", testutil.UniformTensor(r, 10, 4), true)
	g.AddParam("fc.b", testutil.UniformTensor(r, 10), true)
	g.Nodes = []*graph.Node{
		{Name: "conv1", Op: "Conv", Inputs: []string{"x", "conv1.w", "conv1.b"}, Outputs: []string{"c1"},
			Attrs: graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}, "strides": []int{1, 1}, "group": 1}},
		{Name: "bn1", Op: "BatchNormalization", Inputs: []string{"c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"},
			Outputs: []string{"b1"}, Attrs: graph.Attrs{"epsilon": float32(1e-5), "momentum": float32(0.9)}},
		{Name: "relu1", Op: "Relu", Inputs: []string{"b1"}, Outputs: []string{"r1"}},
		{Name: "pool1", Op: "MaxPool", Inputs: []string{"r1"}, Outputs: []string{"p1"},
			Attrs: graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "auto_pad": "NOTSET"}},
		{Name: "gap", Op: "GlobalAveragePool", Inputs: []string{"p1"}, Outputs: []string{"g1"}},
		{Name: "flat", Op: "Reshape", Inputs: []string{"g1", "flat.shape"}, Outputs: []string{"f1"}},
		{Name: "fc", Op: "Gemm", Inputs: []string{"f1", "fc.w", "fc.b"}, Outputs: []string{"logits"},
			Attrs: graph.Attrs{"transB": 1, "alpha": float32(1), "beta": float32(1)}},
		{Name: "softmax", Op: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"prob"}, Attrs: graph.Attrs{"axis": 1}},
	}
	graph.LabelAxes(g)
	return g
}

// mlp has a param read both as an int64 shape and as a float operand, an
// omitted optional input and a second output.
func mlp() *graph.Graph {
	r := rand.New(rand.NewPCG(3, 4))
	g := &graph.Graph{
		Name:    "mlp",
		Inputs:  []graph.ValueInfo{{Name: "in", Shape: []int{-1, 6}}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{-1, 3}}, {Name: "h", Shape: []int{-1, 5}}},
	}
	g.AddParam("w1", testutil.UniformTensor(r, 6, 5), true)
	g.AddParam("w2", testutil.UniformTensor(r, 5, 3), true)
	g.AddParam("lo", &tensor.Tensor{Shape: []int{}, Data: []float32{0}}, false)
	g.Nodes = []*graph.Node{
		{Name: "mm1", Op: "MatMul", Inputs: []string{"in", "w1"}, Outputs: []string{"a"}},
		{Name: "clip", Op: "Clip", Inputs: []string{"a", "lo", ""}, Outputs: []string{"h"}},
		{Name: "drop", Op: "Dropout", Inputs: []string{"h"}, Outputs: []string{"hd"}, Attrs: graph.Attrs{"ratio": float32(0.25)}},
		{Name: "mm2", Op: "MatMul", Inputs: []string{"hd", "w2"}, Outputs: []string{"y"}},
	}
	graph.LabelAxes(g)
	return g
}

// sharedShape reads one param as Reshape's shape and as an Add operand.
func sharedShape() *graph.Graph {
	g := &graph.Graph{
		Name:    "shared",
		Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{-1, 4}}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{-1, 2}}},
	}
	g.AddParam("s", vecT(-1, 2), false)
	g.Nodes = []*graph.Node{
		{Name: "reshape", Op: "Reshape", Inputs: []string{"x", "s"}, Outputs: []string{"r"}},
		{Name: "add", Op: "Add", Inputs: []string{"r", "s"}, Outputs: []string{"y"}},
	}
	graph.LabelAxes(g)
	return g
}

// shapeArith computes with a Shape output, which ONNX types INT64: the
// param added to it must be written as INT64 too.
func shapeArith() *graph.Graph {
	g := &graph.Graph{
		Name:    "shape_arith",
		Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{-1, 3, 5}}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{3}}, {Name: "z", Shape: []int{-1, 3, 5}}},
	}
	g.AddParam("one", vecT(1), false)
	g.Nodes = []*graph.Node{
		{Name: "shape", Op: "Shape", Inputs: []string{"x"}, Outputs: []string{"s"}},
		{Name: "add", Op: "Add", Inputs: []string{"s", "one"}, Outputs: []string{"y"}},
		{Name: "relu", Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"z"}},
	}
	graph.LabelAxes(g)
	return g
}

// diffGraphs describes how two graphs differ, "" when they are equal.
// Params are compared bit for bit.
func diffGraphs(a, b *graph.Graph) string {
	var d []string
	add := func(f string, args ...any) { d = append(d, fmt.Sprintf(f, args...)) }
	if a.Name != b.Name {
		add("name %q vs %q", a.Name, b.Name)
	}
	if !reflect.DeepEqual(a.Inputs, b.Inputs) {
		add("inputs %v vs %v", a.Inputs, b.Inputs)
	}
	if !reflect.DeepEqual(a.Outputs, b.Outputs) {
		add("outputs %v vs %v", a.Outputs, b.Outputs)
	}
	if len(a.Meta)+len(b.Meta) > 0 && !reflect.DeepEqual(a.Meta, b.Meta) {
		add("meta %v vs %v", a.Meta, b.Meta)
	}
	if len(a.Nodes) != len(b.Nodes) {
		add("%d vs %d nodes", len(a.Nodes), len(b.Nodes))
	} else {
		for i, x := range a.Nodes {
			y := b.Nodes[i]
			if x.Name != y.Name || x.Op != y.Op || !reflect.DeepEqual(x.Inputs, y.Inputs) || !reflect.DeepEqual(x.Outputs, y.Outputs) {
				add("node %d: %+v vs %+v", i, *x, *y)
			}
			if len(x.Attrs) != len(y.Attrs) {
				add("node %q: attrs %v vs %v", x.Name, x.Attrs, y.Attrs)
			}
			for k, v := range x.Attrs {
				w, ok := y.Attrs[k]
				if !ok || !attrEqual(v, w) {
					add("node %q: attr %s: %#v vs %#v", x.Name, k, v, w)
				}
			}
		}
	}
	if len(a.Params) != len(b.Params) {
		add("%d vs %d params", len(a.Params), len(b.Params))
	} else {
		for i, p := range a.Params {
			q := b.Params[i]
			if p.Name != q.Name || p.Trainable != q.Trainable || !reflect.DeepEqual(p.Axes, q.Axes) {
				add("param %d: %s %v %v vs %s %v %v", i, p.Name, p.Axes, p.Trainable, q.Name, q.Axes, q.Trainable)
			}
			if !tensorBitsEqual(p.Value, q.Value) {
				add("param %q: values differ (%v vs %v)", p.Name, p.Value, q.Value)
			}
		}
	}
	return strings.Join(d, "\n")
}

func attrEqual(a, b any) bool {
	switch a := a.(type) {
	case *tensor.Tensor:
		b, ok := b.(*tensor.Tensor)
		return ok && tensorBitsEqual(a, b)
	case []int:
		b, ok := b.([]int)
		return ok && len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
	case []float32:
		b, ok := b.([]float32)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return true
	case float32:
		b, ok := b.(float32)
		return ok && math.Float32bits(a) == math.Float32bits(b)
	}
	return reflect.DeepEqual(a, b)
}

func tensorBitsEqual(a, b *tensor.Tensor) bool {
	if a == nil || b == nil || !tensor.SameShape(a.Shape, b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	for _, g := range []*graph.Graph{smallCNN(), mlp(), shapeArith()} {
		t.Run(g.Name, func(t *testing.T) {
			orig := g.Clone()
			b, err := Encode(g)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraphs(orig, g); d != "" {
				t.Fatalf("Encode changed its graph:\n%s", d)
			}
			h, err := Decode(b, "rt.onnx")
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraphs(g, h); d != "" {
				t.Fatalf("round trip differs:\n%s", d)
			}
			b2, err := Encode(h)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs: %d vs %d bytes", len(b), len(b2))
			}
		})
	}
}

func TestSharedTypedParam(t *testing.T) {
	g := sharedShape()
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	m := mustUnmarshal(t, b)
	types := map[string]int32{}
	for _, tp := range m.Graph.Initializer {
		types[tp.GetName()] = tp.GetDataType()
	}
	if types["s"] != int32(floatT) || types["s_int64"] != int32(int64T) || len(types) != 2 {
		t.Fatalf("initializers %v, want s FLOAT and s_int64 INT64", types)
	}
	for _, n := range m.Graph.Node {
		want := map[string]string{"reshape": "s_int64", "add": "s"}[n.GetName()]
		if n.Input[1] != want {
			t.Errorf("node %s reads %s, want %s", n.GetName(), n.Input[1], want)
		}
	}
	h, err := Decode(b, "shared.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cpu.Compile(h); err != nil {
		t.Fatal(err)
	}
}

func TestElementTypes(t *testing.T) {
	b, err := Encode(shapeArith())
	if err != nil {
		t.Fatal(err)
	}
	m := mustUnmarshal(t, b)
	if dt := m.Graph.Initializer[0].GetDataType(); dt != int32(int64T) {
		t.Errorf("param one written as %s, want INT64", dataTypeName(dt))
	}
	for i, want := range []int32{int32(int64T), int32(floatT)} {
		if dt := m.Graph.Output[i].GetType().GetTensorType().GetElemType(); dt != want {
			t.Errorf("output %d declared %s, want %s", i, dataTypeName(dt), dataTypeName(want))
		}
	}
}

func TestEncodeDoesNotReorder(t *testing.T) {
	g := smallCNN()
	g.Nodes[0], g.Nodes[len(g.Nodes)-1] = g.Nodes[len(g.Nodes)-1], g.Nodes[0]
	first := g.Nodes[0].Name
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	if g.Nodes[0].Name != first {
		t.Fatal("Encode reordered the caller's nodes")
	}
	h, err := Decode(b, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(smallCNN(), h); d != "" {
		t.Fatalf("unsorted graph did not come back sorted:\n%s", d)
	}
}

func TestEncodeErrors(t *testing.T) {
	g := smallCNN()
	g.Nodes[2].Op = "NoSuchOp"
	if _, err := Encode(g); err == nil || !strings.HasPrefix(err.Error(), "onnx: ") {
		t.Fatalf("unsupported op: err = %v", err)
	}
	g = smallCNN()
	g.Param("flat.shape").Value.Data[0] = 1.5
	if _, err := Encode(g); err == nil || !strings.Contains(err.Error(), "flat") {
		t.Fatalf("non-integer shape: err = %v", err)
	}
	g = smallCNN()
	g.Nodes[0].Attrs["bad"] = 2.5 // float64 is not an attribute type
	if _, err := Encode(g); err == nil || !strings.Contains(err.Error(), `node "conv1" (Conv): attribute "bad"`) {
		t.Fatalf("float64 attribute: err = %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	g := smallCNN()
	if err := Save(path, g); err != nil {
		t.Fatal(err)
	}
	h, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(g, h); d != "" {
		t.Fatalf("Save/Load differs:\n%s", d)
	}
	before, _ := os.ReadFile(path)

	// A failing Save leaves the existing file alone and no temp file.
	bad := smallCNN()
	bad.Nodes[1].Op = "NoSuchOp"
	if err := Save(path, bad); err == nil || !strings.HasPrefix(err.Error(), "onnx: "+path+": ") {
		t.Fatalf("Save of a bad graph: err = %v", err)
	}
	if err := Save(filepath.Join(dir, "missing", "m.onnx"), g); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed Save changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after Save, want 1", len(entries))
	}
	if _, err := Load(filepath.Join(dir, "nope.onnx")); err == nil || !strings.HasPrefix(err.Error(), "onnx: ") {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatal("Load of a directory succeeded")
	}
}

// pythonONNX returns a python interpreter that can import onnx, or "".
func pythonONNX() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import onnx").Run() == nil {
			return py
		}
	}
	return ""
}

// checkWithPython runs onnx.checker.check_model (with full_check, which
// includes ONNX's shape and type inference) on every file.
func checkWithPython(t *testing.T, files []string) {
	t.Helper()
	py := pythonONNX()
	if py == "" {
		t.Skip("python3 with the onnx module is not installed (Debian package python3-onnx): skipping the ONNX checker")
	}
	script := `
import sys, onnx
bad = 0
for f in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(f), full_check=True)
    except Exception as e:
        bad += 1
        print(f + ": " + str(e).strip().replace("\n", " | ")[:400])
sys.exit(1 if bad else 0)
`
	for len(files) > 0 {
		n := min(len(files), 500)
		out, err := exec.Command(py, append([]string{"-c", script}, files[:n]...)...).CombinedOutput()
		if err != nil {
			t.Errorf("onnx checker: %v\n%s", err, out)
		}
		files = files[n:]
	}
}

func TestONNXChecker(t *testing.T) {
	if pythonONNX() == "" {
		t.Skip("python3 with the onnx module is not installed (Debian package python3-onnx): skipping the ONNX checker")
	}
	dir := t.TempDir()
	var files []string
	for _, g := range []*graph.Graph{smallCNN(), mlp(), sharedShape(), shapeArith()} {
		path := filepath.Join(dir, g.Name+".onnx")
		if err := Save(path, g); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	checkWithPython(t, files)
}

// TestLegacyFormsExport writes a graph that uses the attribute forms the
// IR's ops accept but opset 13 does not, and checks that the export is
// valid ONNX and computes the same.
func TestLegacyFormsExport(t *testing.T) {
	g := &graph.Graph{
		Name:    "legacy",
		Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{-1, 2, 3, 4}}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{-1, 1, 1, 1}}, {Name: "s", Shape: []int{-1, 1, 2, 2}}},
	}
	g.AddParam("rm.axes", vecT(2, 3), false)
	g.Nodes = []*graph.Node{
		{Name: "unsq", Op: "Unsqueeze", Inputs: []string{"x"}, Outputs: []string{"u"}, Attrs: graph.Attrs{"axes": []int{1}}},
		{Name: "sq", Op: "Squeeze", Inputs: []string{"u"}, Outputs: []string{"q"}, Attrs: graph.Attrs{"axes": []int{1}}},
		{Name: "clip", Op: "Clip", Inputs: []string{"q"}, Outputs: []string{"c"}, Attrs: graph.Attrs{"min": float32(-0.5), "max": float32(0.5)}},
		{Name: "pad", Op: "Pad", Inputs: []string{"c"}, Outputs: []string{"p"},
			Attrs: graph.Attrs{"pads": []int{0, 0, 1, 1, 0, 0, 1, 1}, "mode": "constant", "value": float32(0.25)}},
		{Name: "split", Op: "Split", Inputs: []string{"p"}, Outputs: []string{"a", "b"}, Attrs: graph.Attrs{"axis": 1, "num_outputs": 2}},
		{Name: "add", Op: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"ab"}},
		{Name: "drop", Op: "Dropout", Inputs: []string{"ab"}, Outputs: []string{"d"}, Attrs: graph.Attrs{"ratio": float32(0.1)}},
		{Name: "rm", Op: "ReduceMean", Inputs: []string{"d", "rm.axes"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"keepdims": 1}},
		{Name: "slice", Op: "Slice", Inputs: []string{"d"}, Outputs: []string{"s"},
			Attrs: graph.Attrs{"starts": []int{1, 2}, "ends": []int{3, 4}, "axes": []int{2, 3}}},
	}
	graph.LabelAxes(g)
	for _, n := range g.Nodes {
		if standIns[n.Op] {
			t.Skipf("op %s is not implemented yet", n.Op)
		}
	}
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Decode(b, "legacy.onnx")
	if err != nil {
		t.Fatal(err)
	}
	x := testutil.UniformTensor(rand.New(rand.NewPCG(7, 8)), 2, 2, 3, 4)
	run := func(g *graph.Graph) []*tensor.Tensor {
		p, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		return []*tensor.Tensor{out[0].Clone(), out[1].Clone()}
	}
	want, got := run(g), run(h)
	for i := range want {
		if !tensorBitsEqual(want[i], got[i]) {
			t.Fatalf("output %d differs after export: %v vs %v", i, want[i].Data, got[i].Data)
		}
	}
	if !slices.Equal(h.Outputs[0].Shape, []int{-1, 1, 1, 1}) {
		t.Errorf("output shape %v", h.Outputs[0].Shape)
	}
	if d := h.Node("drop"); d.Attrs["ratio"] != float32(0.1) || len(d.Inputs) != 1 {
		t.Errorf("dropout came back as %+v", d)
	}
	if pythonONNX() != "" {
		path := filepath.Join(t.TempDir(), "legacy.onnx")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkWithPython(t, []string{path})
	}
}
