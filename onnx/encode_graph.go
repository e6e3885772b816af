package onnx

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// enode is a node as it will be written: its inputs and attributes in the
// opset-13 form.
type enode struct {
	n      *graph.Node
	inputs []string
	attrs  graph.Attrs
	// nodeT is the element type of the node's "data": its first input in
	// a slot not typed by typedInputs that is not a param.
	nodeT onnxpb.TensorProto_DataType
}

func (e *encoder) graph() (*onnxpb.GraphProto, error) {
	g := e.g
	for _, in := range g.Inputs {
		e.used[in.Name] = true
	}
	e.params = map[string]*tensor.Tensor{}
	for _, p := range g.Params {
		if p.Value == nil {
			return nil, fmt.Errorf("param %q has no value", p.Name)
		}
		e.used[p.Name] = true
		e.params[p.Name] = p.Value
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			e.used[o] = true
		}
	}
	nodes := make([]*enode, len(g.Nodes))
	for i, n := range g.Nodes {
		en, err := e.toOpset13(n)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		nodes[i] = en
	}
	e.opset18Forms(nodes)
	nodes = e.dropHalfNoops(nodes)
	valueT, paramTypes := e.types(nodes)
	for _, en := range nodes {
		// Opset 14 added the 8- and 16-bit and unsigned integer types to
		// the arithmetic ops.
		switch en.n.Op {
		case "Add", "Sub", "Mul", "Div":
			switch en.nodeT {
			case onnxpb.TensorProto_INT8, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT8,
				onnxpb.TensorProto_UINT16, onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
				e.opset = max(e.opset, 14)
			}
		}
	}
	// Params that only the legacy forms read (an opset-18 axes input now
	// written as an attribute) are not written; params nothing read in
	// the first place are.
	usedBefore := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			usedBefore[in] = true
		}
	}
	for _, o := range g.Outputs {
		usedBefore[o.Name] = true
		if !slices.Contains(paramTypes[o.Name], floatT) {
			paramTypes[o.Name] = append(paramTypes[o.Name], floatT)
		}
	}

	name := g.Name
	if name == "" {
		name = "graph"
	}
	gp := &onnxpb.GraphProto{Name: ptr(name)}
	// Params: under their name in their first type (FLOAT when any reader
	// wants a float), and a copy per other type.
	rename := map[string]map[onnxpb.TensorProto_DataType]string{}
	all := append(slices.Clone(g.Params), e.extra...)
	for _, p := range all {
		types := paramTypes[p.Name]
		if usedBefore[p.Name] && len(types) == 0 {
			continue
		}
		primary := floatT
		if len(types) > 0 && !slices.Contains(types, floatT) {
			primary = types[0]
		}
		valueT[p.Name] = primary
		tp, err := typedTensorProto(p.Name, p.Value, primary)
		if err != nil {
			return nil, fmt.Errorf("param %q: %w", p.Name, err)
		}
		gp.Initializer = append(gp.Initializer, tp)
		for _, t := range types {
			if t == primary {
				continue
			}
			copyName := e.fresh(p.Name + "_" + strings.ToLower(dataTypeName(int32(t))))
			tp, err := typedTensorProto(copyName, p.Value, t)
			if err != nil {
				return nil, fmt.Errorf("param %q: %w", p.Name, err)
			}
			gp.Initializer = append(gp.Initializer, tp)
			if rename[p.Name] == nil {
				rename[p.Name] = map[onnxpb.TensorProto_DataType]string{}
			}
			rename[p.Name][t] = copyName
		}
	}
	for _, in := range g.Inputs {
		gp.Input = append(gp.Input, valueInfo(in.Name, in.Shape, valueT[in.Name]))
	}
	for i, o := range g.Outputs {
		gp.Output = append(gp.Output, valueInfo(o.Name, e.outShapes[i], valueT[o.Name]))
	}
	for _, en := range nodes {
		n := en.n
		np := &onnxpb.NodeProto{
			Name:   ptr(n.Name),
			OpType: ptr(n.Op),
			Input:  slices.Clone(en.inputs),
			Output: slices.Clone(n.Outputs),
		}
		for i, in := range np.Input {
			if r, ok := rename[in][e.slotType(en, i)]; ok {
				np.Input[i] = r
			}
		}
		keys := slices.Collect(maps.Keys(en.attrs))
		sort.Strings(keys)
		for _, k := range keys {
			ap, err := attrProto(k, en.attrs[k])
			if err != nil {
				return nil, fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, k, err)
			}
			np.Attribute = append(np.Attribute, ap)
		}
		gp.Node = append(gp.Node, np)
	}
	return gp, nil
}

