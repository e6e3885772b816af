package prune

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/zoo"
)

func TestPruneErrors(t *testing.T) {
	g := zoo.LeNet5(1)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	conv2 := groupOf(t, d, "conv2")
	for _, tc := range []struct {
		keep []int
		want string
	}{
		{nil, "keep at least one of its 50 channels"},
		{[]int{0, 50}, "channel 50 out of range [0, 50)"},
		{[]int{3, 3}, "channel 3 kept twice"},
	} {
		err := Prune(g, conv2, tc.keep)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("keep %v: error %v, want %q", tc.keep, err, tc.want)
		}
		if _, err := MaskGroups(g, map[*Group][]int{conv2: tc.keep}); err == nil {
			t.Errorf("MaskGroups accepted keep %v", tc.keep)
		}
	}
	if err := Prune(g, conv2, []int{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if got := g.Param("fc1.weight").Value.Shape; !slices.Equal(got, []int{500, 48}) {
		t.Errorf("fc1.weight is %v after keeping 3 channels of conv2, want 500×48", got)
	}
	// The analysis is stale now.
	err = Prune(g, groupOf(t, d, "conv1"), []int{0})
	if err == nil || !strings.Contains(err.Error(), "changed since Analyze") {
		t.Errorf("pruning with a stale analysis: %v", err)
	}
}

// A pruning that would empty a value is refused and leaves the graph as it
// was.
func TestPruneIsAtomic(t *testing.T) {
	b := newGB("split", 3, 6, 6)
	x := b.cbr("c0", "x", 3, 12, 3)
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "split", Op: "Split", Inputs: []string{x},
		Outputs: []string{"s0", "s1"}, Attrs: graph.Attrs{"axis": 1}})
	g := b.head(b.op("add", "Add", nil, b.cbr("a", "s0", 6, 5, 3), b.cbr("b", "s1", 6, 5, 1)), 5)
	pruneBothWays(t, g, 10) // equal parts become an explicit split attribute
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	before := g.Clone()
	err = Prune(g, groupOf(t, d, "c0"), []int{6, 7, 8})
	if err == nil || !strings.Contains(err.Error(), "value s0 would have no channels left") {
		t.Fatalf("error %v", err)
	}
	for i, p := range g.Params {
		if !slices.Equal(p.Value.Shape, before.Params[i].Value.Shape) {
			t.Errorf("%s changed to %v", p.Name, p.Value.Shape)
		}
	}
	// Equal splits get explicit sizes once they differ.
	if err := Prune(g, groupOf(t, d, "c0"), []int{0, 1, 6, 7, 8, 9, 10}); err != nil {
		t.Fatal(err)
	}
	if s, _ := g.Node("split").Attrs.Ints("split", nil); !slices.Equal(s, []int{2, 5}) {
		t.Errorf("split sizes %v, want [2 5]", s)
	}
}

