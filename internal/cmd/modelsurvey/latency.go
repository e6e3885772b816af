//go:build cgo

package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/tensor"
)

// latencyRounds is the number of alternating blocks per runtime: ORT's
// intra-op threads spin after a run and would slow shears' next one, so
// each ORT block opens and closes its own session, and the blocks
// alternate (as internal/cmd/benchinfer does) to spread the machine's slow
// phases over both runtimes.
const latencyRounds = 4

// latencyMaxMACs bounds the models -latency times: IS-Net's 160 G MACs
// would take many minutes per block on two cores.
const latencyMaxMACs = 5e9

// timing is one model's median latency in each runtime.
type timing struct {
	Shears, ORT time.Duration
}

func (t timing) String() string {
	if t.ORT == 0 {
		return "– | – | –"
	}
	return fmt.Sprintf("%.2f | %.2f | %.2f", ms(t.Shears), ms(t.ORT), float64(t.Shears)/float64(t.ORT))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measure times g (compiled for inference, as `shears run` runs it) and
// the ONNX bytes model in ORT on xs: runs forward passes per block after
// a warm-up pass, latencyRounds blocks each, and returns the medians.
func measure(g *graph.Graph, model []byte, threads, runs int, xs []*tensor.Tensor) (timing, error) {
	p, err := cpu.CompileInference(g)
	if err != nil {
		return timing{}, err
	}
	p.Threads = threads
	var shears, ort []time.Duration
	for round := 0; round < latencyRounds; round++ {
		for k := 0; k <= runs; k++ {
			t0 := time.Now()
			if _, err := p.Forward(false, xs...); err != nil {
				return timing{}, err
			}
			if k > 0 {
				shears = append(shears, time.Since(t0))
			}
		}
		s, err := ortref.Open(model, ortref.Options{Threads: threads})
		if err != nil {
			return timing{}, err
		}
		for k := 0; k <= runs; k++ {
			t0 := time.Now()
			if _, err := s.Run(xs...); err != nil {
				s.Close()
				return timing{}, err
			}
			if k > 0 {
				ort = append(ort, time.Since(t0))
			}
		}
		if err := s.Close(); err != nil {
			return timing{}, err
		}
	}
	return timing{Shears: median(shears), ORT: median(ort)}, nil
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}
