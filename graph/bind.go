package graph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shearsml/shears/tensor"
)

// Binding input shapes.
//
// The IR lets only dimension 0 of a graph input, the batch, vary (−1 in
// ValueInfo.Shape): Program gives every −1 the batch size. Models with
// other symbolic dimensions (a text line's width, an image's size, an
// audio clip's length) are bound to one size when they are loaded (see
// onnx.LoadOptions); BindInputs does the same on a graph, and checks a
// binding against the fixed dimensions.

// KeepBatch as dimension 0 of a binding leaves that dimension as the
// model declares it: the dynamic batch when it is symbolic. It is what
// ParseShape reads for "N".
const KeepBatch = -1

// BindInputs fixes the shapes of graph inputs: shapes maps an input's
// name to one size per dimension. A size replaces a symbolic dimension
// (−1) and must equal a fixed one; dimension 0 may be KeepBatch. The
// graph is unchanged when an error is returned; errors are *BindError.
func BindInputs(g *Graph, shapes map[string][]int) error {
	index := map[string]int{}
	for i, in := range g.Inputs {
		index[in.Name] = i
	}
	bound := make(map[int][]int, len(shapes))
	for _, name := range bindOrder(shapes) {
		i, ok := index[name]
		if !ok {
			return &BindError{Input: name, Err: fmt.Errorf("the model has no input %q (its inputs: %s)", name, bindInputNames(g))}
		}
		shape, err := bindShape(g.Inputs[i].Shape, shapes[name])
		if err != nil {
			return &BindError{Input: name, Err: err}
		}
		bound[i] = shape
	}
	for i, shape := range bound {
		g.Inputs[i].Shape = shape
	}
	return nil
}

// bindShape returns declared with the sizes of want put in, checking
// want's rank and sizes against it.
func bindShape(declared, want []int) ([]int, error) {
	if len(want) != len(declared) {
		return nil, fmt.Errorf("rank %d (%s) given, the input has rank %d (%s)", len(want), FormatShape(want), len(declared), declaredString(declared))
	}
	shape := slices.Clone(declared)
	for d, v := range want {
		switch {
		case v == KeepBatch && d == 0:
			continue
		case v == KeepBatch:
			return nil, fmt.Errorf("dimension %d is N: only dimension 0, the batch, may stay symbolic", d)
		case v <= 0:
			return nil, fmt.Errorf("dimension %d is %d: sizes must be positive", d, v)
		case v > tensor.MaxElems:
			return nil, fmt.Errorf("dimension %d is %d, above the limit of %d", d, v, tensor.MaxElems)
		case declared[d] >= 0 && declared[d] != v:
			return nil, fmt.Errorf("dimension %d is %d, but the model fixes it to %d (shape %s)", d, v, declared[d], declaredString(declared))
		}
		shape[d] = v
	}
	static := slices.Clone(shape)
	for d, v := range static {
		if v < 0 {
			static[d] = 1
		}
	}
	if _, err := tensor.NumElems(static); err != nil {
		return nil, fmt.Errorf("shape %s: %w", FormatShape(shape), err)
	}
	return shape, nil
}

// BindError is a binding that does not fit an input.
type BindError struct {
	Input string
	Err   error
}

func (e *BindError) Error() string { return fmt.Sprintf("input %q: %v", e.Input, e.Err) }

func (e *BindError) Unwrap() error { return e.Err }

// ParseShape reads a shape written as sizes joined by x, such as
// 1x3x48x320; a leading N (the batch left symbolic) reads as KeepBatch.
func ParseShape(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty shape: want sizes joined by x, such as 1x3x48x320")
	}
	parts := strings.Split(s, "x")
	shape := make([]int, len(parts))
	for d, p := range parts {
		p = strings.TrimSpace(p)
		if d == 0 && (p == "N" || p == "n") {
			shape[d] = KeepBatch
			continue
		}
		v, err := strconv.Atoi(p)
		switch {
		case p == "":
			return nil, fmt.Errorf("shape %q: dimension %d is empty: want sizes joined by x, such as 1x3x48x320", s, d)
		case err != nil && (p == "N" || p == "n"):
			return nil, fmt.Errorf("shape %q: dimension %d is N: only dimension 0, the batch, may stay symbolic", s, d)
		case err != nil:
			return nil, fmt.Errorf("shape %q: dimension %d (%q) is not a number: want sizes joined by x, such as 1x3x48x320 (N first for a symbolic batch)", s, d, p)
		case v <= 0:
			return nil, fmt.Errorf("shape %q: dimension %d is %d: sizes must be positive", s, d, v)
		case v > tensor.MaxElems:
			return nil, fmt.Errorf("shape %q: dimension %d is %d, above the limit of %d", s, d, v, tensor.MaxElems)
		}
		shape[d] = v
	}
	return shape, nil
}

// FormatShape writes a shape as ParseShape reads it, with N for a
// symbolic dimension.
func FormatShape(shape []int) string {
	parts := make([]string, len(shape))
	for d, v := range shape {
		if v < 0 {
			parts[d] = "N"
		} else {
			parts[d] = strconv.Itoa(v)
		}
	}
	if len(parts) == 0 {
		return "scalar"
	}
	return strings.Join(parts, "x")
}

// declaredString writes an input's shape as the model declares it: N for
// a symbolic batch, ? for other symbolic dimensions.
func declaredString(shape []int) string {
	parts := make([]string, len(shape))
	for d, v := range shape {
		switch {
		case v >= 0:
			parts[d] = strconv.Itoa(v)
		case d == 0:
			parts[d] = "N"
		default:
			parts[d] = "?"
		}
	}
	if len(parts) == 0 {
		return "scalar"
	}
	return strings.Join(parts, "x")
}

// bindInputNames lists the graph inputs for an error.
func bindInputNames(g *Graph) string {
	names := make([]string, len(g.Inputs))
	for i, in := range g.Inputs {
		names[i] = in.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// bindOrder is the order bindings are checked in, so that the first
// error is the same on every run.
func bindOrder(m map[string][]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
