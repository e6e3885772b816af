package main

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/zoo"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenInfoGroups pins what `shears info --groups MODEL` prints for
// every zoo model (per-layer table, dependency groups, unprunable
// channels): testdata/info-groups-MODEL.golden. After an intended change,
// go test ./cmd/shears -run TestGoldenInfoGroups -update rewrites them.
func TestGoldenInfoGroups(t *testing.T) {
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := shears(t, "info", "--groups", name)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			testutil.Golden(t, filepath.Join("testdata", "info-groups-"+name+".golden"), []byte(stdout), *update)
		})
	}
}
