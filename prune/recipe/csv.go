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
