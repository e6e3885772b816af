// Package zoo builds the reference models of docs/ZOO.md (lenet300, lenet5,
// vgg-s, resnet20, mobilenetv2-s) with exactly the layer structure,
// parameter counts and MACs given there, and names the training recipe
// each one uses by default.
package zoo

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/nn"
)

// Model describes a zoo entry.
type Model struct {
	Name    string
	Build   func(seed uint64) *graph.Graph
	Recipe  string  // default training recipe (see Recipes)
	Dataset string  // default dataset
	Params  int     // expected parameter count (docs/ZOO.md)
	MACs    int     // expected multiply-accumulates per image (docs/ZOO.md)
	LR      float32 // the recipe's base learning rate for this model
}

var models = map[string]Model{
	"lenet300":      {"lenet300", LeNet300, "dense-mnist", "mnist", 266610, 266200, 0.1},
	"lenet5":        {"lenet5", LeNet5, "dense-mnist", "mnist", 431080, 2293000, 0.01},
	"vgg-s":         {"vgg-s", VGGS, "dense-fashion", "fashion-mnist", 584618, 29424640, 0.1},
	"resnet20":      {"resnet20", ResNet20, "dense-fashion", "fashion-mnist", 272186, 31021952, 0.1},
	"mobilenetv2-s": {"mobilenetv2-s", MobileNetV2S, "dense-fashion", "fashion-mnist", 149098, 10571664, 0.1},
}

