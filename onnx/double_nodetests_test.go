package onnx

import (
	"fmt"
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

// doubleNodeTests are the backend node tests, of ops shears has, whose
// only reason to be refused is that ONNX wrote them in float64: all of
// Einsum's and ReduceLogSumExp's.
var doubleNodeTests = []string{"test_einsum_*", "test_reduce_log_sum_exp_*"}

// TestDoubleNodeTestsAsFloat runs those tests with their float64 inputs,
// outputs and initializers declared float32 (the IR's type): the reader
// rounds the data to float32, and the outputs must match the float64
// references within ONNX's tolerances. Counts are logged per op.
func TestDoubleNodeTestsAsFloat(t *testing.T) {
	var files []string
	for _, pat := range doubleNodeTests {
		m, _ := filepath.Glob(filepath.Join(libonnxTestdata, "node", pat, "model.onnx"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("skipping: no ONNX backend tests under %s (apt-get install libonnx-testdata)", libonnxTestdata)
	}
	sort.Strings(files)
	passed, total := map[string]int{}, map[string]int{}
	for _, f := range files {
		test := filepath.Base(filepath.Dir(f))
		m, err := readModelProto(f)
		if err != nil {
			t.Fatal(err)
		}
		op := m.GetGraph().GetNode()[0].GetOpType()
		total[op]++
		gp := m.GetGraph()
		for _, vs := range [][]*onnxpb.ValueInfoProto{gp.GetInput(), gp.GetOutput(), gp.GetValueInfo()} {
			for _, v := range vs {
				if tt := v.GetType().GetTensorType(); tt != nil && tt.GetElemType() == int32(onnxpb.TensorProto_DOUBLE) {
					tt.ElemType = ptr(int32(onnxpb.TensorProto_FLOAT))
				}
			}
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Decode(b, test)
		if err != nil {
			t.Errorf("%s: %v", test, err)
			continue
		}
		if err := runAsFloat(t, g, filepath.Dir(f), nil); err != nil {
			t.Errorf("%s: %v", test, err)
			continue
		}
		passed[op]++
	}
	var counts []string
	for op, n := range total {
		counts = append(counts, fmt.Sprintf("%s %d/%d", op, passed[op], n))
	}
	sort.Strings(counts)
	t.Logf("float64 node tests run in float32: %s", strings.Join(counts, ", "))
}

// runAsFloat runs every data set of a test on g; files[k] is the index of
// the input file that holds g's input k (nil: k itself).
func runAsFloat(t *testing.T, g *graph.Graph, dir string, files []int) error {
	p, err := cpu.Compile(g)
	if err != nil {
		return fmt.Errorf("compile: %v", err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return fmt.Errorf("no test data sets")
	}
	for _, set := range sets {
		var ins []*tensor.Tensor
		for k := range g.Inputs {
			file := k
			if files != nil {
				file = files[k]
			}
			x := readTensorFile(t, filepath.Join(set, fmt.Sprintf("input_%d.pb", file)))
			if x == nil {
				return fmt.Errorf("%s: input %d unreadable", filepath.Base(set), k)
			}
			ins = append(ins, x)
		}
		outs, err := p.Forward(false, ins...)
		if err != nil {
			return fmt.Errorf("%s: forward: %v", filepath.Base(set), err)
		}
		for k := range g.Outputs {
			want := readTensorFile(t, filepath.Join(set, fmt.Sprintf("output_%d.pb", k)))
			if want == nil {
				return fmt.Errorf("%s: output %d unreadable", filepath.Base(set), k)
			}
			if msg := testutil.MismatchTensors(outs[k], want, conformanceAtol, conformanceRtol); msg != "" {
				return fmt.Errorf("%s: output %d: %s", filepath.Base(set), k, msg)
			}
		}
	}
	return nil
}

// TestFullLengthSequenceLens runs test_lstm_with_peepholes, whose only
// reason to be refused is its INT32 sequence_lens graph input, without
// it: every length in its data is the full sequence, which is what an
// absent sequence_lens means.
func TestFullLengthSequenceLens(t *testing.T) {
	f := filepath.Join(libonnxTestdata, "node", "test_lstm_with_peepholes", "model.onnx")
	m, err := readModelProto(f)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	gp := m.GetGraph()
	n := gp.GetNode()[0]
	lens := n.GetInput()[4]
	var files []int
	var inputs []*onnxpb.ValueInfoProto
	for k, v := range gp.GetInput() {
		if v.GetName() == lens {
			continue
		}
		files = append(files, k)
		inputs = append(inputs, v)
	}
	skipped := slices.IndexFunc(gp.GetInput(), func(v *onnxpb.ValueInfoProto) bool { return v.GetName() == lens })
	sets, _ := filepath.Glob(filepath.Join(filepath.Dir(f), "test_data_set_*"))
	for _, set := range sets {
		l := readTensorFile(t, filepath.Join(set, fmt.Sprintf("input_%d.pb", skipped)))
		x := readTensorFile(t, filepath.Join(set, "input_0.pb"))
		if l == nil || x == nil {
			t.Fatalf("%s: unreadable inputs", set)
		}
		for _, v := range l.Data {
			if int(v) != x.Shape[0] {
				t.Skipf("%s: sequence_lens %v is not the full length %d", set, l.Data, x.Shape[0])
			}
		}
	}
	gp.Input = inputs
	n.Input[4] = ""
	g, err := Decode(mustMarshal(t, m), "test_lstm_with_peepholes")
	if err != nil {
		t.Fatal(err)
	}
	if err := runAsFloat(t, g, filepath.Dir(f), files); err != nil {
		t.Error(err)
	}
}
