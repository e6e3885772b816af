package prune

import (
	"fmt"
	"strings"

	"github.com/shearsml/shears/graph"
)

// width is what Summary compares for a layer: inputs, outputs and the
// group count of a conv; spatial is set for a conv (its outputs are
// channels, not features).
type width struct {
	in, out, group int
	spatial        bool
}

// layerWidth reads a conv or linear layer's width off its weight, located
// by its op's spec (graph.WeightOf). The weight's axis 1 holds one group's
// channels, so it counts group times.
func layerWidth(g *graph.Graph, params map[string]*graph.Param, n *graph.Node) (width, bool) {
	w, use, ok := graph.WeightOf(g, n, params)
	if !ok || w.Value.Rank() < 2 {
		return width{}, false
	}
	s := w.Value.Shape
	wd := width{in: s[use.In], out: s[use.Out], group: use.Groups, spatial: w.Value.Rank() > 2}
	switch 1 {
	case use.In:
		wd.in *= use.Groups
	case use.Out:
		wd.out *= use.Groups
	}
	return wd, true
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
	pb, pa := before.ParamMap(), after.ParamMap()
	for _, n := range before.Nodes {
		wb, ok := layerWidth(before, pb, n)
		if !ok {
			continue
		}
		m := after.Node(n.Name)
		if m == nil {
			lines = append(lines, n.Name+": removed")
			continue
		}
		wa, ok := layerWidth(after, pa, m)
		if !ok || wa == wb {
			continue
		}
		outWord := "outputs"
		if wb.spatial {
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
