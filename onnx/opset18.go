package onnx

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Opsets 18 to 21.
//
// What changed after opset 17 in the ops shears has, and how the reader
// brings each to the opset-13 form the IR holds (files are written as
// opset 13 unless an op needs newer; see minOpset in encode_graph.go):
//
//   - ReduceMean, ReduceMax, ReduceMin (18): axes became an optional
//     input, and noop_with_empty_axes an attribute. The IR's reduce op
//     takes either form; the writer turns a constant axes input back into
//     the attribute.
//   - Split (18): num_outputs splits into equal parts (the last smaller).
//     The IR's Split takes it; the writer gives opset 13 explicit sizes.
//   - Pad (18): an optional axes input restricts pads to some axes.
//     expandPadAxes writes full-rank pads at import, so that the graph
//     holds opset-13 pads. Pad (19) adds mode wrap, which the IR's Pad has.
//   - Resize (18): attributes axes (scales or sizes for some axes only),
//     antialias and keep_aspect_ratio_policy. expandResizeAxes gives
//     scales or sizes for every axis at import; antialias=1 and
//     keep_aspect_ratio_policy other than stretch are refused by name.
//     Resize (19) adds coordinate_transformation_mode half_pixel_symmetric,
//     which the IR's Resize refuses as an unknown mode.
//   - AveragePool (19): dilations, which the IR's pools have.
//   - Cast (19, 21), Constant, Identity, Reshape, Shape (19, 21),
//     ConstantOfShape (20, 21), Flatten, Pad, Squeeze, Transpose,
//     Unsqueeze (21), and ReduceMax, ReduceMin (20): new element types only
//     (float8, int4, uint4, bool), and Cast's saturate, which only float8
//     targets read.
//     Tensors of those types are refused as unsupported data types;
//     nothing else changes.
//   - Mish (18), Gelu (20) and GroupNormalization (18, 21) are graph ops;
//     groupNormPerChannel rewrites opset 18's per-group scale and bias per
//     channel. Col2Im, CenterCropPad, LpPool, Bitwise*, DeformConv (19),
//     AffineGrid, GridSample changes (20), QuantizeLinear and
//     DequantizeLinear blocks (21) are ops the IR lacks: unsupported-op
//     errors, as before.
//
// IR versions 9 (float8 types) and 10 (int4 and uint4 types, function
// overloads, metadata_props on graphs and nodes) add nothing the reader
// reads beyond those element types; unknown fields are skipped.

// newerOpset is the opset a node needs when written, when that is above
// 17 (0 otherwise): the attribute values opset 19 added to ops the IR
// has.
func newerOpset(n *graph.Node) int {
	switch n.Op {
	case "AveragePool":
		if ds, err := n.Attrs.Ints("dilations", nil); err == nil && slices.ContainsFunc(ds, func(d int) bool { return d != 1 }) {
			return 19
		}
	case "Pad":
		if mode, _ := n.Attrs["mode"].(string); mode == "wrap" {
			return 19
		}
	case "ScatterND":
		// reduction came in opset 16 (add, mul), max and min in 18.
		if r, ok := n.Attrs["reduction"].(string); ok {
			if r == "max" || r == "min" {
				return 18
			}
			return 16
		}
	}
	return 0
}

// opset18Forms writes the opset-18 forms of nodes toOpset13 wrote
// in the opset-13 form, when another node raised the written opset to 18
// or more: the Reduce ops other than ReduceSum take their axes as an input
// again (they have no axes attribute from 18), and a Split into equal
// parts by its output count says num_outputs (which 18 requires when no
// sizes are given).
func (e *encoder) opset18Forms(nodes []*enode) {
	if e.opset < 18 {
		return
	}
	for _, en := range nodes {
		if en.n.Op == "Split" && (len(en.inputs) < 2 || en.inputs[1] == "") {
			if en.attrs == nil {
				en.attrs = graph.Attrs{}
			}
			en.attrs["num_outputs"] = len(en.n.Outputs)
			continue
		}
		axes, ok := en.attrs["axes"].([]int)
		if !ok || !strings.HasPrefix(en.n.Op, "Reduce") || en.n.Op == "ReduceSum" {
			continue
		}
		name := e.fresh(en.n.Name + "_axes")
		t := intsTensor(axes)
		e.extra = append(e.extra, &graph.Param{Name: name, Value: t})
		e.params[name] = t
		en.inputs = append(en.inputs[:1], name)
		delete(en.attrs, "axes")
		if len(en.attrs) == 0 {
			en.attrs = nil
		}
	}
}

// irVersionFor is the IR version written with an opset: that of the onnx
// release that introduced the opset (IR 8 up to opset 18, 9 for 19 and
// 20, 10 for 21).
func irVersionFor(opset int) int {
	switch {
	case opset >= 21:
		return 10
	case opset >= 19:
		return 9
	}
	return IRVersion
}

