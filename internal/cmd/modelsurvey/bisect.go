//go:build cgo

package main

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// bisectMaxBytes bounds the models that bisect exposes every value of: on
// a large model, all activations at once do not fit in memory.
const bisectMaxBytes = 32 << 20

// bisect finds where shears and ONNX Runtime first part: it makes every
// float node output of the model (its bytes, shapes bound) a graph output,
// runs both runtimes on xs, and names the first node, in the file's
// (topological) order, whose output differs by more than the tolerance.
func bisect(model []byte, threads int, xs []*tensor.Tensor) (string, error) {
	if len(model) > bisectMaxBytes {
		return "", fmt.Errorf("model of %d bytes: too large to expose every activation", len(model))
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return "", err
	}
	g := m.GetGraph()
	floats := map[string]bool{}
	for _, vi := range g.GetValueInfo() {
		if tt := vi.GetType().GetTensorType(); tt != nil && tt.GetElemType() == int32(onnxpb.TensorProto_FLOAT) {
			floats[vi.GetName()] = true
		}
	}
	outputs := map[string]bool{}
	for _, o := range g.GetOutput() {
		outputs[o.GetName()] = true
	}
	type probe struct{ node, op, value string }
	var probes []probe
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Constant" || len(n.GetOutput()) == 0 {
			continue
		}
		v := n.GetOutput()[0]
		// Without a recorded type the value may be an integer shape
		// computation, which ortref cannot return as float; the file's
		// value_info says which are float.
		if outputs[v] || (len(floats) > 0 && !floats[v]) {
			continue
		}
		probes = append(probes, probe{n.GetName(), n.GetOpType(), v})
		elem := int32(onnxpb.TensorProto_FLOAT)
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(v),
			Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem}}}})
	}
	if len(probes) == 0 {
		return "", fmt.Errorf("no float node output to compare")
	}
	b, err := proto.Marshal(&m)
	if err != nil {
		return "", err
	}
	sg, err := loadOptions.Decode(b, "bisect")
	if err != nil {
		return "", fmt.Errorf("shears, every value an output: %w", err)
	}
	got, err := forward(sg, threads, xs)
	if err != nil {
		return "", fmt.Errorf("shears, every value an output: %w", err)
	}
	want, err := runORT(b, threads, xs)
	if err != nil {
		return "", fmt.Errorf("ONNX Runtime, every value an output: %w", err)
	}
	if len(got) != len(want) {
		return "", fmt.Errorf("shears gives %d outputs, ONNX Runtime %d", len(got), len(want))
	}
	first := len(g.GetOutput()) - len(probes)
	// With every value an output ORT fuses less: the graph outputs are
	// compared again, as they come out of this run.
	outDiff, _, err := compare(got[:first], want[:first])
	if err != nil {
		return "", err
	}
	worst, worstAt := 0.0, 0
	for i, p := range probes {
		k := first + i
		d, _, err := compare(got[k:k+1], want[k:k+1])
		if err != nil {
			return "", fmt.Errorf("node %q (%s): %v", p.node, p.op, err)
		}
		if d > worst {
			worst, worstAt = d, i
		}
		if d > tolerance {
			return fmt.Sprintf("first node over %g: %q (%s), output %q, %s, relative difference %.2g (%d of %d nodes compared)",
				tolerance, p.node, p.op, p.value, tensor.ShapeString(want[k].Shape), d, i+1, len(probes)), nil
		}
	}
	p := probes[worstAt]
	return fmt.Sprintf("no node output over %g (%d compared; the largest %.2g at %q (%s)); the graph outputs differ by %.2g in this run",
		tolerance, len(probes), worst, p.node, p.op, outDiff), nil
}
