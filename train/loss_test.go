package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// vectors is a data set of n random 1×1×d "images" (standard normal) with
// labels label(x).
func vectors(n, d int, seed uint64, label func(x []float32) uint8) *data.Dataset {
	ds := &data.Dataset{Name: "vectors", N: n, C: 1, H: 1, W: d, Classes: 2, Std: 1,
		Images: testutil.NormalFloats(testutil.NewRand(seed, 1), n*d), Labels: make([]uint8, n)}
	for i := range ds.Labels {
		ds.Labels[i] = label(ds.Images[i*d : (i+1)*d])
	}
	return ds
}

// linear adds out = Flatten(x)·Wᵀ + b to g, with small random W.
func linear(g *graph.Graph, name, x string, in, out int, r *rand.Rand) string {
	w := tensor.New(out, in)
	for i := range w.Data {
		w.Data[i] = float32(r.NormFloat64() * 0.1)
	}
	g.AddParam(name+".weight", w, true)
	g.AddParam(name+".bias", tensor.New(out), true)
	g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: "Gemm", Inputs: []string{x, name + ".weight", name + ".bias"},
		Outputs: []string{name}, Attrs: graph.Attrs{"transB": 1}})
	return name
}

// flatGraph is a graph whose input "x" (B×1×1×d) is flattened to "flat".
func flatGraph(d int) *graph.Graph {
	return &graph.Graph{Name: "toy", Meta: map[string]string{},
		Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{-1, 1, 1, d}}},
		Nodes:  []*graph.Node{{Name: "flat", Op: "Flatten", Inputs: []string{"x"}, Outputs: []string{"flat"}, Attrs: graph.Attrs{"axis": 1}}}}
}

// regressionTarget is the function the regression toys learn: y = A·x + c.
var (
	targetA = [2][4]float32{{1, -2, 0.5, 0}, {0.25, 0, -1, 3}}
	targetC = [2]float32{0.5, -1}
)

func regressionTarget(x []float32, y []float32) {
	for k := range y {
		y[k] = targetC[k]
		for j, v := range x {
			y[k] += targetA[k][j] * v
		}
	}
}

// mse is a regression loss: the mean over the batch of Σₖ (outₖ − yₖ)²,
// with y = regressionTarget(x) read from the batch's images. It reads the
// output numbered out and has no notion of accuracy.
type mse struct{ out int }

func (l mse) Loss(outputs []*tensor.Tensor, b Batch, grads []*tensor.Tensor) (LossValue, error) {
	o, x := outputs[l.out], b.Inputs[0]
	n, d := o.Shape[0], o.Shape[1]
	if d != 2 || x.Len() != 4*n {
		return LossValue{}, fmt.Errorf("mse: want B×2 outputs for B×4 inputs, have %s and %s", tensor.ShapeString(o.Shape), tensor.ShapeString(x.Shape))
	}
	var loss float64
	y := make([]float32, d)
	for i := 0; i < n; i++ {
		regressionTarget(x.Data[i*4:(i+1)*4], y)
		for k := range y {
			e := o.Data[i*d+k] - y[k]
			loss += float64(e) * float64(e)
			if grads != nil {
				grads[l.out].Data[i*d+k] = 2 * e / float32(n)
			}
		}
	}
	return LossValue{Loss: loss / float64(n)}, nil
}

