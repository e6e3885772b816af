package recipe

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shearsml/shears/graph"

	"go.yaml.in/yaml/v3"
)

// InputShapes binds a model's symbolic input dimensions (see
// onnx.LoadOptions): input name to one size per dimension, with
// graph.KeepBatch in dimension 0 to leave the batch dynamic. In YAML each
// shape is a list ([1, 3, 48, 320], N first for a dynamic batch) or
// --input-shape's form (1x3x48x320):
//
//	model: crnn.onnx
//	input_shapes: {x: [N, 3, 48, 320]}
type InputShapes map[string][]int

// UnmarshalYAML reads a mapping of input names to shapes.
func (s *InputShapes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: input_shapes: want a mapping of input names to shapes, such as {x: [1, 3, 48, 320]}", n.Line)
	}
	m := InputShapes{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		shape, err := yamlShape(val)
		if err != nil {
			return fmt.Errorf("line %d: input_shapes.%s: %v", val.Line, key.Value, err)
		}
		if _, dup := m[key.Value]; dup {
			return fmt.Errorf("line %d: input_shapes: input %q is given twice", key.Line, key.Value)
		}
		m[key.Value] = shape
	}
	*s = m
	return nil
}

// yamlShape reads one shape: a list of sizes or a string such as
// 1x3x48x320.
func yamlShape(n *yaml.Node) ([]int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return graph.ParseShape(n.Value)
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode || strings.Contains(c.Value, "x") {
				return nil, fmt.Errorf("dimension %d: want a size or N", i)
			}
			parts[i] = c.Value
		}
		return graph.ParseShape(strings.Join(parts, "x"))
	}
	return nil, fmt.Errorf("want a list of sizes such as [1, 3, 48, 320] or a string such as 1x3x48x320")
}

// String writes the shapes as --input-shape takes them, sorted by name.
func (s InputShapes) String() string {
	names := slices.Sorted(maps.Keys(s))
	for i, name := range names {
		names[i] = name + "=" + graph.FormatShape(s[name])
	}
	return strings.Join(names, ",")
}

// validate checks what needs no model: names and sizes (the model checks
// ranks and fixed dimensions when it loads).
func (s InputShapes) validate() error {
	// Sorted, so that the first error is the same on every run.
	for _, name := range slices.Sorted(maps.Keys(s)) {
		shape := s[name]
		if name == "" {
			return fieldErr("input_shapes", "an input name is empty")
		}
		if len(shape) == 0 {
			return fieldErr("input_shapes."+name, "empty shape")
		}
		for d, v := range shape {
			if v == graph.KeepBatch && d == 0 {
				continue
			}
			if v <= 0 {
				return fieldErr("input_shapes."+name, "dimension %d is %d: sizes must be positive (N, dimension 0 only, keeps the batch dynamic)", d, v)
			}
		}
	}
	return nil
}
