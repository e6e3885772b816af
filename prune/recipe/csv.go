package recipe

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/shearsml/shears/prune"
)

// WriteCurves writes curves as CSV: layer, ratio, accuracy, drop (from
// base).
func WriteCurves(w io.Writer, base float64, curves []prune.Curve) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"layer", "ratio", "accuracy", "drop"})
	for _, c := range curves {
		for k, r := range c.Ratios {
			cw.Write([]string{c.Layer, strconv.FormatFloat(r, 'g', -1, 64), strconv.FormatFloat(c.Accuracy[k], 'f', 6, 64),
				strconv.FormatFloat(base-c.Accuracy[k], 'f', 6, 64)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteLayers writes the per-layer metrics as CSV (output.layers_csv):
// layer, op, params, nonzero, sparsity, macs, effective_macs, slim_params,
// slim_macs.
func WriteLayers(w io.Writer, m *prune.Metrics) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"layer", "op", "params", "nonzero", "sparsity", "macs", "effective_macs", "slim_params", "slim_macs"})
	for _, l := range m.Layers {
		cw.Write([]string{l.Name, l.Op, strconv.Itoa(l.Params), strconv.Itoa(l.Nonzero), strconv.FormatFloat(l.Sparsity, 'f', 6, 64),
			strconv.Itoa(l.MACs), strconv.Itoa(l.EffectiveMACs), strconv.Itoa(l.SlimParams), strconv.Itoa(l.SlimMACs)})
	}
	cw.Flush()
	return cw.Error()
}
