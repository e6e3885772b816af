package backend

import (
	"fmt"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Mode is what a program is compiled for.
type Mode uint8

const (
	// Training programs run forward passes in either mode and backward
	// passes (the trainer, gradient-based criteria).
	Training Mode = iota
	// Inference programs run inference forward passes only, which lets a
	// backend fuse what training keeps apart (shears run, latency
	// measurements).
	Inference
)

func (m Mode) String() string {
	switch m {
	case Training:
		return "training"
	case Inference:
		return "inference"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Backend compiles graphs into programs.
type Backend interface {
	// Name identifies the backend ("cpu").
	Name() string
	// Compile checks g and prepares it to run in mode. Errors name the
	// node, op and shapes at fault. The program may keep g (or, for
	// inference, a rewritten copy of it).
	Compile(g *graph.Graph, mode Mode) (Program, error)
}

// Program is a compiled graph, as the trainer, the pruning criteria and
// the CLI use it. It is not safe for concurrent use.
type Program interface {
	// Forward runs the graph on inputs (in Graph.Inputs order) and
	// returns the outputs (in Graph.Outputs order), which the program owns
	// and overwrites on the next call. train selects training behaviour
	// (an Inference program refuses it).
	Forward(train bool, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error)
	// Backward back-propagates output gradients through the last Forward
	// (Training programs only); Grad and ValueGrad then read the
	// gradients.
	Backward(gradOutputs ...*tensor.Tensor) error
	// Grad is a param's gradient from the last Backward, or nil.
	Grad(param string) *tensor.Tensor
	// Value is a named value's or param's current value, or nil (also
	// for a value a backend keeps to itself, such as one inside a fused
	// region).
	Value(name string) *tensor.Tensor
	// ValueGrad is an activation's gradient from the last Backward, or
	// nil.
	ValueGrad(name string) *tensor.Tensor
	// Shape is a named value's shape at the batch size of the last
	// Forward (or compilation), or nil.
	Shape(name string) []int
}