// toOpset13 rewrites the legacy forms that the IR's ops accept but opset 13
// does not: attributes that became inputs (Squeeze/Unsqueeze/ReduceSum
// axes, Split split, TopK k, Slice starts/ends/axes, Pad pads/value, Clip
// min/max, Dropout ratio) become constant inputs; an opset-18 axes input
// of ReduceMean & co. becomes the attribute; Split's num_outputs becomes
// explicit sizes.
func (e *encoder) toOpset13(n *graph.Node) (*enode, error) {
	en := &enode{n: n, inputs: slices.Clone(n.Inputs), attrs: maps.Clone(n.Attrs)}
	if en.attrs == nil {
		en.attrs = graph.Attrs{}
	}
	addConst := func(attr string, t *tensor.Tensor, idx int) error {
		if idx < len(en.inputs) && en.inputs[idx] != "" {
			return fmt.Errorf("has both attribute %q and input %d", attr, idx)
		}
		name := e.fresh(n.Name + "_" + attr)
		e.extra = append(e.extra, &graph.Param{Name: name, Value: t})
		e.params[name] = t
		for len(en.inputs) <= idx {
			en.inputs = append(en.inputs, "")
		}
		en.inputs[idx] = name
		return nil
	}
	moves := movedAttrs[n.Op].moves
	if n.Op == "Dropout" {
		moves = []attrToInput{{"ratio", 1, true}}
	}
	if n.Op == "Pad" {
		if v, ok := en.attrs["paddings"]; ok { // opset 1
			if _, dup := en.attrs["pads"]; dup {
				return nil, fmt.Errorf("has both pads and paddings")
			}
			en.attrs["pads"] = v
			delete(en.attrs, "paddings")
		}
	}
	for _, m := range moves {
		v, ok := en.attrs[m.attr]
		if !ok {
			continue
		}
		delete(en.attrs, m.attr)
		var t *tensor.Tensor
		switch v := v.(type) {
		case []int:
			t = intsTensor(v)
		case int:
			if m.scalar {
				t = &tensor.Tensor{Shape: []int{}, Data: []float32{float32(v)}}
			} else {
				t = intsTensor([]int{v})
			}
		case float32:
			t = &tensor.Tensor{Shape: []int{}, Data: []float32{v}}
		default:
			return nil, fmt.Errorf("attribute %q has type %T", m.attr, v)
		}
		if m.scalar && t.Len() != 1 {
			return nil, fmt.Errorf("attribute %q must be a scalar", m.attr)
		}
		if n.Op == "Pad" && m.attr == "value" && t.Data[0] == 0 {
			continue // the default
		}
		if err := addConst(m.attr, t, m.input); err != nil {
			return nil, err
		}
	}
	if v := minOpset[n.Op]; v > e.opset {
		e.opset = v
	}
	for attr, v := range minOpsetAttr[n.Op] {
		if _, ok := en.attrs[attr]; ok && v > e.opset {
			e.opset = v
		}
	}
	if v := newerOpset(n); v > e.opset {
		e.opset = v
	}
	switch {
	case strings.HasPrefix(n.Op, "Reduce") && n.Op != "ReduceSum":
		if len(en.inputs) > 1 && en.inputs[1] != "" {
			t, ok := e.params[en.inputs[1]]
			if !ok {
				return nil, fmt.Errorf("axes input %q must be a param to be written as opset 13", en.inputs[1])
			}
			if _, dup := en.attrs["axes"]; dup {
				return nil, fmt.Errorf("has both an axes attribute and input")
			}
			axes := make([]int, len(t.Data))
			for i, v := range t.Data {
				axes[i] = int(v)
				if float32(axes[i]) != v {
					return nil, fmt.Errorf("axes %v are not integers", t.Data)
				}
			}
			en.attrs["axes"] = axes
			en.inputs = en.inputs[:1]
		}
		if v, ok := en.attrs["noop_with_empty_axes"]; ok {
			if v != 0 {
				return nil, fmt.Errorf("noop_with_empty_axes=1 needs opset 18")
			}
			delete(en.attrs, "noop_with_empty_axes")
		}
	case n.Op == "Split":
		if _, ok := en.attrs["num_outputs"]; ok {
			delete(en.attrs, "num_outputs")
			if len(en.inputs) < 2 || en.inputs[1] == "" {
				sizes, err := e.splitSizes(n)
				if err != nil {
					return nil, err
				}
				if err := addConst("split", intsTensor(sizes), 1); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(en.attrs) == 0 {
		en.attrs = nil
	}
	return en, nil
}

// minOpset lists ops newer than opset 13 and minOpsetAttr attributes
// newer than opset 13: a graph using them is written with the smallest
// opset that has them (no op the IR implements changes meaning between 13
// and 21, the newest opset the reader accepts; newerOpset lists the
// attribute values opset 19 added).
var (
	minOpset = map[string]int{
		"HardSwish": 14, "Trilu": 14, "CastLike": 15, "Bernoulli": 15, "GridSample": 16,
		"LayerNormalization": 17, "DFT": 17, "STFT": 17, "BlackmanWindow": 17, "HannWindow": 17,
		"HammingWindow": 17, "MelWeightMatrix": 17,
		// GroupNormalization is written in opset 21's form: scale and
		// bias per channel, as the IR holds them (opset 18 had them per
		// group).
		"Mish": 18, "Gelu": 20, "GroupNormalization": 21,
	}
	minOpsetAttr = map[string]map[string]int{
		"Reshape":            {"allowzero": 14},
		"BatchNormalization": {"training_mode": 14},
		"Shape":              {"start": 15, "end": 15},
	}
)

// splitSizes reads the sizes of a Split's pieces from the inferred shapes.
func (e *encoder) splitSizes(n *graph.Node) ([]int, error) {
	axis, err := n.Attrs.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	in := e.shapes1[n.Inputs[0]]
	if axis < 0 {
		axis += len(in)
	}
	var sizes []int
	for _, o := range n.Outputs {
		s := e.shapes1[o]
		if o == "" || axis < 0 || axis >= len(s) {
			return nil, fmt.Errorf("cannot write num_outputs as opset-13 split sizes")
		}
		if s2 := e.shapes2[o]; s2 != nil && s2[axis] != s[axis] {
			return nil, fmt.Errorf("cannot write num_outputs as opset-13 split sizes: the sizes depend on the batch")
		}
		sizes = append(sizes, s[axis])
	}
	return sizes, nil
}

// slotType is the element type ONNX wants for input i of a node.
func (e *encoder) slotType(en *enode, i int) onnxpb.TensorProto_DataType {
	if t, ok := typedInputs[en.n.Op][i]; ok {
		return t
	}
	return en.nodeT
}

// types assigns ONNX element types: to graph inputs (FLOAT unless only
// read by typed inputs), to node outputs (by op: Shape gives INT64, Equal
// BOOL, Cast its "to", most ops the type of their data), and collects for
// each param the types its readers want.
func (e *encoder) types(nodes []*enode) (map[string]onnxpb.TensorProto_DataType, map[string][]onnxpb.TensorProto_DataType) {
	valueT := map[string]onnxpb.TensorProto_DataType{}
	inputUses := map[string][]onnxpb.TensorProto_DataType{}
	for _, en := range nodes {
		for i, in := range en.inputs {
			if in == "" {
				continue
			}
			t, ok := typedInputs[en.n.Op][i]
			if !ok {
				t = onnxpb.TensorProto_UNDEFINED
			}
			if !slices.Contains(inputUses[in], t) {
				inputUses[in] = append(inputUses[in], t)
			}
		}
	}
	for _, in := range e.g.Inputs {
		valueT[in.Name] = floatT
		if in.Type != graph.Float32 {
			for dt, et := range irTypes {
				if et == in.Type {
					valueT[in.Name] = dt // the type the model declared
				}
			}
		} else if u := inputUses[in.Name]; len(u) == 1 && u[0] != onnxpb.TensorProto_UNDEFINED {
			valueT[in.Name] = u[0]
		}
	}
	paramTypes := map[string][]onnxpb.TensorProto_DataType{}
	for _, en := range nodes {
		en.nodeT = floatT
		for i, in := range en.inputs {
			if _, typed := typedInputs[en.n.Op][i]; typed || in == "" {
				continue
			}
			if _, isParam := e.params[in]; isParam {
				continue
			}
			if t, ok := valueT[in]; ok {
				en.nodeT = t
			}
			break
		}
		for i, in := range en.inputs {
			if _, isParam := e.params[in]; isParam && in != "" {
				t := e.slotType(en, i)
				if !slices.Contains(paramTypes[in], t) {
					paramTypes[in] = append(paramTypes[in], t)
				}
			}
		}
		for k, o := range en.n.Outputs {
			if o != "" {
				valueT[o] = outputType(en, k)
			}
		}
	}
	return valueT, paramTypes
}

// dropHalfNoops removes the Casts to FLOAT16 of values already FLOAT16
// (which the reader puts after the layers of a float16 model to round as
// ONNX Runtime does; in ONNX they do nothing), reading their inputs
// instead. A cast that gives a graph output stays.
func (e *encoder) dropHalfNoops(nodes []*enode) []*enode {
	if !slices.ContainsFunc(nodes, func(en *enode) bool {
		to, _ := en.n.Attrs.Int("to", 0)
		return en.n.Op == "Cast" && onnxpb.TensorProto_DataType(to) == onnxpb.TensorProto_FLOAT16
	}) {
		return nodes // no float16 model: spare the extra typing pass
	}
	valueT, _ := e.types(nodes)
	outputs := map[string]bool{}
	for _, o := range e.g.Outputs {
		outputs[o.Name] = true
	}
	rename := map[string]string{}
	kept := nodes[:0:0]
	for _, en := range nodes {
		for i, in := range en.inputs {
			if r, ok := rename[in]; ok {
				en.inputs[i] = r
			}
		}
		if en.n.Op == "Cast" && len(en.inputs) == 1 && len(en.n.Outputs) == 1 && !outputs[en.n.Outputs[0]] {
			if to, err := en.n.Attrs.Int("to", 0); err == nil && onnxpb.TensorProto_DataType(to) == onnxpb.TensorProto_FLOAT16 &&
				valueT[en.inputs[0]] == onnxpb.TensorProto_FLOAT16 {
				rename[en.n.Outputs[0]] = en.inputs[0]
				continue
			}
		}
		kept = append(kept, en)
	}
	return kept
}

// outputType is the element type of output k of a node.
func outputType(en *enode, k int) onnxpb.TensorProto_DataType {
	switch en.n.Op {
	case "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression":
		return int64T
	case "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf":
		return boolT
	case "TopK", "MaxPool":
		if k == 1 {
			return int64T
		}
	case "Dropout":
		if k == 1 {
			return boolT
		}
	case "Cast":
		if to, err := en.n.Attrs.Int("to", 1); err == nil {
			if _, ok := onnxpb.TensorProto_DataType_name[int32(to)]; ok && to > 0 {
				return onnxpb.TensorProto_DataType(to)
			}
		}
	case "ConstantOfShape", "RandomNormalLike", "RandomUniformLike", "EyeLike":
		return floatT
	case "Constant":
		if _, ok := en.attrs["value_int"]; ok {
			return int64T
		}
		if _, ok := en.attrs["value_ints"]; ok {
			return int64T
		}
		return floatT
	}
	return en.nodeT
}