// newerDataTypes names the element types of IR 9 (float8) and 10 (4-bit
// integers), which the generated onnxpb (onnx 1.12) does not know.
var newerDataTypes = map[int32]string{
	17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
	21: "UINT4", 22: "INT4",
}

// pendingAxes lists the nodes normalise found in an opset-18 form that
// needs shapes to rewrite: Resize with axes, Pad with an axes input.
type pendingAxes struct {
	resize []*graph.Node
	pad    []*graph.Node
}

// normaliseOpset18 checks a node's opset-18+ attributes and notes the
// nodes expandAxes must rewrite.
func (d *decoder) normaliseOpset18(n *graph.Node) error {
	switch n.Op {
	case "Resize":
		if v, ok := n.Attrs["keep_aspect_ratio_policy"]; ok {
			if v != "stretch" {
				return d.nodeErr(n, "keep_aspect_ratio_policy %v is not supported (only stretch)", v)
			}
			delete(n.Attrs, "keep_aspect_ratio_policy")
		}
		if _, ok := n.Attrs["axes"]; ok {
			d.pending.resize = append(d.pending.resize, n)
		}
	case "AveragePool":
		// All-ones dilations mean what opset 13 means without them: keep
		// such files writable as opset 13.
		if ds, err := n.Attrs.Ints("dilations", nil); err == nil && len(ds) > 0 && !slices.ContainsFunc(ds, func(d int) bool { return d != 1 }) {
			delete(n.Attrs, "dilations")
		}
	case "Pad":
		if len(n.Inputs) > 3 && n.Inputs[3] != "" {
			d.pending.pad = append(d.pending.pad, n)
		}
	}
	return nil
}

