package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// What Encode writes.
const (
	// IRVersion and Opset are the ONNX IR version and default-domain opset
	// of written files. The opset is raised (up to 21, with the IR version
	// of that opset) only for a graph that uses an op or attribute newer
	// than 13, such as HardSwish, Reshape's allowzero, Pad's wrap mode or
	// GroupNormalization (21).
	IRVersion = 8
	Opset     = 13
	// ProducerName and ProducerVersion identify shears as the producer.
	ProducerName    = "shears"
	ProducerVersion = "0.1.0"
	// FormatKey is the metadata key holding FormatVersion, the version of
	// shears' conventions inside the ONNX file, so that later readers can
	// tell what they read. Files without it (foreign ONNX) load too.
	FormatKey     = "shears.format"
	FormatVersion = 1
	// TrainableKey is the metadata key holding the graph's trainability
	// overrides (Graph.SetTrainable), as a JSON object from param name to
	// true or false, so that a param a user chose to train (a learned
	// gate) still trains after a save and reload.
	TrainableKey = "shears.trainable"
	// dynamicDim is the dim_param written for dynamic (−1) dimensions.
	dynamicDim = "N"
)

// typedInputs lists the op inputs that ONNX (opset 13) types as int64 or
// bool. The IR stores every param as float32; a param read by one of these
// inputs is written as an INT64 (BOOL) initializer, every other param as
// FLOAT. A graph input read only by such inputs is declared INT64 (BOOL).
//
//	Reshape         1 shape
//	Slice           1 starts, 2 ends, 3 axes, 4 steps
//	Squeeze         1 axes
//	Unsqueeze       1 axes
//	Pad             1 pads, 3 axes (opset 18)
//	Split           1 split
//	Gather          1 indices (GatherElements, GatherND too)
//	ScatterElements 1 indices (ScatterND too)
//	ReduceSum       1 axes (and the other Reduce* ops, whose axes became an input in opset 18)
//	Tile            1 repeats
//	Expand          1 shape
//	TopK            1 k
//	ConstantOfShape 0 shape
//	Resize          3 sizes
//	CumSum          1 axis
//	Trilu           1 k
//	OneHot          1 depth
//	Dropout         2 training_mode (bool)
//	Where           0 condition (bool)
//
// A param read both as such an input and as a float one is written twice:
// as FLOAT under its name and as a typed copy named <name>_int64 (_bool),
// which the typed readers use.
var typedInputs = map[string]map[int]onnxpb.TensorProto_DataType{
	"Reshape":         {1: int64T},
	"Slice":           {1: int64T, 2: int64T, 3: int64T, 4: int64T},
	"Squeeze":         {1: int64T},
	"Unsqueeze":       {1: int64T},
	"Pad":             {1: int64T, 3: int64T},
	"Split":           {1: int64T},
	"Gather":          {1: int64T},
	"GatherElements":  {1: int64T},
	"GatherND":        {1: int64T},
	"ScatterElements": {1: int64T},
	"ScatterND":       {1: int64T},
	"ReduceSum":       {1: int64T},
	"ReduceMean":      {1: int64T},
	"ReduceMax":       {1: int64T},
	"ReduceMin":       {1: int64T},
	"ReduceProd":      {1: int64T},
	"ReduceL1":        {1: int64T},
	"ReduceL2":        {1: int64T},
	"ReduceLogSum":    {1: int64T},
	"ReduceLogSumExp": {1: int64T},
	"ReduceSumSquare": {1: int64T},
	"Tile":            {1: int64T},
	"Expand":          {1: int64T},
	"TopK":            {1: int64T},
	"ConstantOfShape": {0: int64T},
	"Resize":          {3: int64T},
	"CumSum":          {1: int64T},
	"Trilu":           {1: int64T},
	"OneHot":          {1: int64T},
	"Dropout":         {2: boolT},
	"Where":           {0: boolT},
}

const (
	floatT = onnxpb.TensorProto_FLOAT
	int64T = onnxpb.TensorProto_INT64
	boolT  = onnxpb.TensorProto_BOOL
)

// Save writes g to path as an ONNX model, atomically: the bytes go to a
// temporary file in the same directory, which is synced and renamed over
// path. On error no partial file is left and an existing file is untouched.
func Save(path string, g *graph.Graph) (err error) {
	b, err := encode(g)
	if err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	return nil
}

// Encode converts g to the bytes of an ONNX model. The graph must compile
// (cpu.Compile): shape inference fills in the output shapes. g is not
// modified.
func Encode(g *graph.Graph) ([]byte, error) {
	b, err := encode(g)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return b, nil
}

func encode(g *graph.Graph) ([]byte, error) { return encodeWith(g, SaveOptions{}) }

