package main

import (
	"os"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
)

// TestReadmeOps keeps the README's list of supported ops in step with the
// op registry.
func TestReadmeOps(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const begin, end = "<!-- ops: generated from cpu.SupportedOps(); cmd/shears/readme_test.go checks it -->\n", "\n<!-- /ops -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no ops list between the markers")
	}
	got := s[i+len(begin) : j]
	if want := strings.Join(cpu.SupportedOps(), ", "); got != want {
		t.Errorf("README.md lists\n%s\nthe registry has\n%s", got, want)
	}
}
