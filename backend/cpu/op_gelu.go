package cpu

// Gelu (ONNX opset 20, approximate "none" or "tanh") and Mish (opset 18),
// elementwise. Exporters at older opsets decompose both (GELU as
// x·(1 + Erf(x/√2))/2, Mish as x·Tanh(Softplus(x))), which the existing
// Erf, Tanh and Softplus ops run; these are the single-node forms newer
// exporters write.

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/graph"
)

func init() {
	registerUnary("Gelu", func(n *graph.Node) (unaryFn, error) {
		approx, err := n.Attrs.String("approximate", "none")
		if err != nil {
			return unaryFn{}, err
		}
		switch approx {
		case "none":
			return unaryFn{fwd: geluErf, bwd: geluErfGrad}, nil
		case "tanh":
			return unaryFn{fwd: geluTanh, bwd: geluTanhGrad}, nil
		}
		return unaryFn{}, fmt.Errorf("attribute approximate is %q: want \"none\" or \"tanh\"", approx)
	})
	registerUnary("Mish", func(*graph.Node) (unaryFn, error) {
		return unaryFn{fwd: mish, bwd: mishGrad}, nil
	})
}

const (
	invSqrt2    = 0.7071067811865476 // 1/√2
	invSqrt2Pi  = 0.3989422804014327 // 1/√(2π)
	sqrt2OverPi = 0.7978845608028654 // √(2/π)
	geluCubic   = 0.044715
)

// geluErf is y = x·Φ(x) = x·(1 + erf(x/√2))/2.
func geluErf(y, x []float32) {
	for i, v := range x {
		xv := float64(v)
		y[i] = float32(0.5 * xv * (1 + math.Erf(xv*invSqrt2)))
	}
}

// geluErfGrad: y' = Φ(x) + x·φ(x).
func geluErfGrad(gx, x, _, g []float32) {
	for i, v := range g {
		xv := float64(x[i])
		d := 0.5*(1+math.Erf(xv*invSqrt2)) + xv*invSqrt2Pi*math.Exp(-0.5*xv*xv)
		gx[i] += v * float32(d)
	}
}

// geluTanh is y = x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2.
func geluTanh(y, x []float32) {
	for i, v := range x {
		xv := float64(v)
		y[i] = float32(0.5 * xv * (1 + math.Tanh(sqrt2OverPi*(xv+geluCubic*xv*xv*xv))))
	}
}

// geluTanhGrad: with t = tanh(u), u = √(2/π)(x + a·x³),
// y' = (1 + t)/2 + x·(1 − t²)·√(2/π)(1 + 3a·x²)/2.
func geluTanhGrad(gx, x, _, g []float32) {
	for i, v := range g {
		xv := float64(x[i])
		t := math.Tanh(sqrt2OverPi * (xv + geluCubic*xv*xv*xv))
		d := 0.5*(1+t) + 0.5*xv*(1-t*t)*sqrt2OverPi*(1+3*geluCubic*xv*xv)
		gx[i] += v * float32(d)
	}
}

// mish is y = x·tanh(softplus(x)).
func mish(y, x []float32) {
	for i, v := range x {
		xv := float64(v)
		y[i] = float32(xv * math.Tanh(graph.Softplus64(xv)))
	}
}

// mishGrad: with t = tanh(softplus(x)), y' = t + x·(1 − t²)·σ(x).
func mishGrad(gx, x, _, g []float32) {
	for i, v := range g {
		xv := float64(x[i])
		t := math.Tanh(graph.Softplus64(xv))
		d := t + xv*(1-t*t)*float64(sigmoid32(x[i]))
		gx[i] += v * float32(d)
	}
}
