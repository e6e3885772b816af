package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testmodels"
	"github.com/shearsml/shears/onnx"
)

// BenchmarkInfer times one eval-mode forward pass of each zoo model with
// BatchNorm folded (as `shears export --fold-bn` writes them), 2 threads:
//
//	go test -run X -bench Infer ./graph/
func BenchmarkInfer(b *testing.B) {
	for _, name := range []string{"lenet5", "resnet20", "mobilenetv2-s"} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/b%d", name, batch), func(b *testing.B) {
				benchInference(b, foldedZoo(b, name), batch)
			})
		}
	}
}

// BenchmarkBlockedVsNCHW times every torchvision and hand-built export
// (internal/testmodels) as CompileInference runs it with and without the
// blocked segments, batch 1 and 8, 2 threads; where the machine has no
// AVX-512 both are the NCHW path:
//
//	go test -run X -bench BlockedVsNCHW -benchtime 1s ./graph/
func BenchmarkBlockedVsNCHW(b *testing.B) {
	files, dirs := testmodels.Torchvision("../..")
	if len(files) == 0 {
		b.Skipf("no exports in %s (run /usr/bin/python3 scripts/export_torchvision.py)", dirs)
	}
	defer cpu.SetBlocked(cpu.SetBlocked(true))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		if testmodels.SkipSlow(name) {
			continue
		}
		g, err := onnx.Load(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 8} {
			for _, mode := range []string{"nchw", "blocked"} {
				b.Run(fmt.Sprintf("%s/b%d/%s", name, batch, mode), func(b *testing.B) {
					cpu.SetBlocked(mode == "blocked")
					benchInference(b, g, batch)
				})
			}
		}
	}
}

// benchInference times CompileInference(g)'s forward pass at a batch size,
// 2 threads, after one untimed pass.
func benchInference(b *testing.B, g *graph.Graph, batch int) {
	p, err := cpu.CompileInference(g)
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
}