// expandAxes rewrites the pending nodes, in graph order, each with the
// shapes and constants that the graph up to it gives (a Resize before it
// infers only once rewritten). It runs before folding, so that what reads
// the rewritten outputs folds.
func (d *decoder) expandAxes() error {
	todo := map[*graph.Node]bool{}
	for _, n := range append(slices.Clone(d.pending.resize), d.pending.pad...) {
		todo[n] = true
	}
	if len(todo) == 0 {
		return nil
	}
	for _, n := range d.g.Nodes {
		if !todo[n] {
			continue
		}
		st := [2]*foldState{propagate(d.g, foldBatches[0]), propagate(d.g, foldBatches[1])}
		var err error
		if n.Op == "Resize" {
			err = d.expandResizeAxes(n, st)
		} else {
			err = d.expandPadAxes(n, st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// constInts reads an integer input that is the same at both batches.
func constInts(st [2]*foldState, name string) ([]int, bool) {
	a, b := st[0].vals[name], st[1].vals[name]
	if a == nil || b == nil || !sameTensor(a, b) {
		return nil, false
	}
	v := make([]int, len(a.Data))
	for i, x := range a.Data {
		v[i] = int(x)
		if float32(v[i]) != x {
			return nil, false
		}
	}
	return v, true
}

// resolveAxes checks axes against a rank and makes them non-negative.
func resolveAxes(axes []int, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		if a < -rank || a >= rank {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", a, rank)
		}
		if a < 0 {
			a += rank
		}
		if seen[a] {
			return nil, fmt.Errorf("axis %d is given twice", a)
		}
		seen[a] = true
		out[i] = a
	}
	return out, nil
}

// inputShapes returns a value's shape at both batches, or an error saying
// what needs it.
func (d *decoder) inputShapes(n *graph.Node, st [2]*foldState, what string) ([2][]int, error) {
	x := [2][]int{st[0].shapes[n.Inputs[0]], st[1].shapes[n.Inputs[0]]}
	if x[0] == nil || x[1] == nil || len(x[0]) != len(x[1]) {
		return x, d.nodeErr(n, "%s needs the shape of input %q, which shape inference could not find", what, n.Inputs[0])
	}
	return x, nil
}

// expandResizeAxes gives a Resize with the opset-18 axes attribute scales
// (1 on the other axes) or sizes (the input's own on the other axes) for
// every axis. Sizes become scales, as rewriteResizeSizes does, when an
// axis left out is the batch: ONNX sizes cannot say "keep this dimension".
func (d *decoder) expandResizeAxes(n *graph.Node, st [2]*foldState) error {
	axes, err := n.Attrs.Ints("axes", nil)
	if err != nil {
		return d.nodeErr(n, "%v", err)
	}
	x, err := d.inputShapes(n, st, "axes")
	if err != nil {
		return err
	}
	rank := len(x[0])
	if axes, err = resolveAxes(axes, rank); err != nil {
		return d.nodeErr(n, "axes %v: %v", axes, err)
	}
	delete(n.Attrs, "axes")
	if len(n.Attrs) == 0 {
		n.Attrs = nil
	}
	input := func(i int) string {
		if i < len(n.Inputs) {
			return n.Inputs[i]
		}
		return ""
	}
	scalesName, sizesName := input(2), input(3)
	if scalesName != "" {
		if t := st[0].vals[scalesName]; t != nil && t.Len() == 0 {
			scalesName = ""
		}
	}
	if sizesName != "" {
		if t := st[0].vals[sizesName]; t != nil && t.Len() == 0 {
			sizesName = ""
		}
	}
	var scales []float32
	var sizes []int
	switch {
	case scalesName != "" && sizesName != "":
		return d.nodeErr(n, "both scales and sizes are given")
	case scalesName != "":
		a, b := st[0].vals[scalesName], st[1].vals[scalesName]
		if a == nil || b == nil || !sameTensor(a, b) {
			return d.nodeErr(n, "with axes, scales must be a constant (shears rewrites them for every axis at import)")
		}
		if a.Len() != len(axes) {
			return d.nodeErr(n, "scales has %d values for %d axes", a.Len(), len(axes))
		}
		scales = make([]float32, rank)
		for i := range scales {
			scales[i] = 1
		}
		for i, ax := range axes {
			scales[ax] = a.Data[i]
		}
	case sizesName != "":
		v, ok := constInts(st, sizesName)
		if !ok {
			return d.nodeErr(n, "with axes, sizes must be a constant (shears rewrites them for every axis at import)")
		}
		if len(v) != len(axes) {
			return d.nodeErr(n, "sizes has %d values for %d axes", len(v), len(axes))
		}
		static := true
		sizes = slices.Clone(x[0])
		for k := range sizes {
			if x[0][k] != x[1][k] && !slices.Contains(axes, k) {
				static = false
			}
		}
		for i, ax := range axes {
			sizes[ax] = v[i]
		}
		if !static {
			scales = make([]float32, rank)
			for k := range scales {
				scales[k] = 1
			}
			for i, ax := range axes {
				if x[0][ax] != x[1][ax] || x[0][ax] < 1 || v[i] < 1 {
					return d.nodeErr(n, "sizes for axis %d, whose size depends on the batch, cannot be written for every axis", ax)
				}
				scales[ax] = exactScale(v[i], x[0][ax])
			}
			sizes = nil
		}
	default:
		return d.nodeErr(n, "needs scales or sizes")
	}
	// roi is read only by tf_crop_and_resize, which the IR refuses.
	ins := []string{n.Inputs[0], ""}
	if scales != nil {
		name := d.fresh(n.Name + "_scales")
		d.g.AddParam(name, &tensor.Tensor{Shape: []int{rank}, Data: scales}, false)
		ins = append(ins, name)
	} else {
		name := d.fresh(n.Name + "_sizes")
		d.g.AddParam(name, intsTensor(sizes), false)
		ins = append(ins, "", name)
	}
	old := slices.Clone(n.Inputs)
	n.Inputs = ins
	d.dropUnread(old...)
	return nil
}

// expandPadAxes writes a Pad's opset-18 axes into full-rank pads (0 on
// the other axes) and drops the axes input.
func (d *decoder) expandPadAxes(n *graph.Node, st [2]*foldState) error {
	x, err := d.inputShapes(n, st, "axes")
	if err != nil {
		return err
	}
	rank := len(x[0])
	axes, ok := constInts(st, n.Inputs[3])
	if !ok {
		return d.nodeErr(n, "axes (input 3) must be a constant")
	}
	if axes, err = resolveAxes(axes, rank); err != nil {
		return d.nodeErr(n, "axes: %v", err)
	}
	pads, ok := constInts(st, n.Inputs[1])
	if !ok {
		return d.nodeErr(n, "with axes, pads (input 1) must be a constant (shears rewrites them for every axis at import)")
	}
	if len(pads) != 2*len(axes) {
		return d.nodeErr(n, "pads has %d values for %d axes, want %d", len(pads), len(axes), 2*len(axes))
	}
	full := make([]int, 2*rank)
	for i, ax := range axes {
		full[ax], full[ax+rank] = pads[i], pads[i+len(axes)]
	}
	name := d.fresh(n.Name + "_pads")
	d.g.AddParam(name, intsTensor(full), false)
	old := slices.Clone(n.Inputs)
	n.Inputs[1] = name
	n.Inputs = n.Inputs[:3]
	for len(n.Inputs) > 1 && n.Inputs[len(n.Inputs)-1] == "" {
		n.Inputs = n.Inputs[:len(n.Inputs)-1]
	}
	d.dropUnread(old...)
	return nil
}

// dropUnread removes the named params that no node or graph output reads
// any more: the pads, scales or sizes a rewrite replaced. (Folding keeps
// params that nothing read before it, as the model's own.)
func (d *decoder) dropUnread(names ...string) {
	read := map[string]bool{}
	for _, n := range d.g.Nodes {
		for _, in := range n.Inputs {
			read[in] = true
		}
	}
	for _, o := range d.g.Outputs {
		read[o.Name] = true
	}
	d.g.Params = slices.DeleteFunc(d.g.Params, func(p *graph.Param) bool {
		return slices.Contains(names, p.Name) && !read[p.Name]
	})
}
