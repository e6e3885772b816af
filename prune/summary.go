package prune

import (
	"fmt"
	"strings"

	"github.com/shearsml/shears/graph"
)

// width is what Summary compares for a layer: inputs, outputs and the
// group count of a conv.
type width struct{ in, out, group int }

func layerWidth(g *graph.Graph, n *graph.Node) (width, bool) {
	if len(n.Inputs) < 2 {
		return width{}, false
	}
	w := g.Param(n.Inputs[1])
	if w == nil || w.Value.Rank() < 2 {
		return width{}, false
	}
	s := w.Value.Shape
	switch n.Op {
	case "Conv":
		grp, _ := n.Attrs.Int("group", 1)
		return width{s[1] * grp, s[0], grp}, true
	case "ConvTranspose":
		grp, _ := n.Attrs.Int("group", 1)
		return width{s[0], s[1] * grp, grp}, true
	case "Gemm":
		if tb, _ := n.Attrs.Int("transB", 0); tb != 0 {
			return width{s[1], s[0], 1}, true
		}
		return width{s[0], s[1], 1}, true
	case "MatMul":
		if len(s) == 2 {
			return width{s[0], s[1], 1}, true
		}
	}
	return width{}, false
}

// Summary compares two versions of a model, before and after pruning: a
// line for each conv or linear layer whose width changed, such as
//
//	conv2: 50 → 25 channels
//	fc1: 800 → 400 inputs, 500 → 250 outputs
//
// and a last line with the parameter and MAC totals of graph.Stats.
func Summary(before, after *graph.Graph) []string {
	var lines []string
	for _, n := range before.Nodes {
		wb, ok := layerWidth(before, n)
		if !ok {
			continue
		}
		m := after.Node(n.Name)
		if m == nil {
			lines = append(lines, n.Name+": removed")
			continue
		}
		wa, ok := layerWidth(after, m)
		if !ok || wa == wb {
			continue
		}
		outWord := "outputs"
		if n.Op == "Conv" || n.Op == "ConvTranspose" {
			outWord = "channels"
		}
		var parts []string
		if wa.in != wb.in {
			parts = append(parts, fmt.Sprintf("%d → %d inputs", wb.in, wa.in))
		}
		if wa.out != wb.out {
			parts = append(parts, fmt.Sprintf("%d → %d %s", wb.out, wa.out, outWord))
		}
		if wa.group != wb.group {
			parts = append(parts, fmt.Sprintf("%d → %d groups", wb.group, wa.group))
		}
		lines = append(lines, n.Name+": "+strings.Join(parts, ", "))
	}
	_, tb, errB := graph.Stats(before)
	_, ta, errA := graph.Stats(after)
	if errB != nil || errA != nil {
		return append(lines, fmt.Sprintf("totals: %v", firstErr(errB, errA)))
	}
	lines = append(lines, fmt.Sprintf("params %d → %d (%s), MACs %d → %d (%s)",
		tb.Params, ta.Params, percent(tb.Params, ta.Params), tb.MACs, ta.MACs, percent(tb.MACs, ta.MACs)))
	return lines
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func percent(before, after int) string {
	if before == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*(float64(after)/float64(before)-1))
}
