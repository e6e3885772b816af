package cpu

import (
	"fmt"

	"github.com/shearsml/shears/backend"
	"github.com/shearsml/shears/graph"
)

// Program is a graph compiled for the CPU (graph.Program until the
// executor moves here).
type Program = graph.Program

// OpTime is one node's share of a Program's Forward time (ProfileOps).
type OpTime = graph.OpTime

// Compile checks g and prepares it to run, in training or inference mode.
// It sorts g's nodes. Errors name the node and the shapes involved.
func Compile(g *graph.Graph) (*Program, error) { return graph.Compile(g) }

// CompileInference compiles g for inference only, with BatchNormalization
// folded into the convolution before it, activations and residual Adds
// fused into the op before them and, where the machine has the kernels,
// runs of convolutions on the blocked layout. Forward in training mode and
// Backward are errors.
func CompileInference(g *graph.Graph) (*Program, error) { return graph.CompileInference(g) }

// Backend is the CPU backend as a backend.Backend.
type Backend struct{}

var _ backend.Backend = Backend{}

// Name is "cpu".
func (Backend) Name() string { return "cpu" }

// Compile is Compile for backend.Training and CompileInference for
// backend.Inference.
func (Backend) Compile(g *graph.Graph, mode backend.Mode) (backend.Program, error) {
	var p *Program
	var err error
	switch mode {
	case backend.Training:
		p, err = Compile(g)
	case backend.Inference:
		p, err = CompileInference(g)
	default:
		return nil, fmt.Errorf("cpu: unknown compile mode %v", mode)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