func encodeWith(g *graph.Graph, o SaveOptions) ([]byte, error) {
	if g == nil {
		return nil, errors.New("nil graph")
	}
	// Compile a shallow copy: Compile sorts the nodes, which must not
	// change g.
	sg := *g
	sg.Nodes = slices.Clone(g.Nodes)
	prog, err := cpu.Compile(&sg)
	if err != nil {
		return nil, err
	}
	e := &encoder{g: &sg, used: map[string]bool{"": true}, opset: Opset}
	if err := e.inferShapes(prog); err != nil {
		return nil, err
	}
	gp, err := e.graph()
	if err != nil {
		return nil, err
	}
	if o.SparseInitializers {
		sparsify(gp, o)
	}
	m := &onnxpb.ModelProto{
		IrVersion:       ptr(int64(irVersionFor(e.opset))),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(e.opset))}},
		ProducerName:    ptr(ProducerName),
		ProducerVersion: ptr(ProducerVersion),
		Graph:           gp,
	}
	keys := make([]string, 0, len(g.Meta))
	for k := range g.Meta {
		if k != FormatKey && k != TrainableKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(k), Value: ptr(g.Meta[k])})
	}
	if v, ok, err := trainOverrides(g); err != nil {
		return nil, err
	} else if ok {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(TrainableKey), Value: ptr(v)})
	}
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(FormatKey), Value: ptr(fmt.Sprint(FormatVersion))})
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxModelBytes {
		return nil, fmt.Errorf("the model needs %d bytes, more than an ONNX file can hold (%d)", len(b), MaxModelBytes)
	}
	return b, nil
}

// inferShapes infers every value's shape at batch 1 and 2 (shapes2 is nil
// when the graph only runs at batch 1, e.g. a fixed reshape). An output
// dimension that differs between the two follows the batch and is written
// as dynamic.
func (e *encoder) inferShapes(prog *cpu.Program) error {
	m1, err := prog.InferShapes(1)
	if err != nil {
		return err
	}
	e.shapes1 = make(map[string][]int, len(m1))
	for k, v := range m1 {
		e.shapes1[k] = slices.Clone(v)
	}
	if m2, err := prog.InferShapes(2); err == nil {
		e.shapes2 = m2
	}
	e.outShapes = make([][]int, len(e.g.Outputs))
	for i, o := range e.g.Outputs {
		s1 := slices.Clone(e.shapes1[o.Name])
		if s2 := e.shapes2[o.Name]; len(s2) == len(s1) {
			for k := range s1 {
				if s1[k] != s2[k] {
					s1[k] = -1
				}
			}
		}
		e.outShapes[i] = s1
	}
	return nil
}

type encoder struct {
	g    *graph.Graph
	used map[string]bool
	// shapes at batch 1 and 2, and the output shapes to write
	shapes1, shapes2 map[string][]int
	outShapes        [][]int
	// params by name, including extra: consts made from legacy attributes
	params map[string]*tensor.Tensor
	extra  []*graph.Param
	// opset to write: Opset, or more when the graph needs it
	opset int
}

func (e *encoder) fresh(base string) string {
	name := base
	for k := 1; e.used[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	e.used[name] = true
	return name
}

// valueInfo describes a tensor value; −1 dimensions become dim_param "N".
func valueInfo(name string, shape []int, et onnxpb.TensorProto_DataType) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(et))}
	if shape != nil {
		tt.Shape = &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(shape))}
		for i, d := range shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			if d < 0 {
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: dynamicDim}
			} else {
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
			}
			tt.Shape.Dim[i] = dim
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: ptr(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}},
	}
}

// attrProto converts an attribute value to ONNX.
func attrProto(name string, v any) (*onnxpb.AttributeProto, error) {
	ap := &onnxpb.AttributeProto{Name: ptr(name)}
	typ := func(t onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto_AttributeType { return &t }
	switch v := v.(type) {
	case int:
		ap.Type, ap.I = typ(onnxpb.AttributeProto_INT), ptr(int64(v))
	case float32:
		ap.Type, ap.F = typ(onnxpb.AttributeProto_FLOAT), ptr(v)
	case string:
		ap.Type, ap.S = typ(onnxpb.AttributeProto_STRING), []byte(v)
	case []int:
		ap.Type, ap.Ints = typ(onnxpb.AttributeProto_INTS), dimsOf(v)
	case []float32:
		ap.Type, ap.Floats = typ(onnxpb.AttributeProto_FLOATS), slices.Clone(v)
	case []string:
		ap.Type = typ(onnxpb.AttributeProto_STRINGS)
		for _, s := range v {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case *tensor.Tensor:
		if v == nil {
			return nil, errors.New("nil tensor")
		}
		ap.Type, ap.T = typ(onnxpb.AttributeProto_TENSOR), floatTensorProto("", v)
	default:
		return nil, fmt.Errorf("type %T is not an attribute type (int, float32, string, []int, []float32, []string, *tensor.Tensor)", v)
	}
	return ap, nil
}

// trainOverrides writes the overrides of g's params as TrainableKey's
// value; ok is false when there are none. An override whose param has
// gone (removed by pruning or folding) means nothing and is left out.
func trainOverrides(g *graph.Graph) (string, bool, error) {
	kept := map[string]bool{}
	params := g.ParamMap()
	for name, on := range g.TrainOverrides {
		if params[name] != nil {
			kept[name] = on
		}
	}
	if len(kept) == 0 {
		return "", false, nil
	}
	b, err := json.Marshal(kept) // sorted keys: the file is deterministic
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}
