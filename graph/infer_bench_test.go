package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
)

// BenchmarkInfer times one eval-mode forward pass of each zoo model with
// BatchNorm folded (as `shears export --fold-bn` writes them), 2 threads:
//
//	go test -run X -bench Infer ./graph/
func BenchmarkInfer(b *testing.B) {
	for _, name := range []string{"lenet5", "resnet20", "mobilenetv2-s"} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/b%d", name, batch), func(b *testing.B) {
				g := foldedZoo(b, name)
				p, err := graph.CompileInference(g)
				if err != nil {
					b.Fatal(err)
				}
				p.Threads = 2
				xs := graph.RandomInputs(g, batch, rand.New(rand.NewPCG(1, 2)))
				if _, err := p.Forward(false, xs...); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := p.Forward(false, xs...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
