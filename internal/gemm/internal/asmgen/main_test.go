package main

import (
	"bytes"
	"os"
	"testing"
)

// TestUpToDate fails when kernel_amd64.s was edited by hand or the
// generator changed without rerunning go generate.
func TestUpToDate(t *testing.T) {
	have, err := os.ReadFile("../../kernel_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, generate()) {
		t.Fatal("kernel_amd64.s is stale: run go generate ./internal/gemm")
	}
}
