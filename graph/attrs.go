package graph

import (
	"fmt"
	"maps"
	"slices"

	"github.com/shearsml/shears/tensor"
)

// Attrs holds a node's ONNX attributes. Values are int, float32, string,
// []int, []float32, []string or *tensor.Tensor (ONNX INT, FLOAT, STRING,
// INTS, FLOATS, STRINGS, TENSOR).
type Attrs map[string]any

// Clone copies the map and slice values.
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	c := maps.Clone(a)
	for k, v := range c {
		switch v := v.(type) {
		case []int:
			c[k] = slices.Clone(v)
		case []float32:
			c[k] = slices.Clone(v)
		case []string:
			c[k] = slices.Clone(v)
		case *tensor.Tensor:
			c[k] = v.Clone()
		}
	}
	return c
}

// Int returns an int attribute or def when absent.
func (a Attrs) Int(name string, def int) (int, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	i, ok := v.(int)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want int, have %T", name, v)
	}
	return i, nil
}

// Float returns a float attribute or def when absent.
func (a Attrs) Float(name string, def float32) (float32, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	switch f := v.(type) {
	case float32:
		return f, nil
	case int:
		return float32(f), nil
	}
	return 0, fmt.Errorf("attribute %s: want float, have %T", name, v)
}

// Ints returns an ints attribute or def when absent.
func (a Attrs) Ints(name string, def []int) ([]int, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	i, ok := v.([]int)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want ints, have %T", name, v)
	}
	return i, nil
}

// String returns a string attribute or def when absent.
func (a Attrs) String(name string, def string) (string, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("attribute %s: want string, have %T", name, v)
	}
	return s, nil
}

// Floats returns a floats attribute or def when absent.
func (a Attrs) Floats(name string, def []float32) ([]float32, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	f, ok := v.([]float32)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want floats, have %T", name, v)
	}
	return f, nil
}

// Tensor returns a tensor attribute or nil when absent.
func (a Attrs) Tensor(name string) (*tensor.Tensor, error) {
	v, ok := a[name]
	if !ok {
		return nil, nil
	}
	t, ok := v.(*tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want tensor, have %T", name, v)
	}
	return t, nil
}

// AttrReader collects the first error of a series of attribute reads so op
// constructors stay short.
type AttrReader struct {
	A   Attrs
	Err error
}

// Int reads an int attribute (def when absent); the first error is kept in r.Err.
func (r *AttrReader) Int(name string, def int) int {
	v, err := r.A.Int(name, def)
	if err != nil && r.Err == nil {
		r.Err = err
	}
	return v
}

// Float reads a float attribute (def when absent); the first error is kept in r.Err.
func (r *AttrReader) Float(name string, def float32) float32 {
	v, err := r.A.Float(name, def)
	if err != nil && r.Err == nil {
		r.Err = err
	}
	return v
}

func (r *AttrReader) ints(name string, def []int) []int {
	v, err := r.A.Ints(name, def)
	if err != nil && r.Err == nil {
		r.Err = err
	}
	return v
}

func (r *AttrReader) str(name string, def string) string {
	v, err := r.A.String(name, def)
	if err != nil && r.Err == nil {
		r.Err = err
	}
	return v
}
