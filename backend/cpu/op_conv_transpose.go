package cpu

import (
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// convTransposeOp is ONNX ConvTranspose (1-D and 2-D, groups, strides,
// dilations, pads, output_padding, output_shape, auto_pad).
//
// A transposed convolution is the input gradient of a convolution: with W
// of shape Cin×Cout/group×k… — exactly the layout of a Conv weight with Cin
// outputs — y = ConvTranspose(x, W) is dL/dx' of the Conv x' ↦ Conv(x', W)
// that maps y's shape to x's, taken at output gradient x. So the op keeps
// such an inner Conv and runs its backward pass forward and its forward
// pass backward: dx = Conv(dy, W), and dW is the inner Conv's weight
// gradient with dy as the Conv's input and x as its output gradient.
type convTransposeOp struct {
	graph.ConvTransposeAttrs
	inner     *convOp
	n, cin, m int       // batch, input channels, output channels
	ohw       int       // output pixels per channel
	zero      []float32 // the inner Conv's input in Backward calls that only need dx
	tmp       []float32 // Backward: Conv(dy, W) before it is added into dx
}

func init() {
	RegisterKernel("ConvTranspose", newConvTranspose)
}

func newConvTranspose(n *graph.Node) (Op, error) {
	a, err := graph.ParseConvTranspose(n)
	if err != nil {
		return nil, err
	}
	return &convTransposeOp{ConvTransposeAttrs: a}, nil
}

func (c *convTransposeOp) Infer(in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	r, err := c.Shape(in)
	if err != nil {
		return nil, err
	}
	inner := &convOp{win: r.Inner.Win, group: r.Inner.Group}
	if _, err := inner.Infer([][]int{r.Out, in[1]}, nil); err != nil {
		return nil, err
	}
	c.inner, c.n, c.cin, c.m, c.ohw = inner, r.N, r.Cin, r.M, r.Ohw
	return [][]int{r.Out}, nil
}

func (c *convTransposeOp) zeros(n int) []float32 {
	if len(c.zero) != n {
		c.zero = make([]float32, n)
	}
	return c.zero
}

func (c *convTransposeOp) Forward(ctx *Ctx, in, out []*tensor.Tensor) error {
	y := out[0]
	clear(y.Data)
	// The inner Conv reads its input only for a weight gradient (and the
	// depthwise kernel always): hand it zeros, not y, which it writes.
	x0 := &tensor.Tensor{Shape: y.Shape, Data: c.zeros(len(y.Data))}
	if err := c.inner.Backward(ctx, []*tensor.Tensor{x0, in[1]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{y, nil}); err != nil {
		return err
	}
	if len(in) > 2 && in[2] != nil {
		b := in[2].Data
		parallel.For(c.n*c.m, ctx.Threads, func(lo, hi, _ int) {
			for p := lo; p < hi; p++ {
				v := b[p%c.m]
				row := y.Data[p*c.ohw : (p+1)*c.ohw]
				for i := range row {
					row[i] += v
				}
			}
		})
	}
	return nil
}

func (c *convTransposeOp) Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error {
	dy := gout[0]
	if dy == nil {
		return nil
	}
	if gin[0] != nil {
		// dx = Conv(dy, W), added into gin[0].
		dx := gin[0]
		if len(c.tmp) != len(dx.Data) {
			c.tmp = make([]float32, len(dx.Data))
		}
		t := &tensor.Tensor{Shape: dx.Shape, Data: c.tmp}
		if err := c.inner.Forward(ctx, []*tensor.Tensor{dy, in[1]}, []*tensor.Tensor{t}); err != nil {
			return err
		}
		if err := addInto(ctx.Threads, dx.Data, c.tmp); err != nil {
			return err
		}
	}
	if gin[1] != nil {
		if err := c.inner.Backward(ctx, []*tensor.Tensor{dy, in[1]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{in[0]}, []*tensor.Tensor{nil, gin[1]}); err != nil {
			return err
		}
	}
	if len(gin) > 2 && gin[2] != nil {
		db := gin[2].Data
		for p := 0; p < c.n*c.m; p++ {
			var s float32
			for _, v := range dy.Data[p*c.ohw : (p+1)*c.ohw] {
				s += v
			}
			db[p%c.m] += s
		}
	}
	return nil
}
