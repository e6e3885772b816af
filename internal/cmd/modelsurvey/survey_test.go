//go:build cgo

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/tensor"
)

func TestParseShapes(t *testing.T) {
	got, err := parseShapes("x=1x3x48x320,h=2x1x64")
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(got["x"], []int{1, 3, 48, 320}) || !tensor.SameShape(got["h"], []int{2, 1, 64}) || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{"x", "=1x3", "x=1x0", "x=1xa", "x=1x3,"} {
		if _, err := parseShapes(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The pinned list must parse, name each model once and give a checksum
// and shapes for every row.
func TestModelsTSV(t *testing.T) {
	ms, err := readModels(filepath.Join("..", "..", "..", "scripts", "models.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	ecosystems := map[string]bool{}
	for _, m := range ms {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		ecosystems[strings.Fields(m.Ecosystem)[0]] = true
		if len(m.SHA256) != 64 || !strings.Contains(m.Package, "@") {
			t.Errorf("%s: package %q, sha256 %q", m.Name, m.Package, m.SHA256)
		}
	}
	if len(ms) < 10 || len(ecosystems) < 4 {
		t.Errorf("%d models from %d ecosystems (%v); issue 13 asks for ≥ 10 from ≥ 4", len(ms), len(ecosystems), ecosystems)
	}
}

func dim(v int64) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
}

func param(s string) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: s}}
}

func TestBindShapes(t *testing.T) {
	elem := int32(onnxpb.TensorProto_FLOAT)
	m := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Input: []*onnxpb.ValueInfoProto{{
		Name: proto.String("x"),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: &elem,
			Shape:    &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{param("N"), dim(3), param("H"), param("W")}},
		}}},
	}}}}
	b, err := bindShapes(m, map[string][]int{"x": {1, 3, 48, 320}})
	if err != nil {
		t.Fatal(err)
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := inspect(&back).Inputs[0].String(); got != "x float[1,3,48,320]" {
		t.Errorf("bound input %s", got)
	}
	if got := inspect(m).Inputs[0].String(); got != "x float[N,3,H,W]" {
		t.Errorf("the original changed: %s", got)
	}
	if _, err := bindShapes(m, map[string][]int{"y": {1}}); err == nil || !strings.Contains(err.Error(), `"y" is not an input`) {
		t.Errorf("unknown input: %v", err)
	}
	if _, err := bindShapes(m, map[string][]int{"x": {1, 3}}); err == nil || !strings.Contains(err.Error(), "rank") {
		t.Errorf("wrong rank: %v", err)
	}
}

func from(t *testing.T, data []float32, shape ...int) *tensor.Tensor {
	x, err := tensor.FromData(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestCompare(t *testing.T) {
	a := from(t, []float32{1, 2, 4}, 3)
	b := from(t, []float32{1, 2, 4.002}, 3)
	zero := from(t, []float32{0, 1e-8}, 2)
	noise := from(t, []float32{1e-8, 0}, 2)
	worst, which, err := compare([]*tensor.Tensor{noise, a}, []*tensor.Tensor{zero, b})
	if err != nil {
		t.Fatal(err)
	}
	// The ~0 output is skipped; the other differs by 0.002/4.002.
	if which != 1 || worst < 4.9e-4 || worst > 5.1e-4 {
		t.Errorf("worst %g at %d", worst, which)
	}
	if _, _, err := compare([]*tensor.Tensor{a}, []*tensor.Tensor{zero}); err == nil {
		t.Error("shape mismatch not reported")
	}
}

func TestGuardCatchesPanic(t *testing.T) {
	err := guard(func() error { panic("index out of range") })
	if err == nil || !strings.HasPrefix(err.Error(), "panic: index out of range") {
		t.Errorf("got %v", err)
	}
}

// Where the models were fetched, the survey of a small one must get
// through every stage.
func TestSurveySmallModel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	path := filepath.Join("..", "..", "..", ".cache", "models", "oww_alexa.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no .cache/models: run scripts/fetch_models.sh")
	}
	if err := ortref.Init(); errors.Is(err, ortref.ErrNoLibrary) {
		t.Skipf("skipping: %v", err)
	}
	r := survey(model{Name: "oww_alexa"}, path, 1)
	if _, msg := r.firstError(); msg != "" {
		t.Fatalf("%s", msg)
	}
	if got := r.status("slim = masked in ORT"); got != "ok" {
		t.Errorf("last stage %q: %+v", got, r.Stages)
	}
}

func TestClipKeepsRunes(t *testing.T) {
	s := strings.Repeat("a", 9) + "×b"
	got := clip(s, 10) // byte 10 is the middle of ×
	if !utf8.ValidString(got) || got != strings.Repeat("a", 9)+" …" {
		t.Errorf("clip: %q", got)
	}
	if clip("short", 10) != "short" {
		t.Error("a short string changed")
	}
}
