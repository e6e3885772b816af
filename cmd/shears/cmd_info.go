package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/report"
	"github.com/shearsml/shears/tensor"
)

var infoHelp = helpText{
	usage: "shears info MODEL [flags]",
	examples: []string{
		"shears info resnet20",
		"shears info model.onnx --groups --json",
	},
	notes: "MODEL is a zoo name or an ONNX file. Shapes are per image (batch 1).",
}

func cmdInfo(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("info")
	shapes := inputShapesVar(fs)
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	groups := fs.Bool("groups", false, "also print the dependency groups structured pruning would remove channels from, and the channels it cannot prune with the reason")
	p, err := parseArgs(fs, args, s, infoHelp)
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("want one model (zoo name or file), have %d arguments", len(p.pos))
	}
	g, _, err := loadModel(p.pos[0], 1, *shapes)
	if err != nil {
		return err
	}
	rows, total, err := graph.Stats(g)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "model %s: %d nodes, inputs", g.Name, len(g.Nodes))
	for _, in := range g.Inputs {
		fmt.Fprintf(s.out, " %s %s", in.Name, tensor.ShapeString(in.Shape))
	}
	fmt.Fprintln(s.out)
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\top\toutput (per image)\tparams\tnonzero\tMACs\t")
	res := report.Info{Header: report.NewHeader("info", parallel.Threads()), Model: g.Name, Params: total.Params,
		NonzeroParams: total.Nonzero, MACs: total.MACs}
	for _, r := range rows {
		out := r.Output
		if len(out) > 0 {
			out = out[1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t\n", r.Name, r.Op, tensor.ShapeString(out), r.Params, r.Nonzero, r.MACs)
		res.Layers = append(res.Layers, report.Layer{Name: r.Name, Op: r.Op, Output: r.Output, Params: r.Params, MACs: r.MACs})
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t\n", total.Params, total.Nonzero, total.MACs)
	tw.Flush()
	if *groups {
		d, err := prune.Analyze(g)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "\n%d dependency groups (channels removed together, every coupled slice):\n", len(d.Groups()))
		for _, grp := range d.Groups() {
			res.Groups = append(res.Groups, grp.String())
			fmt.Fprintln(s.out, "  "+grp.String())
		}
		fmt.Fprintf(s.out, "\n%d sets of channels not prunable:\n", len(d.Unprunable()))
		for _, r := range d.Unprunable() {
			res.Unprunable = append(res.Unprunable, r.String())
			fmt.Fprintln(s.out, "  "+r.String())
		}
	}
	if *jsonOut {
		return printJSON(s, res)
	}
	return nil
}
