//go:build cgo

package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/internal/onnxpb"
)

// fileInfo is what the ONNX file says about itself, read from the protobuf
// directly (not through shears' importer, which may refuse the file): who
// produced it, the versions, the real inputs and the ops.
type fileInfo struct {
	Producer string // producer_name producer_version
	IR       int64
	Opsets   string // domain:version, default domain first
	Inputs   []inputInfo
	Outputs  []string
	Ops      map[string]int // op type (domain-qualified outside ai.onnx) → count
	Weights  map[string]int // initializer element type → elements
	Meta     map[string]string
}

// inputInfo is one graph input that is not an initializer.
type inputInfo struct {
	Name  string
	DType string
	Dims  []string // a number, a symbolic name, or "?" for an unnamed unknown
}

func (in inputInfo) String() string {
	return fmt.Sprintf("%s %s[%s]", in.Name, strings.ToLower(in.DType), strings.Join(in.Dims, ","))
}

// readProto reads and parses an ONNX file.
func readProto(path string) (*onnxpb.ModelProto, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: not a parsable ONNX protobuf: %v", path, err)
	}
	return &m, b, nil
}

// inspect summarises a parsed model.
func inspect(m *onnxpb.ModelProto) fileInfo {
	fi := fileInfo{
		Producer: strings.TrimSpace(m.GetProducerName() + " " + m.GetProducerVersion()),
		IR:       m.GetIrVersion(),
		Ops:      map[string]int{},
		Meta:     map[string]string{},
		Weights:  map[string]int{},
	}
	var opsets []string
	for _, o := range m.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
			opsets = append([]string{fmt.Sprintf("%s:%d", d, o.GetVersion())}, opsets...)
			continue
		}
		opsets = append(opsets, fmt.Sprintf("%s:%d", d, o.GetVersion()))
	}
	fi.Opsets = strings.Join(opsets, " ")
	for _, p := range m.GetMetadataProps() {
		fi.Meta[p.GetKey()] = p.GetValue()
	}
	g := m.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
		n := 1
		for _, d := range t.GetDims() {
			n *= int(d)
		}
		fi.Weights[strings.ToLower(onnxpb.TensorProto_DataType_name[t.GetDataType()])] += n
	}
	for _, vi := range g.GetInput() {
		if inits[vi.GetName()] {
			continue
		}
		fi.Inputs = append(fi.Inputs, valueInfo(vi))
	}
	for _, vi := range g.GetOutput() {
		fi.Outputs = append(fi.Outputs, valueInfo(vi).String())
	}
	countOps(g, fi.Ops)
	return fi
}

// countOps counts the node op types of g and of the subgraphs in its
// attributes (If branches, Loop bodies).
func countOps(g *onnxpb.GraphProto, ops map[string]int) {
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + "." + op
		}
		ops[op]++
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				countOps(a.GetG(), ops)
			}
			for _, sg := range a.GetGraphs() {
				countOps(sg, ops)
			}
		}
	}
}

func valueInfo(vi *onnxpb.ValueInfoProto) inputInfo {
	in := inputInfo{Name: vi.GetName()}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		in.DType = "non-tensor"
		return in
	}
	in.DType = onnxpb.TensorProto_DataType_name[tt.GetElemType()]
	for _, d := range tt.GetShape().GetDim() {
		switch {
		case isDimValue(d):
			in.Dims = append(in.Dims, fmt.Sprint(d.GetDimValue()))
		case d.GetDimParam() != "":
			in.Dims = append(in.Dims, d.GetDimParam())
		default:
			in.Dims = append(in.Dims, "?")
		}
	}
	return in
}

// weightCount is the number of initializer elements of the float and
// integer types (weights, quantized ones included).
func (fi fileInfo) weightCount() int {
	n := 0
	for _, c := range fi.Weights {
		n += c
	}
	return n
}

// missingOps lists the op types of the file, subgraphs included, that
// shears has no implementation of, as the importer decides (Constant
// becomes a param, Upsample a Resize; an op outside the default domain is
// unsupported whatever its name). The importer names only the top-level
// ones: this also shows what waits inside If and Loop bodies.
func missingOps(ops map[string]int) []string {
	var miss []string
	for op := range ops {
		if strings.Contains(op, ".") || (op != "Constant" && op != "Upsample" && !cpu.Supported(op)) {
			miss = append(miss, op)
		}
	}
	sort.Strings(miss)
	return miss
}

// opList writes the op histogram, most frequent first.
func opList(ops map[string]int) string {
	type kv struct {
		op string
		n  int
	}
	var l []kv
	for k, v := range ops {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].n != l[j].n {
			return l[i].n > l[j].n
		}
		return l[i].op < l[j].op
	})
	var s []string
	for _, e := range l {
		s = append(s, fmt.Sprintf("%s×%d", e.op, e.n))
	}
	return strings.Join(s, " ")
}

func isDimValue(d *onnxpb.TensorShapeProto_Dimension) bool {
	_, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
	return ok
}