// TestCustomLossRegression trains a linear model through a mean squared
// error loss to the exact linear target, and checks the parameter
// gradient the trainer hands to callbacks against a finite difference of
// that loss.
func TestCustomLossRegression(t *testing.T) {
	g := flatGraph(4)
	g.Outputs = []graph.ValueInfo{{Name: linear(g, "fc", "flat", 4, 2, rand.New(rand.NewPCG(1, 2)))}}
	initial := g.Clone()
	cfg := Config{Epochs: 30, Batch: 16, LR: 0.05, Optimizer: "sgd", Momentum: 0.9, Schedule: "constant", Threads: 1, Seed: 3}
	ds := vectors(128, 4, 5, func([]float32) uint8 { return 0 })
	tr := &Trainer{Graph: g, Config: cfg, Train: ds, Loss: mse{}}
	// The first step's inputs and weight gradient, seen after backward.
	var x0 *tensor.Tensor
	var grad0 []float32
	tr.On(AfterBackward, func(s *State) error {
		if s.Step == 0 {
			x0 = s.Batch.Inputs[0].Clone()
			grad0 = append([]float32(nil), s.Program.Grad("fc.weight").Data...)
		}
		return nil
	})
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.TrainLoss > 1e-6 || res.TrainAccuracy != 0 {
		t.Errorf("mse after %d epochs: %g (accuracy %g, want 0: no notion of it)", cfg.Epochs, res.TrainLoss, res.TrainAccuracy)
	}
	for k, row := range targetA {
		for j, a := range row {
			if w := g.Param("fc.weight").Value.Data[k*4+j]; math.Abs(float64(w-a)) > 1e-3 {
				t.Errorf("fc.weight[%d,%d] = %g, want %g", k, j, w, a)
			}
		}
	}

	prog, err := cpu.Compile(initial)
	if err != nil {
		t.Fatal(err)
	}
	lossAt := func() float64 {
		outs, err := prog.Forward(false, x0)
		if err != nil {
			t.Fatal(err)
		}
		v, err := mse{}.Loss(outs, Batch{Inputs: []*tensor.Tensor{x0}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.Loss
	}
	w := initial.Param("fc.weight").Value.Data
	const h = 1e-2 // the loss is quadratic in w: central differences are exact but for rounding
	for i := range w {
		orig := w[i]
		w[i] = orig + h
		up := lossAt()
		w[i] = orig - h
		down := lossAt()
		w[i] = orig
		fd := (up - down) / (2 * h)
		if math.Abs(fd-float64(grad0[i])) > 1e-3*max(1, math.Abs(fd)) {
			t.Errorf("d loss / d fc.weight[%d]: trainer %g, finite difference %g", i, grad0[i], fd)
		}
	}
}

// twoHeads is a loss for a model with a classifier (output 0) and a
// regression head (output 1): cross-entropy plus mean squared error.
type twoHeads struct{}

func (twoHeads) Loss(outputs []*tensor.Tensor, b Batch, grads []*tensor.Tensor) (LossValue, error) {
	ce, err := CrossEntropy{}.Loss(outputs, b, grads)
	if err != nil {
		return LossValue{}, err
	}
	reg, err := mse{out: 1}.Loss(outputs, b, grads)
	return LossValue{Loss: ce.Loss + reg.Loss, Correct: ce.Correct}, err
}

func twoHeadGraph() *graph.Graph {
	g := flatGraph(4)
	r := rand.New(rand.NewPCG(7, 8))
	g.Outputs = []graph.ValueInfo{{Name: linear(g, "cls", "flat", 4, 2, r)}, {Name: linear(g, "reg", "flat", 4, 2, r)}}
	return g
}

// TestTwoOutputs trains both heads of a two-output model through a loss
// that reads both, and checks that a loss reading output 0 only leaves the
// other head without gradient.
func TestTwoOutputs(t *testing.T) {
	byPlane := func(x []float32) uint8 {
		if x[0]+x[1] > 0 {
			return 1
		}
		return 0
	}
	cfg := Config{Epochs: 30, Batch: 16, LR: 0.05, Optimizer: "sgd", Momentum: 0.9, Schedule: "constant", Threads: 1, Seed: 3}
	trainSet, test := vectors(256, 4, 5, byPlane), vectors(256, 4, 6, byPlane)

	g := twoHeadGraph()
	res, err := (&Trainer{Graph: g, Config: cfg, Train: trainSet, Test: test, Loss: twoHeads{}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Evaluation reads output 0 (the classifier); the regression head must
	// have learned its target too, or the loss would not be this low.
	reg, err := mse{out: 1}.Loss(forward(t, g, test), Batch{Inputs: []*tensor.Tensor{images(test)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy < 0.95 || res.TrainAccuracy < 0.9 || reg.Loss > 1e-3 {
		t.Errorf("two heads: test top-1 %.3f, train top-1 %.3f, regression mse %g", res.TestAccuracy, res.TrainAccuracy, reg.Loss)
	}

	g = twoHeadGraph()
	before := g.Clone()
	cfg.Epochs = 2
	if _, err := (&Trainer{Graph: g, Config: cfg, Train: trainSet, Loss: CrossEntropy{}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cls.weight", "reg.weight"} {
		moved := false
		for i, v := range g.Param(name).Value.Data {
			moved = moved || v != before.Param(name).Value.Data[i]
		}
		if moved != (name == "cls.weight") {
			t.Errorf("cross-entropy on output 0: %s moved = %v", name, moved)
		}
	}

	// The default loss does not guess what to do with two outputs.
	_, err = (&Trainer{Graph: twoHeadGraph(), Config: cfg, Train: trainSet}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "2 outputs") {
		t.Errorf("default loss on two outputs: %v", err)
	}
}

// images returns all of ds's images as one batch.
func images(ds *data.Dataset) *tensor.Tensor {
	x := tensor.New(ds.N, ds.C, ds.H, ds.W)
	for i := 0; i < ds.N; i++ {
		ds.ImageInto(x.Data[i*ds.ImageSize():], i)
	}
	return x
}

func forward(t *testing.T, g *graph.Graph, ds *data.Dataset) []*tensor.Tensor {
	t.Helper()
	prog, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := prog.Forward(false, images(ds))
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// hinted is cross-entropy for a two-input model whose second input, a
// one-hot "hint", is the label itself: a model can reach 100% only by
// reading it. calls counts ExtraInputs calls by epoch (−1: evaluation).
type hinted struct {
	CrossEntropy
	calls map[int]int
	bad   bool // return one tensor too many
}

func (h hinted) ExtraInputs(b Batch) ([]*tensor.Tensor, error) {
	h.calls[b.Epoch]++
	hint := tensor.New(len(b.Labels), 2)
	for i, y := range b.Labels {
		hint.Data[i*2+y] = 1
	}
	if h.bad {
		return []*tensor.Tensor{hint, hint}, nil
	}
	return []*tensor.Tensor{hint}, nil
}

func hintGraph() *graph.Graph {
	g := flatGraph(4)
	g.Inputs = append(g.Inputs, graph.ValueInfo{Name: "hint", Shape: []int{-1, 2}})
	r := rand.New(rand.NewPCG(9, 9))
	a, b := linear(g, "fx", "flat", 4, 2, r), linear(g, "fh", "hint", 2, 2, r)
	g.Nodes = append(g.Nodes, &graph.Node{Name: "sum", Op: "Add", Inputs: []string{a, b}, Outputs: []string{"sum"}})
	g.Outputs = []graph.ValueInfo{{Name: "sum"}}
	return g
}

// TestTwoInputs trains a model with a second input that the loss feeds,
// in training and in Run's evaluation; without a feeder it is refused.
func TestTwoInputs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	random := func([]float32) uint8 { return uint8(rnd.IntN(2)) } // nothing to learn from x
	trainSet, test := vectors(64, 4, 1, random), vectors(64, 4, 2, random)
	cfg := Config{Epochs: 3, Batch: 16, LR: 0.1, Optimizer: "sgd", Momentum: 0.9, Schedule: "constant", Threads: 1}
	loss := hinted{calls: map[int]int{}}
	res, err := (&Trainer{Graph: hintGraph(), Config: cfg, Train: trainSet, Test: test, Loss: loss}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy != 1 {
		t.Errorf("test top-1 %.3f with the label as an input", res.TestAccuracy)
	}
	if want := map[int]int{-1: 4, 0: 4, 1: 4, 2: 4}; fmt.Sprint(loss.calls) != fmt.Sprint(want) {
		t.Errorf("ExtraInputs calls by epoch %v, want %v", loss.calls, want)
	}

	for _, tc := range []struct {
		loss Loss
		want string
	}{
		{nil, "2 inputs and 1 outputs"},
		{CrossEntropy{}, "train.InputFeeder"},
		{hinted{calls: map[int]int{}, bad: true}, "the loss gave 2"},
	} {
		_, err := (&Trainer{Graph: hintGraph(), Config: cfg, Train: trainSet, Loss: tc.loss}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loss %T: error %v, want one containing %q", tc.loss, err, tc.want)
		}
	}
	if _, err := Evaluate(context.Background(), hintGraph(), nil, test, 16, nil); err == nil || !strings.Contains(err.Error(), "2 inputs") {
		t.Errorf("Evaluate of a two-input model: %v", err)
	}
}
