package onnx

import (
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/testutil"
)

// gated is a linear layer whose output is scaled by sigmoid(gate), a
// learned gate: the gate is read by a node with only params as inputs, so
// it would fold into a constant on import unless it trains.
func gated() *graph.Graph {
	r := rand.New(rand.NewPCG(5, 6))
	g := &graph.Graph{
		Name:    "gated",
		Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{-1, 4}}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{-1, 3}}},
	}
	g.AddParam("w", testutil.UniformTensor(r, 4, 3), true)
	g.AddParam("gate", testutil.UniformTensor(r, 1, 3, 1), false)
	g.Nodes = []*graph.Node{
		{Name: "mm", Op: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}},
		{Name: "sig", Op: "Sigmoid", Inputs: []string{"gate"}, Outputs: []string{"s"}},
		{Name: "flat", Op: "Flatten", Inputs: []string{"s"}, Outputs: []string{"s2"}, Attrs: graph.Attrs{"axis": 0}},
		{Name: "mul", Op: "Mul", Inputs: []string{"h", "s2"}, Outputs: []string{"y"}},
	}
	graph.LabelAxes(g)
	return g
}

func TestTrainOverridesRoundTrip(t *testing.T) {
	g := gated()
	if g.Param("gate").Trainable {
		t.Fatal("the gate trains before any override: the test graph no longer tests overrides")
	}
	// Without an override the gate is a constant, folded away on import.
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decode(b, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if plain.Param("gate") != nil {
		t.Fatal("an untrained gate was not folded: the test no longer shows that overrides keep it")
	}

	if err := g.SetTrainable("gate", true); err != nil {
		t.Fatal(err)
	}
	if err := g.SetTrainable("w", false); err != nil {
		t.Fatal(err)
	}
	b, err = Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b, "gated")
	if err != nil {
		t.Fatal(err)
	}
	gate, w := back.Param("gate"), back.Param("w")
	if gate == nil || !gate.Trainable {
		t.Fatalf("after reload the gate is %+v, want a trainable param", gate)
	}
	if w == nil || w.Trainable {
		t.Fatalf("after reload the frozen weight is %+v, want it untrained", w)
	}
	if _, ok := back.Meta[TrainableKey]; ok {
		t.Errorf("%s left in Graph.Meta: it would be written twice", TrainableKey)
	}
	// The overrides survive a relabelling and a second round trip.
	graph.LabelAxes(back)
	if !back.Param("gate").Trainable || back.Param("w").Trainable {
		t.Error("LabelAxes dropped the overrides")
	}
	b2, err := Encode(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b2) != string(b) {
		t.Error("a reloaded graph with overrides encodes differently")
	}
}

// withMeta re-encodes model bytes with one more metadata entry.
func withMeta(t *testing.T, b []byte, key, value string) []byte {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(key), Value: ptr(value)})
	out, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTrainOverridesRefused(t *testing.T) {
	b, err := Encode(gated())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ value, want string }{
		{`{"gate": true, "ghost": true}`, `"ghost"`},
		{`{"w": 1}`, TrainableKey},
		{`["gate"]`, TrainableKey},
	} {
		_, err := Decode(withMeta(t, b, TrainableKey, c.value), "bad")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %s: error %v, want one naming %s", TrainableKey, c.value, err, c.want)
		}
	}
}

func TestTrainOverridesOfRemovedParams(t *testing.T) {
	g := gated()
	if err := g.SetTrainable("gate", true); err != nil {
		t.Fatal(err)
	}
	// Pruning or folding may remove a param with an override: the file
	// then says nothing about it, and loads.
	g.Params = g.Params[:1]
	g.Nodes = g.Nodes[:1]
	g.Outputs = []graph.ValueInfo{{Name: "h", Shape: []int{-1, 3}}}
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b, "pruned")
	if err != nil {
		t.Fatal(err)
	}
	if len(back.TrainOverrides) != 0 {
		t.Errorf("overrides %v written for params the graph no longer has", back.TrainOverrides)
	}
}
