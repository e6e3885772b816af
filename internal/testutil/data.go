package testutil

import (
	"testing"

	"github.com/shearsml/shears/data"
)

// BrighterPixelSet is n random 1×1×2 images (two pixels, seeded by n),
// labelled 1 when the second pixel is brighter than the first and 0
// otherwise: a two-class problem a 2 → 3 → 2 MLP learns in a few steps,
// which prune's and prune/recipe's training tests use.
func BrighterPixelSet(t testing.TB, n int) *data.Dataset {
	t.Helper()
	r := NewRand(uint64(n), 7)
	raw := make([]byte, 2*n)
	labels := make([]uint8, n)
	for i := range n {
		raw[2*i], raw[2*i+1] = byte(r.IntN(256)), byte(r.IntN(256))
		if raw[2*i+1] > raw[2*i] {
			labels[i] = 1
		}
	}
	ds, err := data.FromBytes("tiny", data.Train, raw, labels, n, 1, 1, 2, 2, 0.5, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
