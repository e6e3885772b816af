package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// libonnxTestdata is where Debian's libonnx-testdata puts ONNX's backend
// test models.
const libonnxTestdata = "/usr/share/libonnx-testdata/data"

func testdataModels(t testing.TB) []string {
	var files []string
	for _, dir := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		m, _ := filepath.Glob(filepath.Join(libonnxTestdata, dir, "*", "model.onnx"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no models under %s (Debian package libonnx-testdata): skipping", libonnxTestdata)
	}
	sort.Strings(files)
	return files
}

// TestLibonnxTestdata imports every model of ONNX's backend test suite:
// each either imports to a valid graph or gives a clean error. Imported
// graphs that compile are exported again and must come back equal, and
// the exports must pass the ONNX checker.
func TestLibonnxTestdata(t *testing.T) {
	files := testdataModels(t)
	out := t.TempDir()
	var exported []string
	var imported, unsupported, refused, encodeFailed int
	reasons := map[string]int{}
	for _, f := range files {
		test := filepath.Base(filepath.Dir(f))
		g, err := Load(f)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "onnx: "+f+": ") {
				t.Errorf("error %q lacks the onnx: FILE: prefix", msg)
			}
			if strings.Contains(msg, "unsupported node") {
				unsupported++
			} else {
				refused++
				reason := strings.TrimPrefix(msg, "onnx: "+f+": ")
				if i := strings.IndexAny(reason, ":"); i > 0 && !testing.Verbose() {
					reason = reason[:i]
				}
				reasons[reason]++
			}
			continue
		}
		imported++
		if err := g.Validate(); err != nil {
			t.Errorf("%s: imported graph does not validate: %v", test, err)
			continue
		}
		if slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return standIns[n.Op] }) {
			continue // shape-only stand-ins infer shapes loosely
		}
		b, err := Encode(g)
		if err != nil {
			encodeFailed++
			if testing.Verbose() {
				t.Logf("%s: not exported: %v", test, err)
			}
			continue
		}
		h, err := Decode(b, test)
		if err != nil {
			t.Errorf("%s: re-import of the export: %v", test, err)
			continue
		}
		// Output shapes are re-inferred on export: compare them apart.
		g2 := g.Clone()
		for i := range g2.Outputs {
			g2.Outputs[i].Shape = h.Outputs[i].Shape
		}
		if d := diffGraphs(g2, h); d != "" {
			t.Errorf("%s: export and re-import differ:\n%s", test, d)
		}
		for i, o := range g.Outputs {
			if !compatibleShapes(o.Shape, h.Outputs[i].Shape) {
				t.Errorf("%s: output %q declared %v, inferred %v", test, o.Name, o.Shape, h.Outputs[i].Shape)
			}
		}
		path := filepath.Join(out, test+".onnx")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		exported = append(exported, path)
	}
	var rs []string
	for r, n := range reasons {
		rs = append(rs, fmt.Sprintf("%d× %s", n, r))
	}
	sort.Strings(rs)
	t.Logf("%d models: %d imported (%d exported again, %d did not compile), %d with unsupported ops, %d refused: %s",
		len(files), imported, len(exported), encodeFailed, unsupported, refused, strings.Join(rs, "; "))
	t.Logf("supported ops: %v; test stand-ins: %v", graph.SupportedOps(), standIns)
	if len(exported) > 0 {
		checkWithPython(t, exported)
	}
}

// compatibleShapes reports whether an inferred shape agrees with a
// declared one (−1 matches anything; an undeclared shape matches).
func compatibleShapes(declared, inferred []int) bool {
	if declared == nil {
		return true
	}
	if len(declared) != len(inferred) {
		return false
	}
	for i := range declared {
		if declared[i] >= 0 && inferred[i] >= 0 && declared[i] != inferred[i] {
			return false
		}
	}
	return true
}

// TestLibonnxConformance runs every importable backend test model on its
// test_data_set_0 inputs and compares the outputs with ONNX's reference
// outputs. It tests the ops more than this package, so it only runs when
// SHEARS_ONNX_CONFORMANCE=1.
func TestLibonnxConformance(t *testing.T) {
	if os.Getenv("SHEARS_ONNX_CONFORMANCE") == "" {
		t.Skip("set SHEARS_ONNX_CONFORMANCE=1 to run the ONNX backend test models")
	}
	files := testdataModels(t)
	pass, fail, skipped := 0, 0, 0
	for _, f := range files {
		test := filepath.Base(filepath.Dir(f))
		g, err := Load(f)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return standIns[n.Op] }) {
			skipped++
			continue
		}
		dir := filepath.Join(filepath.Dir(f), "test_data_set_0")
		var ins, wants []*tensor.Tensor
		for k := range g.Inputs {
			ins = append(ins, readTensorFile(t, filepath.Join(dir, fmt.Sprintf("input_%d.pb", k))))
		}
		for k := range g.Outputs {
			wants = append(wants, readTensorFile(t, filepath.Join(dir, fmt.Sprintf("output_%d.pb", k))))
		}
		if slices.Contains(ins, nil) || slices.Contains(wants, nil) {
			skipped++
			continue
		}
		if strings.HasPrefix(test, "test_training_dropout") {
			skipped++ // random masks
			continue
		}
		p, err := graph.Compile(g)
		if err != nil && strings.Contains(err.Error(), "must be a constant") {
			skipped++ // shears wants shape-like inputs as params
			continue
		}
		if err != nil {
			fail++
			t.Errorf("%s: compile: %v", test, err)
			continue
		}
		outs, err := p.Forward(false, ins...)
		if err != nil {
			fail++
			t.Errorf("%s: forward: %v", test, err)
			continue
		}
		ok := true
		for k, want := range wants {
			if msg := closeTo(outs[k], want); msg != "" {
				ok = false
				t.Errorf("%s: output %d: %s", test, k, msg)
			}
		}
		if ok {
			pass++
		} else {
			fail++
		}
	}
	t.Logf("%d pass, %d fail, %d skipped", pass, fail, skipped)
}

func readTensorFile(t *testing.T, path string) *tensor.Tensor {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(b, &tp); err != nil {
		t.Errorf("%s: %v", path, err)
		return nil
	}
	x, err := tensorFromProto(&tp)
	if err != nil {
		return nil
	}
	return x
}

func closeTo(got, want *tensor.Tensor) string {
	if !tensor.SameShape(got.Shape, want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := range want.Data {
		g, w := float64(got.Data[i]), float64(want.Data[i])
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.Abs(g-w) > 1e-4+1e-3*math.Abs(w) {
			return fmt.Sprintf("element %d is %v, want %v", i, g, w)
		}
	}
	return ""
}
