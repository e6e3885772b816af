package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// sortByPasses is the quadratic sort Graph.Sort replaced: passes over the
// node list, each taking every node whose inputs are defined by then. It
// is the reference for the order.
func sortByPasses(g *Graph) bool {
	avail := map[string]bool{"": true}
	for _, in := range g.Inputs {
		avail[in.Name] = true
	}
	for _, p := range g.Params {
		avail[p.Name] = true
	}
	done := make([]bool, len(g.Nodes))
	var order []*Node
	for len(order) < len(g.Nodes) {
		progress := false
		for i, n := range g.Nodes {
			if done[i] || slices.ContainsFunc(n.Inputs, func(in string) bool { return !avail[in] }) {
				continue
			}
			done[i], progress = true, true
			order = append(order, n)
			for _, o := range n.Outputs {
				avail[o] = true
			}
		}
		if !progress {
			return false
		}
	}
	g.Nodes = order
	return true
}

// randomDAG makes a graph of n nodes in topological order, each reading one
// to three earlier values (or the input), some producing two outputs.
func randomDAG(r *rand.Rand, n int) *Graph {
	g := &Graph{Inputs: []ValueInfo{{Name: "x", Shape: []int{-1, 3}}}}
	values := []string{"x"}
	for i := range n {
		nd := &Node{Name: fmt.Sprintf("n%d", i), Op: "Add"}
		for range 1 + r.IntN(3) {
			nd.Inputs = append(nd.Inputs, values[r.IntN(len(values))])
		}
		for k := range 1 + r.IntN(2) {
			nd.Outputs = append(nd.Outputs, fmt.Sprintf("v%d_%d", i, k))
		}
		values = append(values, nd.Outputs...)
		g.Nodes = append(g.Nodes, nd)
	}
	return g
}

func nodeNames(nodes []*Node) []string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = n.Name
	}
	return s
}

func TestSortOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		g := randomDAG(r, 1+r.IntN(40))
		want := nodeNames(g.Nodes)
		if err := g.Sort(); err != nil {
			t.Fatalf("trial %d: a sorted graph: %v", trial, err)
		}
		if got := nodeNames(g.Nodes); !slices.Equal(got, want) {
			t.Fatalf("trial %d: a sorted graph was reordered:\n got %v\nwant %v", trial, got, want)
		}
		// Shuffled, Sort gives the order of the passes.
		r.Shuffle(len(g.Nodes), func(i, j int) { g.Nodes[i], g.Nodes[j] = g.Nodes[j], g.Nodes[i] })
		ref := &Graph{Inputs: g.Inputs, Nodes: slices.Clone(g.Nodes)}
		if !sortByPasses(ref) {
			t.Fatalf("trial %d: the reference sort failed", trial)
		}
		if err := g.Sort(); err != nil {
			t.Fatalf("trial %d: a shuffled graph: %v", trial, err)
		}
		if got, want := nodeNames(g.Nodes), nodeNames(ref.Nodes); !slices.Equal(got, want) {
			t.Fatalf("trial %d: shuffled graph:\n got %v\nwant %v", trial, got, want)
		}
	}
}

func TestSortErrors(t *testing.T) {
	in := []ValueInfo{{Name: "x", Shape: []int{-1, 3}}}
	for _, c := range []struct {
		name  string
		nodes []*Node
		want  string
	}{
		{"two-node cycle", []*Node{
			{Name: "A", Op: "Add", Inputs: []string{"x", "b"}, Outputs: []string{"a"}},
			{Name: "B", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"b"}},
			{Name: "C", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}},
		}, `graph: cycle through node "A" (Add) and its input "b"`},
		{"self loop", []*Node{{Name: "self", Op: "Add", Inputs: []string{"x", "y"}, Outputs: []string{"y"}}},
			`graph: cycle through node "self" (Add) and its input "y"`},
		{"undefined", []*Node{{Name: "r", Op: "Relu", Inputs: []string{"nowhere"}, Outputs: []string{"y"}}},
			`graph: node "r" (Relu): input "nowhere" is not defined`},
		// The first node waits on the second, which waits on a value
		// nothing produces: no cycle, and the node to blame is the second.
		{"undefined upstream", []*Node{
			{Name: "B", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}},
			{Name: "A", Op: "Relu", Inputs: []string{"z"}, Outputs: []string{"a"}},
		}, `graph: node "A" (Relu): input "z" is not defined`},
		// A node after a cycle is not on it: the cycle's node is named.
		{"downstream of a cycle", []*Node{
			{Name: "D", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}},
			{Name: "A", Op: "Add", Inputs: []string{"x", "b"}, Outputs: []string{"a"}},
			{Name: "B", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"b"}},
		}, `graph: cycle through node "A" (Add) and its input "b"`},
	} {
		g := &Graph{Inputs: in, Nodes: c.nodes}
		err := g.Sort()
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
		if !slices.Equal(g.Nodes, c.nodes) {
			t.Errorf("%s: a failed Sort changed the node order", c.name)
		}
	}
}

// TestSortLarge: a long chain listed backwards takes one pass per node in
// the old sort (quadratic); Sort must stay well under a second.
func TestSortLarge(t *testing.T) {
	const n = 20000
	g := &Graph{Inputs: []ValueInfo{{Name: "v0", Shape: []int{1}}}}
	for i := n; i >= 1; i-- {
		g.Nodes = append(g.Nodes, &Node{Name: fmt.Sprintf("n%d", i), Op: "Relu",
			Inputs: []string{fmt.Sprintf("v%d", i-1)}, Outputs: []string{fmt.Sprintf("v%d", i)}})
	}
	start := time.Now()
	if err := g.Sort(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("sorting a %d-node chain took %v", n, d)
	}
	for i, nd := range g.Nodes {
		if want := fmt.Sprintf("n%d", i+1); nd.Name != want {
			t.Fatalf("position %d holds %s, want %s", i, nd.Name, want)
		}
	}
}