// Names lists the zoo models, sorted.
func Names() []string {
	var s []string
	for k := range models {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Get returns a zoo entry or an error listing the valid names.
func Get(name string) (Model, error) {
	m, ok := models[name]
	if !ok {
		return Model{}, fmt.Errorf("unknown model %q (zoo models: %s)", name, strings.Join(Names(), ", "))
	}
	return m, nil
}

// LeNet300 is Linear 784→300→100→10 with ReLUs.
func LeNet300(seed uint64) *graph.Graph {
	b := nn.NewBuilder("lenet300", seed)
	x := b.Flatten(b.Input("input", 1, 28, 28), "flatten")
	x = b.Relu(b.Linear(x, "fc1", 784, 300), "relu1")
	x = b.Relu(b.Linear(x, "fc2", 300, 100), "relu2")
	return b.Graph(b.Linear(x, "fc3", 100, 10))
}

// LeNet5 is Caffe's LeNet (Han et al. 2015): no ReLU after the convs.
func LeNet5(seed uint64) *graph.Graph {
	b := nn.NewBuilder("lenet5", seed)
	x := b.Conv(b.Input("input", 1, 28, 28), "conv1", 1, 20, 5, nn.ConvOpts{Bias: true})
	x = b.MaxPool(x, "pool1", 2)
	x = b.Conv(x, "conv2", 20, 50, 5, nn.ConvOpts{Bias: true})
	x = b.MaxPool(x, "pool2", 2)
	x = b.Flatten(x, "flatten")
	x = b.Relu(b.Linear(x, "fc1", 800, 500), "relu3")
	return b.Graph(b.Linear(x, "fc2", 500, 10))
}

// VGGS is three stages of two [conv3×3, BN, ReLU] with 32, 64, 128
// channels, each followed by a 2×2 max pool, then 1152→256→10.
func VGGS(seed uint64) *graph.Graph {
	b := nn.NewBuilder("vgg-s", seed)
	x := b.Input("input", 1, 28, 28)
	in, i := 1, 0
	for stage, c := range []int{32, 64, 128} {
		for j := 0; j < 2; j++ {
			i++
			name := fmt.Sprintf("conv%d", i)
			x = b.Conv(x, name, in, c, 3, nn.ConvOpts{Pad: 1})
			x = b.BatchNorm(x, fmt.Sprintf("bn%d", i), c)
			x = b.Relu(x, fmt.Sprintf("relu%d", i))
			in = c
		}
		x = b.MaxPool(x, fmt.Sprintf("pool%d", stage+1), 2)
	}
	x = b.Flatten(x, "flatten")
	x = b.Relu(b.Linear(x, "fc1", 1152, 256), "relu_fc1")
	return b.Graph(b.Linear(x, "fc2", 256, 10))
}

// ResNet20 is He et al.'s CIFAR ResNet-20 on 28×28 inputs with 1×1
// projection shortcuts where the shape changes.
func ResNet20(seed uint64) *graph.Graph {
	b := nn.NewBuilder("resnet20", seed)
	x := b.Conv(b.Input("input", 1, 28, 28), "conv1", 1, 16, 3, nn.ConvOpts{Pad: 1})
	x = b.Relu(b.BatchNorm(x, "bn1", 16), "relu1")
	in := 16
	for s, c := range []int{16, 32, 64} {
		for k := 0; k < 3; k++ {
			p := fmt.Sprintf("layer%d.%d", s+1, k)
			stride := 1
			if s > 0 && k == 0 {
				stride = 2
			}
			h := b.Conv(x, p+".conv1", in, c, 3, nn.ConvOpts{Pad: 1, Stride: stride})
			h = b.Relu(b.BatchNorm(h, p+".bn1", c), p+".relu1")
			h = b.Conv(h, p+".conv2", c, c, 3, nn.ConvOpts{Pad: 1})
			h = b.BatchNorm(h, p+".bn2", c)
			short := x
			if stride != 1 || in != c {
				short = b.Conv(x, p+".downsample.0", in, c, 1, nn.ConvOpts{Stride: stride})
				short = b.BatchNorm(short, p+".downsample.1", c)
			}
			x = b.Relu(b.Add(h, short, p+".add"), p+".relu2")
			in = c
		}
	}
	x = b.Flatten(b.GlobalAvgPool(x, "avgpool"), "flatten")
	return b.Graph(b.Linear(x, "fc", 64, 10))
}

// MobileNetV2S is the small MobileNetV2 of docs/ZOO.md: inverted residual
// blocks (expand 1×1, depthwise 3×3, project 1×1) with ReLU6.
func MobileNetV2S(seed uint64) *graph.Graph {
	b := nn.NewBuilder("mobilenetv2-s", seed)
	x := b.Conv(b.Input("input", 1, 28, 28), "stem.conv", 1, 16, 3, nn.ConvOpts{Pad: 1})
	x = b.Relu6(b.BatchNorm(x, "stem.bn", 16), "stem.relu")
	in, blk := 16, 0
	for _, st := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 2, 1}} {
		t, c, n, s := st[0], st[1], st[2], st[3]
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 {
				stride = s
			}
			p := fmt.Sprintf("block%d", blk)
			blk++
			hidden := in * t
			h := x
			if t != 1 {
				h = b.Conv(h, p+".expand", in, hidden, 1, nn.ConvOpts{})
				h = b.Relu6(b.BatchNorm(h, p+".expand_bn", hidden), p+".expand_relu")
			}
			h = b.Conv(h, p+".dw", hidden, hidden, 3, nn.ConvOpts{Pad: 1, Stride: stride, Group: hidden})
			h = b.Relu6(b.BatchNorm(h, p+".dw_bn", hidden), p+".dw_relu")
			h = b.Conv(h, p+".project", hidden, c, 1, nn.ConvOpts{})
			h = b.BatchNorm(h, p+".project_bn", c)
			if stride == 1 && in == c {
				h = b.Add(h, x, p+".add")
			}
			x, in = h, c
		}
	}
	x = b.Conv(x, "head.conv", in, 256, 1, nn.ConvOpts{})
	x = b.Relu6(b.BatchNorm(x, "head.bn", 256), "head.relu")
	x = b.Flatten(b.GlobalAvgPool(x, "avgpool"), "flatten")
	return b.Graph(b.Linear(x, "fc", 256, 10))
}
