package graph

import (
	"go/build"
	"slices"
	"testing"
)

// kernelPackages are the packages that compute: the IR must not need them
// (docs/ARCHITECTURE.md, "Layers"). Kernels live in backend/cpu.
var kernelPackages = []string{
	"github.com/shearsml/shears/internal/gemm",
	"github.com/shearsml/shears/internal/kernels",
	"github.com/shearsml/shears/internal/vec",
	"github.com/shearsml/shears/internal/blocked",
	"github.com/shearsml/shears/internal/parallel",
	"github.com/shearsml/shears/backend",
	"github.com/shearsml/shears/backend/cpu",
}

// TestGraphImportsNoKernel: package graph and everything it imports,
// directly or not (tests aside), stay clear of the kernel packages.
func TestGraphImportsNoKernel(t *testing.T) {
	seen := map[string]bool{}
	var walk func(path, dir string, from []string)
	walk = func(path, dir string, from []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if slices.Contains(kernelPackages, path) {
			t.Errorf("graph depends on kernel package %s (via %v)", path, from)
			return
		}
		p, err := build.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		if p.Goroot {
			return
		}
		for _, imp := range p.Imports {
			walk(imp, p.Dir, append(slices.Clone(from), path))
		}
	}
	walk("github.com/shearsml/shears/graph", ".", nil)
	if !seen["github.com/shearsml/shears/tensor"] {
		t.Errorf("the walk did not reach graph's imports (saw %d packages)", len(seen))
	}
}
