package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// BenchmarkConvTrain times one 3×3 same convolution of each resnet20
// stage at batch 128: forward alone, and forward + backward (input and
// weight gradients), the shapes scripts/bench_conv.py times in PyTorch.
func BenchmarkConvTrain(b *testing.B) {
	for _, s := range []struct{ c, hw int }{{16, 28}, {32, 14}, {64, 7}} {
		g := &graph.Graph{Name: "conv",
			Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{-1, s.c, s.hw, s.hw}}},
			Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{-1, s.c, s.hw, s.hw}}},
			Nodes: []*graph.Node{{Name: "conv", Op: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"},
				Attrs: graph.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}}}}
		r := rand.New(rand.NewPCG(1, 2))
		g.AddParam("w", testutil.NormalTensor(r, s.c, s.c, 3, 3), true)
		p, err := Compile(g)
		if err != nil {
			b.Fatal(err)
		}
		p.SetInputGrad(true)
		x := tensor.New(128, s.c, s.hw, s.hw)
		dy := tensor.New(128, s.c, s.hw, s.hw)
		for i := range x.Data {
			x.Data[i], dy.Data[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		flops := float64(2 * 128 * s.c * s.c * 9 * s.hw * s.hw)
		b.Run(fmt.Sprintf("c%d_%dx%d/fwd", s.c, s.hw, s.hw), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := p.Forward(true, x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("c%d_%dx%d/fwdbwd", s.c, s.hw, s.hw), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := p.Forward(true, x); err != nil {
					b.Fatal(err)
				}
				if err := p.Backward(dy); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(3*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
