package prune_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/zoo"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Golden files pin what the package prints for the zoo models, so that a
// refactoring that changes an analysis shows as a diff. After an intended
// change, go test ./prune -run Golden -update rewrites them.

// TestGoldenGroups pins the dependency groups of every zoo model as
// Group.String prints them, and the reasons for the channels that cannot
// be pruned: testdata/MODEL.groups.golden.
func TestGoldenGroups(t *testing.T) {
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			_, d := analyzeZoo(t, name)
			var b strings.Builder
			for _, grp := range d.Groups() {
				b.WriteString(grp.String() + "\n")
			}
			b.WriteString("unprunable:\n")
			for _, r := range d.Unprunable() {
				b.WriteString(r.String() + "\n")
			}
			testutil.Golden(t, filepath.Join("testdata", name+".groups.golden"), []byte(b.String()), *update)
		})
	}
}

// TestGoldenSummary pins prune.Summary of a fixed structured pruning of
// every zoo model, every third channel of every group removed at once:
// testdata/MODEL.summary.golden.
func TestGoldenSummary(t *testing.T) {
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			g, d := analyzeZoo(t, name)
			before := g.Clone()
			keep := map[*prune.Group][]int{}
			for _, grp := range d.Groups() {
				for ch := range grp.Channels {
					if ch%3 != 2 {
						keep[grp] = append(keep[grp], ch)
					}
				}
			}
			if err := prune.PruneGroups(g, keep); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(prune.Summary(before, g), "\n") + "\n"
			testutil.Golden(t, filepath.Join("testdata", name+".summary.golden"), []byte(got), *update)
		})
	}
}

// analyzeZoo builds the zoo model name (weights seeded with 1; the
// analysis depends only on the architecture) and analyses it.
func analyzeZoo(t *testing.T, name string) (*graph.Graph, *prune.DepGraph) {
	t.Helper()
	m, err := zoo.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Build(1)
	d, err := prune.Analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	return g, d
}
