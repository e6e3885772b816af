package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

func TestSoftmaxCrossEntropy(t *testing.T) {
	logits, _ := tensor.FromData([]float32{1, 2, 3, 0, 0, 0}, 2, 3)
	grad := tensor.New(2, 3)
	loss, correct, err := SoftmaxCrossEntropy(logits, []int{2, 1}, grad)
	if err != nil {
		t.Fatal(err)
	}
	want := (-math.Log(math.Exp(3)/(math.Exp(1)+math.Exp(2)+math.Exp(3))) + math.Log(3)) / 2
	if math.Abs(loss-want) > 1e-6 || correct != 1 {
		t.Fatalf("loss %v (want %v), correct %d", loss, want, correct)
	}
	// Gradient rows sum to zero and match softmax − onehot over the batch.
	if g := grad.Data[3+1]; math.Abs(float64(g)-(1.0/3-1)/2) > 1e-6 {
		t.Fatalf("grad %v", grad.Data)
	}
	if _, _, err := SoftmaxCrossEntropy(logits, []int{3, 0}, nil); err == nil {
		t.Fatal("label out of range accepted")
	}
}

func oneParam(v ...float32) []*graph.Param {
	w, _ := tensor.FromData(append([]float32(nil), v...), len(v))
	return []*graph.Param{{Name: "w", Value: w, Axes: []graph.AxisRole{graph.AxisNone}, Trainable: true}}
}

func TestSGDMatchesPyTorchRule(t *testing.T) {
	// Two steps of torch.optim.SGD(lr=0.1, momentum=0.9, nesterov, weight_decay=0.01)
	// on w=1 with gradients 0.5 then -0.2, worked by hand:
	// g1=0.51, v=0.51, w=1-0.1*(0.51+0.459)=0.9031
	// g2=-0.2+0.009031=-0.190969, v=0.9*0.51-0.190969=0.268031, w=0.9031-0.1*(-0.190969+0.2412279)
	ps := oneParam(1)
	o := &SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 0.01}
	for _, g := range []float32{0.5, -0.2} {
		gt, _ := tensor.FromData([]float32{g}, 1)
		o.Step(ps, func(string) *tensor.Tensor { return gt }, 0.1)
	}
	want := 0.9031 - 0.1*(-0.190969+0.9*0.268031)
	if got := ps[0].Value.Data[0]; math.Abs(float64(got)-want) > 1e-6 {
		t.Fatalf("w = %v, want %v", got, want)
	}
}

func TestAdamFirstStep(t *testing.T) {
	// Adam's first step moves each weight by lr·sign(g) (bias correction).
	for _, decoupled := range []bool{false, true} {
		ps := oneParam(1, -1)
		o := &Adam{Decoupled: decoupled}
		gt, _ := tensor.FromData([]float32{0.3, -2}, 2)
		o.Step(ps, func(string) *tensor.Tensor { return gt }, 0.01)
		if d := ps[0].Value.Data; math.Abs(float64(d[0])-0.99) > 1e-5 || math.Abs(float64(d[1])+0.99) > 1e-5 {
			t.Fatalf("decoupled=%v: %v", decoupled, d)
		}
	}
}

func TestSchedules(t *testing.T) {
	c := Cosine{Base: 0.1}
	if c.LR(0, 100) != 0.1 || math.Abs(float64(c.LR(50, 100))-0.05) > 1e-7 || c.LR(100, 100) > 1e-9 {
		t.Fatalf("cosine: %v %v %v", c.LR(0, 100), c.LR(50, 100), c.LR(100, 100))
	}
	s := Step{Base: 1, Every: 10, Gamma: 0.1}
	if s.LR(9, 0) != 1 || math.Abs(float64(s.LR(10, 0))-0.1) > 1e-7 {
		t.Fatal("step schedule")
	}
	w := Warmup{Steps: 4, Then: Constant{1}}
	if w.LR(0, 10) != 0.25 || w.LR(3, 10) != 1 || w.LR(7, 10) != 1 {
		t.Fatal("warmup")
	}
	if _, err := NewSchedule("linear", 1, 1, 0); err == nil {
		t.Fatal("unknown schedule accepted")
	}
}

func TestCheckpointRoundTripAndCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.ckpt")
	c := &Checkpoint{Model: []byte("model"), Optimizer: "sgd", OptState: map[string][]float32{"w": {1, 2}}, Epoch: 3, Batch: 7, Step: 99, Seed: 5}
	if err := WriteCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(path)
	if err != nil || got.Epoch != 3 || got.Batch != 7 || got.OptState["w"][1] != 2 {
		t.Fatalf("%+v %v", got, err)
	}
	b, _ := os.ReadFile(path)
	for _, n := range []int{0, 5, 20, len(b) - 1} {
		os.WriteFile(path, b[:n], 0o644)
		if _, err := ReadCheckpoint(path); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-3] ^= 0xff
	os.WriteFile(path, bad, 0o644)
	if _, err := ReadCheckpoint(path); err == nil {
		t.Error("flipped byte: no error")
	}
	os.WriteFile(path, []byte("\x89PNG\r\n\x1a\n0000000000000000000000"), 0o644)
	if _, err := ReadCheckpoint(path); err == nil {
		t.Error("foreign file: no error")
	}
	// No temp files left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory has %d entries", len(ents))
	}
}

func mnist(t *testing.T, split data.Split, n int) *data.Dataset {
	ds, err := data.Load("mnist", "", split)
	if err != nil {
		t.Fatal(err)
	}
	return ds.Limit(n)
}

// TestShortTrainingLearns trains lenet5 on a small MNIST subset: the loss
// must fall and test accuracy beat chance (10%) by a wide margin.
func TestShortTrainingLearns(t *testing.T) {
	cfg := Recipes["dense-mnist"]
	cfg.LR, cfg.Epochs, cfg.Batch, cfg.Seed, cfg.Threads = 0.01, 2, 64, 1, 2
	g := zoo.LeNet5(1)
	var losses []float64
	tr := &Trainer{Graph: g, Config: cfg, Train: mnist(t, data.Train, 3000), Test: mnist(t, data.Test, 1000),
		OnProgress: func(p Progress) {
			if p.Phase == "train" && p.Batch == p.Batches {
				losses = append(losses, p.Loss)
			}
		}}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("epoch losses %v, test accuracy %.3f, %.0f images/s", losses, res.TestAccuracy, res.ImagesPerSecond)
	if len(losses) != 2 || !(losses[1] < losses[0]) || losses[0] > 2 {
		t.Errorf("loss did not fall: %v", losses)
	}
	if res.TestAccuracy < 0.85 {
		t.Errorf("test accuracy %.3f after 2 epochs on 3000 images", res.TestAccuracy)
	}
}

func TestDeterministic(t *testing.T) {
	run := func() *graph.Graph {
		cfg := Recipes["dense-fashion"] // Nesterov + augmentation exercise more randomness
		cfg.Epochs, cfg.Batch, cfg.Seed, cfg.Threads = 1, 32, 9, 2
		g := zoo.ResNet20(3)
		tr := &Trainer{Graph: g, Config: cfg, Train: mnist(t, data.Train, 128)}
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return g
	}
	a, b := run(), run()
	for i, p := range a.Params {
		for j, v := range p.Value.Data {
			if math.Float32bits(v) != math.Float32bits(b.Params[i].Value.Data[j]) {
				t.Fatalf("%s[%d] differs between identical runs: %v vs %v", p.Name, j, v, b.Params[i].Value.Data[j])
			}
		}
	}
}

func TestNaNLossStops(t *testing.T) {
	cfg := Recipes["dense-mnist"]
	cfg.LR, cfg.Epochs, cfg.Batch, cfg.Momentum = 1000, 3, 64, 0.9
	tr := &Trainer{Graph: zoo.LeNet5(1), Config: cfg, Train: mnist(t, data.Train, 2000)}
	_, err := tr.Run(context.Background())
	if err == nil {
		t.Fatal("lr 1000 trained without a NaN")
	}
	t.Log(err)
}
