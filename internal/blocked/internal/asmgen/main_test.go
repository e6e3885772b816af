package main

import (
	"bytes"
	"os"
	"testing"
)

// TestUpToDate fails when kernels_amd64.s or kernels_amd64.go was edited by
// hand or the generator changed without rerunning go generate.
func TestUpToDate(t *testing.T) {
	s, g := generate()
	for file, want := range map[string][]byte{"../../kernels_amd64.s": s, "../../kernels_amd64.go": g} {
		have, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run go generate ./internal/blocked", file)
		}
	}
}
