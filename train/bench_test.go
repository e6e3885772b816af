package train

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// benchTrainStep measures forward + backward + SGD step at batch 128 on
// random data (the data pipeline is excluded; see scripts/bench_train.sh
// for the whole-program comparison with PyTorch).
func benchTrainStep(b *testing.B, build func(uint64) *graph.Graph) {
	g := build(1)
	p, err := cpu.Compile(g)
	if err != nil {
		b.Fatal(err)
	}
	p.ShareGradients(true) // as Trainer does
	x := tensor.New(128, 1, 28, 28)
	r := rand.New(rand.NewPCG(1, 1))
	labels := make([]int, 128)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range labels {
		labels[i] = r.IntN(10)
	}
	grad := tensor.New(128, 10)
	opt := &SGD{Momentum: 0.9, WeightDecay: 1e-4}
	step := func() {
		out, err := p.Forward(true, x)
		if err != nil {
			b.Fatal(err)
		}
		SoftmaxCrossEntropy(out[0], labels, grad)
		if err := p.Backward(grad); err != nil {
			b.Fatal(err)
		}
		opt.Step(g.Params, p.Grad, 0.01)
	}
	step()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkTrainLeNet5(b *testing.B)       { benchTrainStep(b, zoo.LeNet5) }
func BenchmarkTrainLeNet300(b *testing.B)     { benchTrainStep(b, zoo.LeNet300) }
func BenchmarkTrainResNet20(b *testing.B)     { benchTrainStep(b, zoo.ResNet20) }
func BenchmarkTrainVGGS(b *testing.B)         { benchTrainStep(b, zoo.VGGS) }
func BenchmarkTrainMobileNetV2S(b *testing.B) { benchTrainStep(b, zoo.MobileNetV2S) }
