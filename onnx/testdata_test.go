package onnx

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/testutil"
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
	t.Logf("supported ops: %v; test stand-ins: %v", cpu.SupportedOps(), standIns)
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

// conformanceReport is where TestConformance writes its per-op table:
//
//	go test -run TestConformance ./onnx/ -args -report conformance.md
var conformanceReport = flag.String("report", "", "TestConformance: write the per-op Markdown table to this file")

// conformanceDirs are the ONNX backend test suites TestConformance runs.
var conformanceDirs = []string{"node", "pytorch-converted", "pytorch-operator"}

// Tolerances of ONNX's backend test runner (onnx/backend/test/loader:
// rtol 1e-3, atol 1e-7, numpy.testing.assert_allclose).
const (
	conformanceRtol = 1e-3
	conformanceAtol = 1e-7
)

// knownFailures are supported backend tests that fail because of bugs
// outside this package, with the reason. TestConformance reports them as
// failed without failing, and fails when one passes (remove it then).
var knownFailures = map[string]string{
	// The training_mode input (BOOL, true) turns dropout on: the expected
	// outputs come from numpy's random mask, which no other runtime draws.
	"node/test_training_dropout":              "dropout in training mode draws its own random mask",
	"node/test_training_dropout_default":      "dropout in training mode draws its own random mask",
	"node/test_training_dropout_default_mask": "dropout in training mode draws its own random mask",
	"node/test_training_dropout_mask":         "dropout in training mode draws its own random mask",
	// sequence_lens is an INT32 graph input here.
	"node/test_lstm_with_peepholes": "LSTM sequence_lens shorter than the sequence is not supported",
}

// conformanceResult is the outcome of one backend test.
type conformanceResult int

const (
	unsupported conformanceResult = iota // an op shears lacks, or refused at import
	passed
	failed
)

