package cpu_test

import (
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend"
	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

func input(shape ...int) *tensor.Tensor {
	return testutil.NormalTensor(testutil.NewRand(3, 4), shape...)
}

// The backend's programs compute what graph's do: a training program
// bit-identically, an inference program (BatchNorm folded, activations
// fused) to float32 rounding.
func TestBackendPrograms(t *testing.T) {
	var b backend.Backend = cpu.Backend{}
	if b.Name() != "cpu" {
		t.Errorf("name %q", b.Name())
	}
	m, _ := zoo.Get("resnet20")
	x := input(2, 1, 28, 28)
	ref, err := cpu.Compile(m.Build(1))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	train, err := b.Compile(m.Build(1), backend.Training)
	if err != nil {
		t.Fatal(err)
	}
	got, err := train.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range want[0].Data {
		if got[0].Data[i] != v {
			t.Fatalf("training program: output %d is %g, graph's %g", i, got[0].Data[i], v)
		}
	}
	if _, err := train.Forward(true, x); err != nil {
		t.Fatal(err)
	}
	if err := train.Backward(tensor.New(2, 10)); err != nil {
		t.Fatal(err)
	}
	g := m.Build(1)
	trainable := ""
	for _, p := range g.Params {
		if p.Trainable {
			trainable = p.Name
			break
		}
	}
	if train.Grad(trainable) == nil {
		t.Errorf("no gradient for %s", trainable)
	}
	if s := train.Shape(g.Outputs[0].Name); len(s) != 2 || s[0] != 2 || s[1] != 10 {
		t.Errorf("output shape %v", s)
	}

	inf, err := b.Compile(m.Build(1), backend.Inference)
	if err != nil {
		t.Fatal(err)
	}
	got, err = inf.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range want[0].Data {
		if d := math.Abs(float64(got[0].Data[i] - v)); d > 1e-4*(1+math.Abs(float64(v))) {
			t.Fatalf("inference program: output %d is %g, graph's %g", i, got[0].Data[i], v)
		}
	}
	if _, err := inf.Forward(true, x); err == nil || !strings.Contains(err.Error(), "inference only") {
		t.Errorf("a training step on an inference program: %v", err)
	}
	if _, err := b.Compile(m.Build(1), backend.Mode(7)); err == nil || !strings.Contains(err.Error(), "Mode(7)") {
		t.Errorf("an unknown mode: %v", err)
	}
}

// A graph that does not compile is an error from the backend, not a nil
// program.
func TestBackendCompileError(t *testing.T) {
	g := &graph.Graph{Name: "bad", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 3}}}, Outputs: []graph.ValueInfo{{Name: "y"}},
		Nodes: []*graph.Node{{Name: "u", Op: "NoSuchOp", Inputs: []string{"x"}, Outputs: []string{"y"}}}}
	for _, mode := range []backend.Mode{backend.Training, backend.Inference} {
		p, err := cpu.Backend{}.Compile(g, mode)
		if err == nil || p != nil || !strings.Contains(err.Error(), "unsupported op type NoSuchOp") {
			t.Errorf("%v: program %v, error %v", mode, p, err)
		}
	}
}
