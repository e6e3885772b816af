package main

import (
	"context"
	"fmt"
	"os"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/report"
)

var exportHelp = helpText{
	usage: "shears export MODEL --out OUT.onnx [flags]",
	examples: []string{
		"shears export resnet20 --out resnet20.onnx",
		"shears export trained.onnx --fold-bn --out deploy.onnx",
	},
	notes: "MODEL is a zoo name (initialised with --seed) or an ONNX file.",
}

func cmdExport(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("export")
	shapes := inputShapesVar(fs)
	out := fs.String("out", "", "write the ONNX model here")
	foldBN := fs.Bool("fold-bn", false, "fold BatchNormalization into the preceding Conv/Gemm (inference)")
	seed := fs.Uint64("seed", 1, "seed of a zoo model's initial weights")
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line")
	sparse := fs.Bool("sparse-initializers", false, sparseUsage)
	p, err := parseArgs(fs, args, s, exportHelp)
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return usagef("want one model (zoo name or model file), have %d arguments", len(p.pos))
	}
	if *out == "" {
		return usagef("--out is required: where to write the ONNX model")
	}
	if err := checkOutputs([]output{{"--out", *out}}, false); err != nil {
		return err
	}
	if sameFile(p.pos[0], *out) {
		return usagef("--out %s is the model being exported: write to another file", *out)
	}
	g, _, err := loadModel(p.pos[0], *seed, *shapes)
	if err != nil {
		return err
	}
	folded := 0
	if *foldBN {
		if g, folded, err = graph.FoldBatchNorm(g); err != nil {
			return err
		}
	}
	if err := saveModel(*out, g, *sparse); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "wrote %s: model %s, %d nodes, %d params, %d bytes", *out, g.Name, len(g.Nodes), g.NumParams(), st.Size())
	if *foldBN {
		fmt.Fprintf(s.out, ", %d BatchNormalization folded", folded)
	}
	fmt.Fprintln(s.out)
	if *jsonOut {
		return printJSON(s, report.Export{Header: report.NewHeader("export", parallel.Threads()), Model: g.Name, Out: *out,
			Nodes: len(g.Nodes), Params: g.NumParams(), Bytes: st.Size(), FoldedBatchNorm: folded})
	}
	return nil
}
