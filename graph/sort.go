package graph

import (
	"container/heap"
	"fmt"
)

// Sort puts nodes in topological order, stably: an already sorted graph is
// unchanged, and an unsorted one gets the order of repeated passes over
// the node list that each take, in list order, every node whose inputs are
// defined by then (the order shears has always produced). It runs in
// O((n + e) log n) for n nodes and e inputs. It reports an input nothing
// defines, or a cycle, naming a node on it.
//
// The passes are not run: a node's pass is the latest among its inputs'
// producers, plus one for a producer later in the list (whose output the
// pass reaches only after passing the node). Nodes are taken by (pass,
// index) from a heap, so each value's first producer in that order is the
// one that defines it, as in the passes.
func (g *Graph) Sort() error {
	avail := map[string]bool{"": true}
	for _, in := range g.Inputs {
		avail[in.Name] = true
	}
	for _, p := range g.Params {
		avail[p.Name] = true
	}
	readers := map[string][]int{} // value → nodes waiting for it, each once
	waiting := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[string]bool{}
		for _, in := range n.Inputs {
			if avail[in] || seen[in] {
				continue
			}
			seen[in] = true
			readers[in] = append(readers[in], i)
			waiting[i]++
		}
	}
	pass := make([]int, len(g.Nodes))
	ready := &passHeap{pass: pass}
	for i := range g.Nodes {
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	for ready.Len() > 0 {
		j := heap.Pop(ready).(int)
		order = append(order, g.Nodes[j])
		for _, o := range g.Nodes[j].Outputs {
			if avail[o] {
				continue
			}
			avail[o] = true
			for _, i := range readers[o] {
				p := pass[j]
				if i < j {
					p++
				}
				pass[i] = max(pass[i], p)
				if waiting[i]--; waiting[i] == 0 {
					heap.Push(ready, i)
				}
			}
		}
	}
	if len(order) < len(g.Nodes) {
		return g.stallError(avail, waiting)
	}
	g.Nodes = order
	return nil
}

// stallError explains why the nodes still waiting can never run: it walks
// from the first of them (in list order) along each node's first missing
// input to a producer that waits too, until it reaches an input nothing
// produces or comes back to a node it passed, which lies on a cycle.
func (g *Graph) stallError(avail map[string]bool, waiting []int) error {
	producers := map[string][]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			producers[o] = append(producers[o], i)
		}
	}
	at := -1
	for i := range g.Nodes {
		if waiting[i] > 0 {
			at = i
			break
		}
	}
	visited := map[int]bool{}
	for {
		n := g.Nodes[at]
		var missing string
		for _, in := range n.Inputs {
			if !avail[in] {
				missing = in
				break
			}
		}
		if len(producers[missing]) == 0 {
			return fmt.Errorf("graph: node %q (%s): input %q is not defined", n.Name, n.Op, missing)
		}
		if visited[at] {
			return fmt.Errorf("graph: cycle through node %q (%s) and its input %q", n.Name, n.Op, missing)
		}
		visited[at] = true
		// Every producer of a missing value waits too (one that ran would
		// have defined it).
		at = producers[missing][0]
	}
}

// passHeap orders node indices by (pass, index).
type passHeap struct {
	idx  []int
	pass []int
}

func (h *passHeap) Len() int { return len(h.idx) }
func (h *passHeap) Less(a, b int) bool {
	i, j := h.idx[a], h.idx[b]
	if h.pass[i] != h.pass[j] {
		return h.pass[i] < h.pass[j]
	}
	return i < j
}
func (h *passHeap) Swap(a, b int) { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *passHeap) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *passHeap) Pop() any {
	v := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return v
}