// TestConformance runs ONNX's backend tests (Debian's libonnx-testdata:
// node, pytorch-converted, pytorch-operator) on every test data set. A test
// is supported when all its ops are registered and the import succeeds; a
// supported test must compile, run and match the reference outputs within
// ONNX's tolerances, else the test fails. Models the reader refuses (an
// integer or boolean graph input, a non-batch symbolic dimension, an
// attribute an op does not support ...) count as unsupported.
func TestConformance(t *testing.T) {
	var files []string
	for _, dir := range conformanceDirs {
		m, _ := filepath.Glob(filepath.Join(libonnxTestdata, dir, "*", "model.onnx"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("skipping: no ONNX backend tests under %s (apt-get install libonnx-testdata)", libonnxTestdata)
	}
	sort.Strings(files)
	type opCount struct{ total, supported, passed int }
	perOp := map[string]*opCount{}
	var counts [3]int
	refusals := map[string]int{}
	for _, f := range files {
		suite := filepath.Base(filepath.Dir(filepath.Dir(f)))
		test := suite + "/" + filepath.Base(filepath.Dir(f))
		ops, err := modelOps(f)
		if err != nil {
			t.Errorf("%s: %v", test, err)
			continue
		}
		var res conformanceResult
		var why string
		if reason, known := knownFailures[test]; known {
			res, why = runConformance(&quiet{}, f, test)
			if res == passed {
				t.Errorf("%s passes now: remove it from knownFailures (%s)", test, reason)
			} else {
				t.Logf("%s: known failure: %s", test, reason)
			}
		} else {
			res, why = runConformance(t, f, test)
		}
		counts[res]++
		if res == unsupported && why != "" {
			refusals[why]++
		}
		for _, op := range ops {
			c := perOp[op]
			if c == nil {
				c = &opCount{}
				perOp[op] = c
			}
			c.total++
			if res != unsupported {
				c.supported++
			}
			if res == passed {
				c.passed++
			}
		}
	}
	t.Logf("%d backend tests: %d passed, %d failed, %d unsupported", len(files), counts[passed], counts[failed], counts[unsupported])
	if testing.Verbose() {
		var rs []string
		for r, n := range refusals {
			rs = append(rs, fmt.Sprintf("%3d× %s", n, r))
		}
		sort.Strings(rs)
		t.Logf("refused at import:\n%s", strings.Join(rs, "\n"))
	}
	if *conformanceReport == "" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d ONNX backend tests (%s): %d supported, %d passed, %d failed.\n\n",
		len(files), strings.Join(conformanceDirs, ", "), counts[passed]+counts[failed], counts[passed], counts[failed])
	b.WriteString("| op | tests | supported | passed |\n| --- | ---: | ---: | ---: |\n")
	var names []string
	for op := range perOp {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		c := perOp[op]
		if c.supported == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", op, c.total, c.supported, c.passed)
	}
	var none, refused []string
	for _, op := range names {
		if perOp[op].supported == 0 {
			if cpu.Supported(op) && !standIns[op] {
				refused = append(refused, op)
			} else {
				none = append(none, op)
			}
		}
	}
	fmt.Fprintf(&b, "\nOps shears has whose tests are all refused at import (integer inputs, opset 1): %s.\n", strings.Join(refused, ", "))
	fmt.Fprintf(&b, "\nOps shears does not have (%d): %s.\n", len(none), strings.Join(none, ", "))
	if err := os.WriteFile(*conformanceReport, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// modelOps lists the distinct op types of a model file.
func modelOps(path string) ([]string, error) {
	m, err := readModelProto(path)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ops []string
	for _, n := range m.GetGraph().GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + "." + op
		}
		if !seen[op] {
			seen[op] = true
			ops = append(ops, op)
		}
	}
	return ops, nil
}

func readModelProto(path string) (*onnxpb.ModelProto, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// readReference reads a reference output. ONNX's test generator stored
// BFLOAT16 outputs as UINT16 holding the bits: they are reinterpreted when
// the model declares the output BFLOAT16.
func readReference(t errorfer, path string, declared int32) *tensor.Tensor {
	if declared == int32(onnxpb.TensorProto_BFLOAT16) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var tp onnxpb.TensorProto
		if err := proto.Unmarshal(b, &tp); err == nil && tp.GetDataType() == int32(onnxpb.TensorProto_UINT16) {
			tp.DataType = ptr(declared)
			x, err := tensorFromProto(&tp)
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
			return x
		}
	}
	return readTensorFile(t, path)
}

// runConformance runs one backend test on all its data sets. For an
// unsupported test, why is the reader's reason (empty for missing ops).
func runConformance(t errorfer, f, test string) (res conformanceResult, why string) {
	g, err := Load(f)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "onnx: "+f+": ")
		if strings.Contains(msg, "unsupported node") {
			return unsupported, ""
		}
		// Group reasons: the text after the value's name.
		if i := strings.Index(msg, ": "); i > 0 {
			msg = msg[i+2:]
		}
		if i := strings.IndexAny(msg, ":("); i > 0 {
			msg = msg[:i]
		}
		return unsupported, strings.TrimSpace(msg)
	}
	if slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return standIns[n.Op] }) {
		return unsupported, "" // a test-only shape stand-in
	}
	sets, _ := filepath.Glob(filepath.Join(filepath.Dir(f), "test_data_set_*"))
	if len(sets) == 0 {
		t.Errorf("%s: no test data sets", test)
		return failed, ""
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: panic: %v", test, r)
			res = failed
		}
	}()
	p, err := cpu.Compile(g)
	if err != nil && strings.Contains(err.Error(), "must be a constant (initializer)") {
		// A shape, axes or indices input the test feeds at run time (an
		// integer graph input): the IR wants them fixed, and says so.
		return unsupported, "a shape-like input fed at run time"
	}
	if err != nil {
		t.Errorf("%s: compile: %v", test, err)
		return failed, ""
	}
	mp, err := readModelProto(f)
	if err != nil {
		t.Errorf("%s: %v", test, err)
		return failed, ""
	}
	declared := map[string]int32{}
	for _, o := range mp.GetGraph().GetOutput() {
		declared[o.GetName()] = o.GetType().GetTensorType().GetElemType()
	}
	for _, dir := range sets {
		var ins, wants []*tensor.Tensor
		for k := range g.Inputs {
			ins = append(ins, readTensorFile(t, filepath.Join(dir, fmt.Sprintf("input_%d.pb", k))))
		}
		for k := range g.Outputs {
			wants = append(wants, readReference(t, filepath.Join(dir, fmt.Sprintf("output_%d.pb", k)), declared[g.Outputs[k].Name]))
		}
		if slices.Contains(ins, nil) || slices.Contains(wants, nil) {
			t.Errorf("%s: %s: missing or unreadable inputs or outputs", test, filepath.Base(dir))
			return failed, ""
		}
		outs, err := p.Forward(false, ins...)
		if err != nil {
			t.Errorf("%s: %s: forward: %v", test, filepath.Base(dir), err)
			return failed, ""
		}
		ok := true
		for k, want := range wants {
			if msg := testutil.MismatchTensors(outs[k], want, conformanceAtol, conformanceRtol); msg != "" {
				ok = false
				t.Errorf("%s: %s: output %d (%s): %s", test, filepath.Base(dir), k, g.Outputs[k].Name, msg)
			}
		}
		if !ok {
			return failed, ""
		}
	}
	return passed, ""
}

// errorfer reports errors: a *testing.T, or quiet for known failures.
type errorfer interface {
	Errorf(format string, args ...any)
}

// quiet swallows errors.
type quiet struct{}

func (quiet) Errorf(string, ...any) {}

func readTensorFile(t errorfer, path string) *tensor.Tensor {
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
