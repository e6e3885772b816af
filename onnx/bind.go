package onnx

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
)

// Symbolic input dimensions.
//
// The IR lets only dimension 0 of an input vary (the batch). Other
// symbolic dimensions are bound at import from LoadOptions.InputShapes,
// before folding, so that Shape-based subgraphs reading them become
// constants like those of a fixed-size export. A dimension is known by its
// dim_param: binding "W" in one input binds "W" in all of them.

// dimParams returns the dim_param of each dimension of an input ("" for a
// fixed or unnamed dimension).
func dimParams(vi *onnxpb.ValueInfoProto) []string {
	dims := vi.GetType().GetTensorType().GetShape().GetDim()
	names := make([]string, len(dims))
	for i, dim := range dims {
		names[i] = dim.GetDimParam()
	}
	return names
}

// bindInputs applies the options' input shapes to d.g.Inputs, gives every
// dimension named like a bound one its size, and refuses inputs left with
// symbolic dimensions other than the batch. symbols holds each input's
// dim_params.
func (d *decoder) bindInputs(symbols [][]string) error {
	declared := make([][]int, len(d.g.Inputs))
	for i, in := range d.g.Inputs {
		declared[i] = slices.Clone(in.Shape)
	}
	if err := graph.BindInputs(d.g, d.opts.InputShapes); err != nil {
		return d.bindErr(err)
	}
	// One size per dim_param, from the inputs the options bound (in input
	// order, so that the error names the first two that disagree).
	size := map[string]int{}
	from := map[string]string{}
	for i, in := range d.g.Inputs {
		if _, ok := d.opts.InputShapes[in.Name]; !ok {
			continue
		}
		for k, p := range symbols[i] {
			v := in.Shape[k]
			if p == "" || declared[i][k] >= 0 || v < 0 {
				continue
			}
			if have, ok := size[p]; ok && have != v {
				return d.bindErr(&graph.BindError{Input: in.Name, Err: fmt.Errorf("dimension %d (%q) is %d, but input %q has %q = %d: the model says they are one size", k, p, v, from[p], p, have)})
			}
			size[p], from[p] = v, in.Name
		}
	}
	for i := range d.g.Inputs {
		shape := d.g.Inputs[i].Shape
		for k, p := range symbols[i] {
			if v, ok := size[p]; ok && p != "" && shape[k] < 0 {
				shape[k] = v
			}
		}
	}
	for i, in := range d.g.Inputs {
		if slices.ContainsFunc(in.Shape[min(1, len(in.Shape)):], func(v int) bool { return v < 0 }) {
			return d.errf("%s", unboundMessage(in, symbols[i]))
		}
	}
	return nil
}

// unboundMessage says which dimensions of an input are symbolic and how
// to bind them: graph input "x" has symbolic dims N×3×H×W, and only ...:
// give --input-shape x=Nx3x<H>x<W> ...
func unboundMessage(in graph.ValueInfo, symbols []string) string {
	shown := make([]string, len(in.Shape))
	example := make([]string, len(in.Shape))
	var missing []string
	for k, v := range in.Shape {
		name := symbols[k]
		switch {
		case v >= 0:
			shown[k] = fmt.Sprint(v)
			example[k] = shown[k]
		case k == 0:
			shown[k], example[k] = cmp.Or(name, "?"), "N"
		case name == "":
			shown[k], example[k] = "?", fmt.Sprintf("<dim%d>", k)
			missing = append(missing, fmt.Sprintf("dimension %d", k))
		default:
			shown[k], example[k] = name, "<"+name+">"
			missing = append(missing, fmt.Sprintf("dimension %d (%q)", k, name))
		}
	}
	s := "s"
	if len(missing) == 1 {
		s = ""
	}
	return fmt.Sprintf("graph input %q has symbolic dims %s, and only dimension 0, the batch, may stay symbolic: give --input-shape %s=%s (or a recipe's input_shapes) with the size%s of %s",
		in.Name, strings.Join(shown, "×"), in.Name, strings.Join(example, "x"), s, strings.Join(missing, ", "))
}

// bindErr prefixes a binding error with the file name, keeping it a
// *graph.BindError for errors.As.
func (d *decoder) bindErr(err error) error {
	if d.file == "" {
		return fmt.Errorf("onnx: %w", err)
	}
	return fmt.Errorf("onnx: %s: %w", d.file, err)
}
