package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/shearsml/shears/graph"
)

func cmdExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	out := fs.String("out", "", "write the ONNX model here")
	foldBN := fs.Bool("fold-bn", false, "fold BatchNormalization into the preceding Conv/Gemm (inference)")
	seed := fs.Uint64("seed", 1, "seed of a zoo model's initial weights")
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one model (zoo name or model file), have %d arguments", len(pos))
	}
	if *out == "" {
		return usagef("--out is required: where to write the ONNX model")
	}
	g, _, err := loadModel(pos[0], *seed)
	if err != nil {
		return err
	}
	folded := 0
	if *foldBN {
		if g, folded, err = graph.FoldBatchNorm(g); err != nil {
			return err
		}
	}
	if err := saveModel(*out, g); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: model %s, %d nodes, %d params, %d bytes", *out, g.Name, len(g.Nodes), g.NumParams(), st.Size())
	if *foldBN {
		fmt.Printf(", %d BatchNormalization folded", folded)
	}
	fmt.Println()
	if *jsonOut {
		return printJSON(map[string]any{"command": "export", "model": g.Name, "out": *out, "nodes": len(g.Nodes),
			"params": g.NumParams(), "bytes": st.Size(), "folded_batchnorm": folded})
	}
	return nil
}
