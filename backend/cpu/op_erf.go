package cpu

// Erf, the Gauss error function, elementwise. PyTorch exports GELU
// (ConvNeXt, transformers) at opsets below 20 as x·(1 + Erf(x/√2))/2, so
// Erf is what such a GELU model needs; the single-node Gelu of opset 20 is
// in op_gelu.go.

import (
	"math"

	"github.com/shearsml/shears/graph"
)

func init() {
	registerUnary("Erf", func(*graph.Node) (unaryFn, error) {
		return unaryFn{
			fwd: func(y, x []float32) {
				for i, v := range x {
					y[i] = float32(math.Erf(float64(v)))
				}
			},
			// erf'(x) = 2/√π · e^(−x²)
			bwd: func(gx, x, _, g []float32) {
				const c = 2 / 1.772453850905516 // 2/√π
				for i, v := range g {
					xv := float64(x[i])
					gx[i] += v * float32(c*math.Exp(-xv*xv))
				}
			},
		}, nil
	})
}
