package onnx

import (
	"slices"
	"strconv"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
)

// The IR holds integers as float32, and its ops compute in floating point.
// The one common op whose meaning differs for integers is Div, which
// truncates: exporters compute shapes such as Shape(x)[1] / 2 (a channel
// split) with it. The reader infers the ONNX element type of every value
// and follows an integer Div by a Cast to INT64, which truncates toward
// zero as integer division does (the Cast is a no-op for ONNX, so an
// export means the same).

// elemTypes infers the ONNX element type of the values of g (whose nodes
// are sorted) from the model's initializers, Constant nodes and inputs.
// Unknown types are left out.
func elemTypes(gp *onnxpb.GraphProto, g *graph.Graph) map[string]onnxpb.TensorProto_DataType {
	types := map[string]onnxpb.TensorProto_DataType{}
	for _, t := range gp.Initializer {
		types[t.GetName()] = onnxpb.TensorProto_DataType(t.GetDataType())
	}
	for _, vi := range gp.Input {
		if _, init := types[vi.GetName()]; !init {
			if tt := vi.GetType().GetTensorType(); tt != nil {
				types[vi.GetName()] = onnxpb.TensorProto_DataType(tt.GetElemType())
			}
		}
	}
	for _, np := range gp.Node {
		if np.GetOpType() != "Constant" || len(np.Output) != 1 {
			continue
		}
		for _, a := range np.Attribute {
			switch a.GetName() {
			case "value":
				types[np.Output[0]] = onnxpb.TensorProto_DataType(a.GetT().GetDataType())
			case "value_int", "value_ints":
				types[np.Output[0]] = int64T
			case "value_float", "value_floats":
				types[np.Output[0]] = floatT
			}
		}
	}
	for _, n := range g.Nodes {
		var t onnxpb.TensorProto_DataType
		switch n.Op {
		case "Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression":
			t = int64T
		case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf":
			t = boolT
		case "Cast":
			to, err := n.Attrs.Int("to", 0)
			if err != nil {
				continue
			}
			t = onnxpb.TensorProto_DataType(to)
		case "CastLike":
			if len(n.Inputs) > 1 {
				t = types[n.Inputs[1]]
			}
		case "Where":
			if len(n.Inputs) > 1 {
				t = types[n.Inputs[1]]
			}
		default:
			i := slices.IndexFunc(n.Inputs, func(s string) bool { return s != "" })
			if i < 0 {
				continue
			}
			t = types[n.Inputs[i]]
		}
		if t == onnxpb.TensorProto_UNDEFINED {
			continue
		}
		for k, o := range n.Outputs {
			if o == "" {
				continue
			}
			types[o] = t
			if k > 0 && (n.Op == "TopK" || n.Op == "MaxPool") {
				types[o] = int64T // indices
			}
		}
	}
	return types
}

func isIntegerType(t onnxpb.TensorProto_DataType) bool {
	switch t {
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_INT16, onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT64,
		onnxpb.TensorProto_UINT8, onnxpb.TensorProto_UINT16, onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		return true
	}
	return false
}

// integerDivision follows every Div of integers by a Cast to the Div's
// own integer type (truncation toward zero, as integer division rounds),
// unless a Cast to that type is already all that reads it (a file shears
// wrote).
func (d *decoder) integerDivision(gp *onnxpb.GraphProto) {
	var types map[string]onnxpb.TensorProto_DataType
	var nodes []*graph.Node
	taken := map[string]bool{}
	for _, n := range d.g.Nodes {
		taken[n.Name] = true
	}
	readers := d.g.Consumers()
	for _, n := range d.g.Nodes {
		nodes = append(nodes, n)
		if n.Op != "Div" || len(n.Outputs) != 1 || n.Outputs[0] == "" {
			continue
		}
		if types == nil {
			types = elemTypes(gp, d.g)
		}
		out := n.Outputs[0]
		t := types[out]
		if !isIntegerType(t) {
			continue
		}
		if r := readers[out]; len(r) == 1 && r[0].Op == "Cast" && !slices.ContainsFunc(d.g.Outputs, func(o graph.ValueInfo) bool { return o.Name == out }) {
			if to, err := r[0].Attrs.Int("to", 0); err == nil && onnxpb.TensorProto_DataType(to) == t {
				continue
			}
		}
		tmp := d.fresh(out + "_real")
		n.Outputs[0] = tmp
		nodes = append(nodes, &graph.Node{Name: freshName(taken, n.Name+"_trunc"), Op: "Cast",
			Inputs: []string{tmp}, Outputs: []string{out}, Attrs: graph.Attrs{"to": int(t)}})
	}
	d.g.Nodes = nodes
}

// freshName returns a name based on base that is not in taken, and takes
// it.
func freshName(taken map[string]bool, base string) string {
	name := base
	for k := 1; taken[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	taken[name] = true
	return name
}

// halfExact lists ops whose outputs, given float16 inputs, are float16
// values already (they select, move or compare values): they need no
// rounding after them.
var halfExact = map[string]bool{
	"Relu": true, "MaxPool": true, "GlobalMaxPool": true, "Concat": true, "Slice": true, "Split": true,
	"Reshape": true, "Transpose": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true, "Identity": true,
	"Gather": true, "Tile": true, "Expand": true, "Max": true, "Min": true, "Neg": true, "Abs": true,
	"Dropout": true, "Clip": true, "ReduceMax": true, "ReduceMin": true, "Where": true, "Cast": true,
	"Shape": true, "Constant": true, "ConstantOfShape": true, "Pad": true,
}

// roundHalfOutputs makes a float16 model compute as a float16 runtime
// does (LoadOptions.Float16Round): every node whose output the file types FLOAT16, and whose op can make
// values float16 cannot hold (a Conv's sums, an Add, a Sigmoid, a
// bilinear Resize), is followed by a Cast to FLOAT16, which rounds the
// float32 result to the nearest float16. The IR still holds float32; the
// export drops these casts again (a FLOAT16 to FLOAT16 cast is a no-op in
// ONNX).
func (d *decoder) roundHalfOutputs(gp *onnxpb.GraphProto) {
	types := elemTypes(gp, d.g)
	taken := map[string]bool{}
	for _, n := range d.g.Nodes {
		taken[n.Name] = true
	}
	var nodes []*graph.Node
	for _, n := range d.g.Nodes {
		nodes = append(nodes, n)
		if halfExact[n.Op] || (n.Op == "Resize" && resizeNearest(n)) {
			continue
		}
		for k, o := range n.Outputs {
			if o == "" || types[o] != onnxpb.TensorProto_FLOAT16 {
				continue
			}
			tmp := d.fresh(o + "_f32")
			n.Outputs[k] = tmp
			nodes = append(nodes, &graph.Node{Name: freshName(taken, n.Name+"_f16"), Op: "Cast",
				Inputs: []string{tmp}, Outputs: []string{o}, Attrs: graph.Attrs{"to": int(onnxpb.TensorProto_FLOAT16)}})
		}
	}
	d.g.Nodes = nodes
}

// resizeNearest reports whether a Resize picks input values (mode
// nearest) rather than interpolating them.
func resizeNearest(n *graph.Node) bool {
	m, _ := n.Attrs.String("mode", "nearest")
	return m == "nearest"
}
