package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/zoo"
)

// loadModel resolves a zoo name (freshly initialised with seed) or a model
// file (ONNX).
func loadModel(spec string, seed uint64) (*graph.Graph, *zoo.Model, error) {
	if m, err := zoo.Get(spec); err == nil {
		return m.Build(seed), &m, nil
	}
	if _, err := os.Stat(spec); err != nil {
		if strings.ContainsAny(spec, "./") {
			return nil, nil, fmt.Errorf("model file %s: %w", spec, err)
		}
		return nil, nil, fmt.Errorf("unknown model %q: not a zoo model (%s) and no such file", spec, strings.Join(zoo.Names(), ", "))
	}
	g, err := onnx.Load(spec)
	if err != nil {
		return nil, nil, err
	}
	return g, nil, nil
}

// saveModel writes a model file atomically (ONNX with shears metadata).
func saveModel(path string, g *graph.Graph) error {
	return onnx.Save(path, g)
}
