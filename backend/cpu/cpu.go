package cpu

import (
	"fmt"

	"github.com/shearsml/shears/backend"
	"github.com/shearsml/shears/graph"
)

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
