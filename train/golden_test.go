package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"runtime"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/cpu"
	"github.com/shearsml/shears/zoo"
)

// weightsDigest hashes every param's name and value bits.
func weightsDigest(g *graph.Graph) string {
	h := sha256.New()
	var b [4]byte
	for _, p := range g.Params {
		h.Write([]byte(p.Name))
		for _, v := range p.Value.Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// kernelSet names the SIMD kernels the engine runs with here: their sums
// round differently, so bit-exact records hold per kernel set.
func kernelSet() string {
	switch {
	case cpu.AVX512:
		return runtime.GOARCH + "-avx512"
	case cpu.AVX2FMA:
		return runtime.GOARCH + "-avx2"
	}
	return runtime.GOARCH + "-generic"
}

// TestDefaultLossBitIdentical checks the trainer with its default loss
// against weights, loss and accuracies recorded from the trainer before
// Loss and callbacks existed (commit 5b2e2b1, where softmax cross-entropy
// was hard-coded), on the kernel sets it was recorded on.
func TestDefaultLossBitIdentical(t *testing.T) {
	type record struct {
		weights                      string
		trainLoss, trainAcc, testAcc uint64 // float64 bits
	}
	recorded := map[string]record{
		"amd64-avx2":    {"f2ed6e6cc55b27a9df094ccfe228191d739b4ff2b2d54e7955a3486de690feec", 0x4000ce80a5bb0af1, 0x3fe2c5f92c5f92c6, 0x3fdeb851eb851eb8},
		"amd64-generic": {"6c1ef9318ef43c39f56338fee19f950cac31f7e3aeb36fafa10ceb2e04534a1b", 0x4000ce8091f9571a, 0x3fe2c5f92c5f92c6, 0x3fdeb851eb851eb8},
	}
	want, ok := recorded[kernelSet()]
	if !ok {
		t.Skipf("no record for kernel set %s", kernelSet())
	}
	cfg := Recipes["dense-mnist"]
	cfg.LR, cfg.Epochs, cfg.Batch, cfg.Seed, cfg.Threads = 0.01, 2, 32, 7, 2
	g := zoo.LeNet5(7)
	tr := &Trainer{Graph: g, Config: cfg, Train: mnist(t, data.Train, 300), Test: mnist(t, data.Test, 200)}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := record{weightsDigest(g), math.Float64bits(res.TrainLoss), math.Float64bits(res.TrainAccuracy), math.Float64bits(res.TestAccuracy)}
	if got != want {
		t.Errorf("%s: trained to\n%+v, recorded\n%+v", kernelSet(), got, want)
	}
}