// In the masked model a removed channel is exactly zero after its
// BatchNorm: γ and β are masked along with the filter.
func TestMaskedChannelsAreZero(t *testing.T) {
	g := zoo.ResNet20(1)
	r := rand.New(rand.NewPCG(1, 2))
	randomizeBN(g, r)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := MaskGroups(g, randomKeep(d, r))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Forward(false, randInput(g, 2, r)...); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, n := range g.Nodes {
		mk := m[n.Inputs[min(1, len(n.Inputs)-1)]]
		if n.Op != "BatchNormalization" || mk == nil {
			continue
		}
		y := p.Value(n.Outputs[0])
		c, hw := y.Shape[1], y.Shape[2]*y.Shape[3]
		for ch, keep := range mk.Data {
			if keep != 0 {
				continue
			}
			for i := range y.Shape[0] {
				for _, v := range y.Data[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					if v != 0 {
						t.Fatalf("%s channel %d is masked but outputs %v", n.Name, ch, v)
					}
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no masked BatchNorm channel checked")
	}
}

func TestMasksTrainingAndSparsity(t *testing.T) {
	g := zoo.LeNet300(1)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	fc1 := groupOf(t, d, "fc1")
	keep := make([]int, 210)
	for i := range keep {
		keep[i] = i
	}
	m, err := MaskGroups(g, map[*Group][]int{fc1: keep})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.names(), []string{"fc1.bias", "fc1.weight", "fc2.weight"}) {
		t.Errorf("masks for %v", m.names())
	}
	per, total := m.Sparsity(g)
	want := map[string]int{"fc1.weight": 90 * 784, "fc1.bias": 90, "fc2.weight": 90 * 100}
	for _, s := range per {
		if s.Pruned != want[s.Param] {
			t.Errorf("%s", s)
		}
	}
	if total.Size != g.NumParams() || total.Pruned != 90*784+90+90*100 {
		t.Errorf("%s, want %d of %d", total, 90*784+90+90*100, g.NumParams())
	}

	trainMasked(t, zoo.LeNet300(1), m)
	// Unstructured masks (gradients of masked weights are not zero then)
	// with momentum left from before pruning: both hooks are needed.
	g = zoo.LeNet300(1)
	u := Masks{}
	for _, name := range []string{"fc1.weight", "fc2.bias"} {
		mk := tensor.New(g.Param(name).Value.Shape...)
		for i := range mk.Data {
			mk.Data[i] = float32(min(i%3, 1))
		}
		u[name] = mk
	}
	trainMasked(t, g, u)
	if err := (Masks{"nope": mk1()}).Apply(g); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("mask for a missing param: %v", err)
	}
	if err := (Masks{"fc1.bias": mk1()}).Apply(g); err == nil || !strings.Contains(err.Error(), "has shape") {
		t.Errorf("mask of the wrong shape: %v", err)
	}
}

// trainMasked trains g for 4 SGD steps with masks attached, starting from
// a non-zero momentum buffer, and checks that masked weights stay zero and
// unmasked ones move.
func trainMasked(t *testing.T, g *graph.Graph, m Masks) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	ds := &data.Dataset{Name: "noise", N: 64, C: 1, H: 28, W: 28, Classes: 10, Std: 1,
		Images: make([]float32, 64*784), Labels: make([]uint8, 64)}
	for i := range ds.Images {
		ds.Images[i] = float32(r.NormFloat64())
	}
	for i := range ds.Labels {
		ds.Labels[i] = uint8(r.IntN(10))
	}
	velocity := map[string][]float32{}
	for _, p := range g.Params {
		v := make([]float32, p.Value.Len())
		for i := range v {
			v[i] = 0.01
		}
		velocity[p.Name] = v
	}
	cfg := train.Config{Epochs: 1, Batch: 16, LR: 0.1, Optimizer: "sgd", Momentum: 0.9, WeightDecay: 5e-4, Schedule: "constant", Threads: 1}
	tr := &train.Trainer{Graph: g, Config: cfg, Train: ds, Resume: &train.Checkpoint{Optimizer: "sgd", OptState: velocity}}
	steps := 0
	tr.On(train.AfterStep, func(*train.State) error { steps++; return nil })
	if err := m.Attach(tr); err != nil {
		t.Fatal(err)
	}
	before := g.Clone()
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if steps != 4 {
		t.Errorf("the trainer's own AfterStep ran %d times, want 4", steps)
	}
	for name, mk := range m {
		w, w0 := g.Param(name).Value.Data, before.Param(name).Value.Data
		moved := 0
		for i, v := range mk.Data {
			if v == 0 && w[i] != 0 {
				t.Fatalf("%s[%d] is masked but %v after training", name, i, w[i])
			}
			if v != 0 && w[i] != w0[i] {
				moved++
			}
		}
		if moved == 0 {
			t.Errorf("%s: no unmasked weight moved", name)
		}
	}
}

func mk1() *tensor.Tensor {
	t := tensor.New(3)
	t.Fill(1)
	return t
}

func TestMaskGrads(t *testing.T) {
	g := zoo.LeNet300(1)
	mk := tensor.New(g.Param("fc2.weight").Value.Shape...)
	for i := range mk.Data {
		mk.Data[i] = float32(i % 2)
	}
	m := Masks{"fc2.weight": mk}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	y, err := p.Forward(true, randInput(g, 4, r)...)
	if err != nil {
		t.Fatal(err)
	}
	dy := tensor.New(y[0].Shape...)
	dy.Fill(1)
	if err := p.Backward(dy); err != nil {
		t.Fatal(err)
	}
	m.MaskGrads(p)
	kept := 0
	for i, v := range p.Grad("fc2.weight").Data {
		if mk.Data[i] == 0 && v != 0 {
			t.Fatalf("masked gradient %d is %v", i, v)
		}
		if mk.Data[i] != 0 && v != 0 {
			kept++
		}
	}
	if kept == 0 {
		t.Error("every gradient is zero")
	}
}

func TestSliceElems(t *testing.T) {
	d, err := Analyze(zoo.LeNet5(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range groupOf(t, d, "conv2").Slices {
		if s.Param != "fc1.weight" {
			continue
		}
		if s.Axis != 1 || s.Role != graph.AxisIn || s.Span != 16 {
			t.Errorf("fc1 slice %+v", s)
		}
		if lo, hi, ok := s.Elems(3); !ok || lo != 48 || hi != 64 {
			t.Errorf("channel 3 owns fc1 inputs %d:%d (%v), want 48:64", lo, hi, ok)
		}
		if _, _, ok := s.Elems(50); ok {
			t.Error("channel 50 of a 50-channel group")
		}
		return
	}
	t.Fatal("no fc1.weight slice in conv2's group")
}

// A graph that declares a dynamic batch but reshapes to a fixed batch of
// 1 is analysed at batch 1.
func TestFixedBatchReshape(t *testing.T) {
	b := newGB("fixed", 3, 4, 4)
	b.param("shape", ints2t(1, 128))
	y := b.linear("fc", b.op("r", "Reshape", nil, b.cbr("c0", "x", 3, 8, 3), "shape"), 128, 3)
	g := b.done(y)
	d, err := Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	groupOf(t, d, "c0")
}
