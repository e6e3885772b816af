// Package nn builds graph IR models layer by layer with PyTorch's naming
// (conv1.weight, bn1.running_mean, ...) and initialisation, so zoo models
// read like their papers and compare 1:1 with PyTorch references.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Builder accumulates nodes and params of one graph.
type Builder struct {
	g    *graph.Graph
	rng  *rand.Rand
	used map[string]bool
}

// NewBuilder starts a graph; seed fixes the initial weights.
func NewBuilder(name string, seed uint64) *Builder {
	return &Builder{g: &graph.Graph{Name: name, Meta: map[string]string{}},
		rng: rand.New(rand.NewPCG(seed, 0x5eed)), used: map[string]bool{}}
}

// Input declares a graph input with a dynamic batch dimension.
func (b *Builder) Input(name string, dims ...int) string {
	b.g.Inputs = append(b.g.Inputs, graph.ValueInfo{Name: name, Shape: append([]int{-1}, dims...)})
	return name
}

func (b *Builder) node(name, op string, attrs graph.Attrs, inputs ...string) string {
	if b.used[name] {
		panic(fmt.Sprintf("nn: layer name %q used twice", name))
	}
	b.used[name] = true
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{name}, Attrs: attrs})
	return name
}

func (b *Builder) param(name string, t *tensor.Tensor) string {
	b.g.AddParam(name, t, true)
	return name
}

// ConvOpts are the optional settings of Conv.
type ConvOpts struct {
	Stride, Pad, Group int
	Bias               bool
}

// Conv adds a square k×k convolution with out output channels. Weights are
// Kaiming-normal (fan-out, ReLU gain) as docs/ZOO.md specifies; a bias, when
// asked for, gets PyTorch's default uniform(±1/√fan_in).
func (b *Builder) Conv(x, name string, in, out, k int, o ConvOpts) string {
	if o.Stride == 0 {
		o.Stride = 1
	}
	if o.Group == 0 {
		o.Group = 1
	}
	w := tensor.New(out, in/o.Group, k, k)
	std := math.Sqrt(2 / float64(out*k*k/o.Group))
	for i := range w.Data {
		w.Data[i] = float32(b.rng.NormFloat64() * std)
	}
	inputs := []string{x, b.param(name+".weight", w)}
	if o.Bias {
		inputs = append(inputs, b.param(name+".bias", b.uniform(1/math.Sqrt(float64(in/o.Group*k*k)), out)))
	}
	attrs := graph.Attrs{"kernel_shape": []int{k, k}, "strides": []int{o.Stride, o.Stride},
		"pads": []int{o.Pad, o.Pad, o.Pad, o.Pad}, "dilations": []int{1, 1}, "group": o.Group}
	return b.node(name, "Conv", attrs, inputs...)
}

func (b *Builder) uniform(bound float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32((b.rng.Float64()*2 - 1) * bound)
	}
	return t
}

// Linear adds y = x·Wᵀ + b (ONNX Gemm with transB=1) with PyTorch's
// default init (Kaiming-uniform a=√5, i.e. uniform(±1/√in) for both).
func (b *Builder) Linear(x, name string, in, out int) string {
	bound := 1 / math.Sqrt(float64(in))
	w := b.param(name+".weight", b.uniform(bound, out, in))
	bias := b.param(name+".bias", b.uniform(bound, out))
	return b.node(name, "Gemm", graph.Attrs{"transB": 1}, x, w, bias)
}

// BatchNorm adds BatchNormalization with γ=1, β=0, running mean 0, var 1,
// PyTorch's eps and momentum.
func (b *Builder) BatchNorm(x, name string, c int) string {
	gamma, beta := tensor.New(c), tensor.New(c)
	gamma.Fill(1)
	vr := tensor.New(c)
	vr.Fill(1)
	in := []string{x, b.param(name+".weight", gamma), b.param(name+".bias", beta)}
	mean := b.g.AddParam(name+".running_mean", tensor.New(c), false)
	v := b.g.AddParam(name+".running_var", vr, false)
	in = append(in, mean.Name, v.Name)
	return b.node(name, "BatchNormalization", graph.Attrs{"epsilon": float32(1e-5), "momentum": float32(0.9)}, in...)
}

// Relu adds ReLU.
func (b *Builder) Relu(x, name string) string { return b.node(name, "Relu", nil, x) }

// Relu6 adds Clip(0, 6) with constant min/max inputs (opset ≥ 11 form).
func (b *Builder) Relu6(x, name string) string {
	lo, hi := tensor.New(), tensor.New()
	hi.Data = []float32{6}
	lo.Data = []float32{0}
	b.g.AddParam(name+".min", lo, false)
	b.g.AddParam(name+".max", hi, false)
	return b.node(name, "Clip", nil, x, name+".min", name+".max")
}

// MaxPool adds a k×k max pool with stride k.
func (b *Builder) MaxPool(x, name string, k int) string {
	return b.node(name, "MaxPool", graph.Attrs{"kernel_shape": []int{k, k}, "strides": []int{k, k}}, x)
}

// GlobalAvgPool adds GlobalAveragePool.
func (b *Builder) GlobalAvgPool(x, name string) string {
	return b.node(name, "GlobalAveragePool", nil, x)
}

// Flatten adds Flatten(axis=1).
func (b *Builder) Flatten(x, name string) string {
	return b.node(name, "Flatten", graph.Attrs{"axis": 1}, x)
}

// Add adds an elementwise sum (residual connections).
func (b *Builder) Add(x, y, name string) string { return b.node(name, "Add", nil, x, y) }

// Graph finishes the model with the given outputs and labels param axes.
func (b *Builder) Graph(outputs ...string) *graph.Graph {
	for _, o := range outputs {
		b.g.Outputs = append(b.g.Outputs, graph.ValueInfo{Name: o})
	}
	graph.LabelAxes(b.g)
	return b.g
}
