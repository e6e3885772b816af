package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/tensor"
)

func cmdInfo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	groups := fs.Bool("groups", false, "also print the dependency groups structured pruning would remove channels from, and the channels it cannot prune with the reason")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one model (zoo name or file), have %d arguments", len(pos))
	}
	g, _, err := loadModel(pos[0], 1)
	if err != nil {
		return err
	}
	rows, total, err := graph.Stats(g)
	if err != nil {
		return err
	}
	fmt.Printf("model %s: %d nodes, inputs", g.Name, len(g.Nodes))
	for _, in := range g.Inputs {
		fmt.Printf(" %s %s", in.Name, tensor.ShapeString(in.Shape))
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\top\toutput (per image)\tparams\tnonzero\tMACs\t")
	type jl struct {
		Name   string `json:"name"`
		Op     string `json:"op"`
		Output []int  `json:"output"`
		Params int    `json:"params"`
		MACs   int    `json:"macs"`
	}
	var layers []jl
	for _, r := range rows {
		out := r.Output
		if len(out) > 0 {
			out = out[1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t\n", r.Name, r.Op, tensor.ShapeString(out), r.Params, r.Nonzero, r.MACs)
		layers = append(layers, jl{r.Name, r.Op, r.Output, r.Params, r.MACs})
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t\n", total.Params, total.Nonzero, total.MACs)
	tw.Flush()
	summary := map[string]any{"command": "info", "model": g.Name, "params": total.Params, "nonzero_params": total.Nonzero,
		"macs": total.MACs, "layers": layers}
	if *groups {
		d, err := prune.Analyze(g)
		if err != nil {
			return err
		}
		var gs, rs []string
		fmt.Printf("\n%d dependency groups (channels removed together, every coupled slice):\n", len(d.Groups()))
		for _, grp := range d.Groups() {
			gs = append(gs, grp.String())
			fmt.Println("  " + gs[len(gs)-1])
		}
		fmt.Printf("\n%d sets of channels not prunable:\n", len(d.Unprunable()))
		for _, r := range d.Unprunable() {
			rs = append(rs, r.String())
			fmt.Println("  " + rs[len(rs)-1])
		}
		summary["groups"], summary["unprunable"] = gs, rs
	}
	if *jsonOut {
		return printJSON(summary)
	}
	return nil
}
