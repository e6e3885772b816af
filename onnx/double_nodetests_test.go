package onnx

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

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
		if err := runAsFloat(t, g, filepath.Dir(f), test); err != nil {
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

// runAsFloat runs every data set of a test on g.
func runAsFloat(t *testing.T, g *graph.Graph, dir, test string) error {
	p, err := graph.Compile(g)
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
			x := readTensorFile(t, filepath.Join(set, fmt.Sprintf("input_%d.pb", k)))
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
