package onnx

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/zoo"
)

// sparseLeNet300 is lenet300 with every weight matrix's smallest values by
// magnitude zeroed, keeping keep of them (biases stay dense).
func sparseLeNet300(keep float64) *graph.Graph {
	g := zoo.LeNet300(1)
	var mags []float64
	for _, p := range g.Params {
		if len(p.Value.Shape) == 2 {
			for _, v := range p.Value.Data {
				mags = append(mags, math.Abs(float64(v)))
			}
		}
	}
	slices.Sort(mags)
	cut := mags[int(float64(len(mags))*(1-keep))]
	for _, p := range g.Params {
		if len(p.Value.Shape) == 2 {
			for i, v := range p.Value.Data {
				if math.Abs(float64(v)) < cut {
					p.Value.Data[i] = 0
				}
			}
		}
	}
	return g
}

func TestSparseInitializersRoundTrip(t *testing.T) {
	g := sparseLeNet300(0.02)
	dense, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	sparse, err := EncodeWith(g, SaveOptions{SparseInitializers: true})
	if err != nil {
		t.Fatal(err)
	}
	if ratio := float64(len(dense)) / float64(len(sparse)); ratio < 15 {
		t.Errorf("98%%-sparse lenet300: dense %d bytes, sparse %d: %.1f× smaller, want ≥ 15×", len(dense), len(sparse), ratio)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(sparse, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range m.Graph.SparseInitializer {
		names = append(names, sp.GetValues().GetName())
	}
	for _, p := range g.Params {
		zeros := 0
		for _, v := range p.Value.Data {
			if v == 0 {
				zeros++
			}
		}
		frac := float64(zeros) / float64(len(p.Value.Data))
		want := frac >= DefaultSparseMinZeros && len(p.Value.Data) >= minSparseElements
		if slices.Contains(names, p.Name) != want {
			t.Errorf("param %q %v, %.2f zeros: sparse %v, want %v", p.Name, p.Value.Shape, frac, !want, want)
		}
	}
	if len(names) < 2 {
		t.Errorf("sparse initializers %v, want at least fc1's and fc2's weights", names)
	}
	back, err := Decode(sparse, "sparse.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Params {
		q := back.Param(p.Name)
		if q == nil || !slices.Equal(q.Value.Shape, p.Value.Shape) || !slices.Equal(q.Value.Data, p.Value.Data) {
			t.Fatalf("param %q differs after the round trip", p.Name)
		}
	}
	// A dense model stays dense: nothing reaches the threshold.
	plain, err := EncodeWith(zoo.LeNet300(1), SaveOptions{SparseInitializers: true})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := Encode(zoo.LeNet300(1)); len(plain) != len(d) {
		t.Errorf("a dense model written with SparseInitializers: %d bytes, %d without", len(plain), len(d))
	}
}

// withSparse encodes lenet300 with its first weight (fc1.weight, 300×784)
// replaced by a hand-built sparse initializer.
func withSparse(t *testing.T, sp func(name string) *onnxpb.SparseTensorProto) []byte {
	t.Helper()
	b, err := Encode(zoo.LeNet300(1))
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for i, tp := range m.Graph.Initializer {
		if len(tp.Dims) == 2 {
			m.Graph.Initializer = slices.Delete(m.Graph.Initializer, i, i+1)
			m.Graph.SparseInitializer = append(m.Graph.SparseInitializer, sp(tp.GetName()))
			return mustMarshal(t, &m)
		}
	}
	t.Fatal("no weight matrix")
	return nil
}

func int64Raw(v ...int64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

func TestSparseInitializerForms(t *testing.T) {
	dims := []int64{300, 784}
	linear := func(idx ...int64) func(string) *onnxpb.SparseTensorProto {
		return func(name string) *onnxpb.SparseTensorProto {
			vals := make([]float32, len(idx))
			for i := range vals {
				vals[i] = float32(i + 1)
			}
			return &onnxpb.SparseTensorProto{Values: floatInit(name, []int64{int64(len(idx))}, vals...),
				Indices: &onnxpb.TensorProto{Dims: []int64{int64(len(idx))}, DataType: ptr(int32(int64T)), RawData: int64Raw(idx...)}, Dims: dims}
		}
	}
	coords := func(c ...int64) func(string) *onnxpb.SparseTensorProto {
		return func(name string) *onnxpb.SparseTensorProto {
			n := len(c) / 2
			vals := make([]float32, n)
			for i := range vals {
				vals[i] = float32(i + 1)
			}
			return &onnxpb.SparseTensorProto{Values: floatInit(name, []int64{int64(n)}, vals...),
				Indices: &onnxpb.TensorProto{Dims: []int64{int64(n), 2}, DataType: ptr(int32(int64T)), Int64Data: c}, Dims: dims}
		}
	}
	// Both index forms give the same dense tensor.
	for _, b := range [][]byte{withSparse(t, linear(5, 784, 300*784-1)), withSparse(t, coords(0, 5, 1, 0, 299, 783))} {
		g, err := Decode(b, "m.onnx")
		if err != nil {
			t.Fatal(err)
		}
		var w *graph.Param
		for _, p := range g.Params {
			if len(p.Value.Shape) == 2 && p.Value.Shape[1] == 784 {
				w = p
			}
		}
		nz := 0
		for _, v := range w.Value.Data {
			if v != 0 {
				nz++
			}
		}
		if nz != 3 || w.Value.Data[5] != 1 || w.Value.Data[784] != 2 || w.Value.Data[300*784-1] != 3 {
			t.Errorf("dense form: %d non-zeros, [5]=%g [784]=%g [last]=%g", nz, w.Value.Data[5], w.Value.Data[784], w.Value.Data[300*784-1])
		}
	}
	mismatch := func(name string) *onnxpb.SparseTensorProto {
		sp := linear(1, 2, 3)(name)
		sp.Values = floatInit(name, []int64{2}, 1, 2)
		return sp
	}
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{withSparse(t, linear(3, 300*784)), "index 235200 (position 1) is out of range [0, 235200)"},
		{withSparse(t, linear(-1)), "index -1 (position 0) is out of range"},
		{withSparse(t, linear(9, 4)), "indices are not sorted: 4 at position 1 follows 9"},
		{withSparse(t, linear(4, 4)), "index 4 is given twice (positions 0 and 1)"},
		{withSparse(t, mismatch), "2 values but indices of dims [3] holding 3 numbers"},
		{withSparse(t, coords(0, 784)), "index 0: coordinate 784 on axis 1 is out of range [0, 784)"},
		{withSparse(t, coords(1, 1, 0, 3)), "indices are not sorted"},
	} {
		decodeErr(t, tc.b, `sparse initializer "fc1.weight"`, tc.want)
	}
}
