package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// Versions the reader accepts.
const (
	MinIRVersion = 3
	MaxIRVersion = 10
	MinOpset     = 6
	MaxOpset     = 21
)

// LoadOptions are settings of the reader. The zero value reads a model as
// Load and Decode do.
type LoadOptions struct {
	// InputShapes binds graph inputs to shapes, by input name: one size
	// per dimension, graph.KeepBatch in dimension 0 to leave the batch
	// symbolic. A symbolic dimension named in the file (a dim_param such
	// as "H") takes the size it is bound to in one input in every input
	// that has it, so binding one image input binds its mask too; two
	// bindings of one name must agree. Shape-computing subgraphs that
	// read the bound dimensions fold at import.
	InputShapes map[string][]int
	// Float16Round rounds every float16-typed layer output of a float16
	// model to float16, as a runtime computing in float16 does. By
	// default a float16 model computes in float32 between the casts the
	// file has: ONNX Runtime's CPU provider also runs most float16 nodes
	// in float32 (measured on isnet_fp16: 2.2e-3 relative from ORT in
	// float32, 2.4e-3 rounded; go run ./internal/cmd/modelsurvey -only isnet_fp16 [-float16-round]).
	Float16Round bool
}

// Load reads an ONNX model file. See Decode.
func Load(path string) (*graph.Graph, error) {
	return LoadOptions{}.Load(path)
}

// Load reads an ONNX model file with these options. See Decode.
func (o LoadOptions) Load(path string) (*graph.Graph, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("onnx: %s: is a directory, not an ONNX model", path)
	}
	// A FIFO would block the read for ever and a device such as /dev/zero
	// never ends: only regular files are models.
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("onnx: %s: not a regular file, not an ONNX model", path)
	}
	if st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("onnx: %s: file of %d bytes is larger than an ONNX model can be (%d bytes)", path, st.Size(), int64(MaxModelBytes))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer f.Close()
	// The file may grow after Stat: read at most one byte past the limit.
	b, err := io.ReadAll(io.LimitReader(f, MaxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if len(b) > MaxModelBytes {
		return nil, fmt.Errorf("onnx: %s: larger than an ONNX model can be (%d bytes)", path, int64(MaxModelBytes))
	}
	d := &decoder{file: path, dir: filepath.Dir(path), opts: o}
	return d.decode(b)
}

// Decode converts the bytes of an ONNX model to a graph; name (usually the
// file name) prefixes error messages.
func Decode(b []byte, name string) (*graph.Graph, error) {
	return LoadOptions{}.Decode(b, name)
}

// Decode converts the bytes of an ONNX model to a graph with these
// options. See Decode.
func (o LoadOptions) Decode(b []byte, name string) (*graph.Graph, error) {
	d := &decoder{file: name, opts: o}
	g, err := d.decode(b)
	if err != nil {
		return nil, err
	}
	return g, nil
}

type decoder struct {
	file  string
	opts  LoadOptions
	dir   string // the model's folder, for external data ("" for bytes)
	opset int
	// used holds every value and param name in the model, so that
	// generated names are unique.
	used map[string]bool
	g    *graph.Graph
	// legacySoftmax lists pre-opset-13 Softmax-like nodes whose semantics
	// must be checked against the input shape.
	legacySoftmax []*graph.Node
	// legacyBroadcast lists opset-6 binary ops with broadcast=1 and an
	// axis, whose second input must be aligned to the first.
	legacyBroadcast []legacyBC
	// pending lists opset-18 nodes whose axes need shapes to rewrite.
	pending pendingAxes
}

// errf formats an error with the "onnx: <file>: " prefix.
func (d *decoder) errf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if d.file == "" {
		return errors.New("onnx: " + msg)
	}
	return errors.New("onnx: " + d.file + ": " + msg)
}

// nodeErr formats an error about a node.
func (d *decoder) nodeErr(n *graph.Node, format string, args ...any) error {
	return d.errf("node %q (%s): %s", n.Name, n.Op, fmt.Sprintf(format, args...))
}

func (d *decoder) decode(b []byte) (*graph.Graph, error) {
	if len(b) == 0 {
		return nil, d.errf("not an ONNX model: the file is empty")
	}
	if what := sniff(b); what != "" {
		return nil, d.errf("not an ONNX model: this is %s", what)
	}
	if len(b) > MaxModelBytes {
		return nil, d.errf("not an ONNX model: %d bytes is more than a protobuf message can hold", len(b))
	}
	if err := prescan(b); err != nil {
		if errors.Is(err, errLimit) {
			return nil, d.errf("model is too large for this reader: %v", err)
		}
		return nil, d.notONNX(b, err.Error())
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, d.notONNX(b, err.Error())
	}
	if m.IrVersion == nil || m.Graph == nil {
		missing := "no ir_version"
		if m.IrVersion != nil {
			missing = "no graph"
		}
		return nil, d.notONNX(b, missing)
	}
	if err := d.checkVersions(&m); err != nil {
		return nil, err
	}
	return d.graph(&m)
}

// notONNX reports a file that does not parse as a ModelProto, naming the
// kind of file when it is recognisably something else.
func (d *decoder) notONNX(b []byte, why string) error {
	if isText(b) {
		return d.errf("not an ONNX model: this is a text file (%s)", why)
	}
	return d.errf("not an ONNX model: %s", why)
}

// sniff names well-known non-ONNX file formats from their magic bytes. None
// of these prefixes can start a ModelProto written by an ONNX exporter.
func sniff(b []byte) string {
	magics := []struct{ prefix, what string }{
		{"\x89PNG\r\n\x1a\n", "a PNG image"},
		{"\xff\xd8\xff", "a JPEG image"},
		{"GIF8", "a GIF image"},
		{"PK\x03\x04", "a zip archive (a PyTorch .pt/.pth checkpoint or a Keras .keras file? export it to ONNX first)"},
		{"\x1f\x8b", "a gzip-compressed file (decompress it first)"},
		{"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model? export it to ONNX first)"},
		{"\x93NUMPY", "a NumPy array file"},
		{"\x7fELF", "an executable"},
		{"%PDF", "a PDF document"},
	}
	for _, m := range magics {
		if bytes.HasPrefix(b, []byte(m.prefix)) {
			return m.what
		}
	}
	if len(b) >= 8 && string(b[4:8]) == "TFL3" {
		return "a TensorFlow Lite model (convert it to ONNX first)"
	}
	return ""
}

// isText reports whether the start of b looks like UTF-8 text.
func isText(b []byte) bool {
	if len(b) > 512 {
		b = b[:512]
		// Do not cut a UTF-8 sequence in half.
		for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

func (d *decoder) checkVersions(m *onnxpb.ModelProto) error {
	ir := m.GetIrVersion()
	if ir > MaxIRVersion {
		return d.errf("IR version %d is newer than this reader supports (%d to %d); export the model with onnx <= 1.16 or convert it with onnx.version_converter", ir, MinIRVersion, MaxIRVersion)
	}
	if ir < MinIRVersion {
		return d.errf("IR version %d is older than this reader supports (%d to %d)", ir, MinIRVersion, MaxIRVersion)
	}
	found := false
	for _, imp := range m.OpsetImport {
		dom := imp.GetDomain()
		if dom != "" && dom != "ai.onnx" {
			continue
		}
		v := imp.GetVersion()
		if found && int64(d.opset) != v {
			return d.errf("default-domain opset imported twice, as %d and %d", d.opset, v)
		}
		if v < MinOpset || v > MaxOpset {
			return d.errf("default-domain opset %d is not supported (%d to %d); convert the model with onnx.version_converter", v, MinOpset, MaxOpset)
		}
		d.opset = int(v)
		found = true
	}
	if !found {
		return d.errf("the model imports no default-domain (ai.onnx) opset")
	}
	return nil
}

// graph converts the model's main graph.
func (d *decoder) graph(m *onnxpb.ModelProto) (*graph.Graph, error) {
	gp := m.Graph
	d.g = &graph.Graph{Name: gp.GetName(), Meta: map[string]string{}}
	if err := d.meta(m); err != nil {
		return nil, err
	}
	if len(gp.SparseInitializer) > 0 {
		if err := d.densify(gp); err != nil {
			return nil, err
		}
	}
	d.collectNames(gp)
	nodes, err := d.nodes(gp.Node)
	if err != nil {
		return nil, err
	}
	if err := d.initializers(gp.Initializer); err != nil {
		return nil, err
	}
	for i, np := range gp.Node {
		if err := d.attrs(nodes[i], np); err != nil {
			return nil, err
		}
	}
	// Constant nodes become params; the others are normalised to opset 13.
	for _, n := range nodes {
		if n.Op == "Constant" {
			if err := d.constant(n); err != nil {
				return nil, err
			}
			continue
		}
		if err := d.normalise(n); err != nil {
			return nil, err
		}
		if err := d.checkArity(n); err != nil {
			return nil, err
		}
		if err := d.checkOp(n); err != nil {
			return nil, err
		}
		d.g.Nodes = append(d.g.Nodes, n)
	}
	if err := d.values(gp); err != nil {
		return nil, err
	}
	if err := d.checkConvRanks(); err != nil {
		return nil, err
	}
	d.dropoutRatios()
	if err := d.rnnLayouts(); err != nil {
		return nil, err
	}
	if err := d.sort(); err != nil {
		return nil, err
	}
	if err := d.g.Validate(); err != nil {
		return nil, d.errf("%s", strings.TrimPrefix(err.Error(), "graph: "))
	}
	if err := d.alignLegacyBroadcast(); err != nil {
		return nil, err
	}
	if err := d.expandAxes(); err != nil {
		return nil, err
	}
	d.integerDivision(gp)
	if d.opts.Float16Round {
		d.roundHalfOutputs(gp)
	}
	d.fold()
	if err := d.checkConstInputs(); err != nil {
		return nil, err
	}
	if err := d.checkLegacySoftmax(); err != nil {
		return nil, err
	}
	if err := d.groupNormPerChannel(); err != nil {
		return nil, err
	}
	graph.LabelAxes(d.g)
	if err := d.g.CheckTrainOverrides(); err != nil {
		return nil, d.errf("%s: %s", TrainableKey, strings.TrimPrefix(err.Error(), "graph: "))
	}
	return d.g, nil
}

// meta copies metadata_props, checking the shears format version.
func (d *decoder) meta(m *onnxpb.ModelProto) error {
	for _, p := range m.MetadataProps {
		d.g.Meta[p.GetKey()] = p.GetValue()
	}
	if f, ok := d.g.Meta[FormatKey]; ok {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			return d.errf("bad %s %q in metadata", FormatKey, f)
		}
		if v > FormatVersion {
			return d.errf("written by a newer shears (%s %d; this version reads up to %d)", FormatKey, v, FormatVersion)
		}
		delete(d.g.Meta, FormatKey)
	}
	if v, ok := d.g.Meta[TrainableKey]; ok {
		if err := json.Unmarshal([]byte(v), &d.g.TrainOverrides); err != nil {
			return d.errf("bad %s in metadata (want a JSON object from param names to true or false): %v", TrainableKey, err)
		}
		delete(d.g.Meta, TrainableKey)
	}
	return nil
}

// collectNames records every name the model uses.
func (d *decoder) collectNames(gp *onnxpb.GraphProto) {
	d.used = map[string]bool{"": true}
	for _, vi := range gp.Input {
		d.used[vi.GetName()] = true
	}
	for _, vi := range gp.Output {
		d.used[vi.GetName()] = true
	}
	for _, t := range gp.Initializer {
		d.used[t.GetName()] = true
	}
	for _, n := range gp.Node {
		for _, s := range n.Input {
			d.used[s] = true
		}
		for _, s := range n.Output {
			d.used[s] = true
		}
	}
}

// fresh returns an unused value name based on base.
func (d *decoder) fresh(base string) string {
	name := base
	for k := 1; d.used[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	d.used[name] = true
	return name
}

// nodes converts nodes without their attributes: names, op types, domains,
// inputs and outputs; it reports every unsupported op in one error.
func (d *decoder) nodes(nps []*onnxpb.NodeProto) ([]*graph.Node, error) {
	explicit := map[string]bool{}
	for _, np := range nps {
		explicit[np.GetName()] = true
	}
	taken := map[string]bool{}
	counter := map[string]int{}
	nodes := make([]*graph.Node, len(nps))
	type unsup struct {
		op    string
		names []string
	}
	var unsupported []*unsup
	byOp := map[string]*unsup{}
	nUnsupported := 0
	for i, np := range nps {
		op := np.GetOpType()
		name := np.GetName()
		if name == "" || taken[name] {
			for {
				name = op + "_" + strconv.Itoa(counter[op])
				counter[op]++
				if !explicit[name] && !taken[name] {
					break
				}
			}
		}
		taken[name] = true
		n := &graph.Node{Name: name, Op: op, Inputs: slices.Clone(np.Input), Outputs: slices.Clone(np.Output)}
		nodes[i] = n
		if op == "" {
			if np.GetName() == "" {
				return nil, d.errf("node %d has no name and no op type", i)
			}
			return nil, d.errf("node %q has no op type", np.GetName())
		}
		dom := np.GetDomain()
		key := ""
		switch {
		case dom != "" && dom != "ai.onnx":
			key = dom + "." + op
		case op != "Constant" && !cpu.Supported(op) && !importRenamed[op]:
			key = op
		}
		if key != "" {
			u := byOp[key]
			if u == nil {
				u = &unsup{op: key}
				byOp[key] = u
				unsupported = append(unsupported, u)
			}
			u.names = append(u.names, name)
			nUnsupported++
		}
	}
	if nUnsupported > 0 {
		var parts []string
		for _, u := range unsupported {
			names := u.names
			more := ""
			if len(names) > 10 {
				more = fmt.Sprintf(" and %d more", len(names)-10)
				names = names[:10]
			}
			parts = append(parts, fmt.Sprintf("%s (%s%s)", u.op, strings.Join(names, ", "), more))
		}
		s := "s"
		if nUnsupported == 1 {
			s = ""
		}
		return nil, d.errf("%d unsupported node%s: %s", nUnsupported, s, strings.Join(parts, ", "))
	}
	return nodes, nil
}

// initializers converts the initializers to params.
func (d *decoder) initializers(tps []*onnxpb.TensorProto) error {
	seen := map[string]bool{}
	for _, tp := range tps {
		name := tp.GetName()
		if name == "" {
			return d.errf("an initializer has no name")
		}
		if seen[name] {
			return d.errf("initializer %q is defined twice", name)
		}
		seen[name] = true
		if err := resolveExternal(tp, d.dir); err != nil {
			return d.errf("initializer %q: %v", name, err)
		}
		t, err := tensorFromProto(tp)
		if err != nil {
			return d.errf("initializer %q: %v", name, err)
		}
		d.g.AddParam(name, t, false)
	}
	return nil
}

// attrs converts a node's attributes.
func (d *decoder) attrs(n *graph.Node, np *onnxpb.NodeProto) error {
	if len(np.Attribute) == 0 {
		return nil
	}
	n.Attrs = make(graph.Attrs, len(np.Attribute))
	for _, ap := range np.Attribute {
		name := ap.GetName()
		if name == "" {
			return d.nodeErr(n, "an attribute has no name")
		}
		if _, dup := n.Attrs[name]; dup {
			return d.nodeErr(n, "attribute %q is given twice", name)
		}
		v, err := attrValue(ap)
		if err != nil {
			return d.nodeErr(n, "attribute %q: %v", name, err)
		}
		n.Attrs[name] = v
	}
	return nil
}

// attrValue converts one attribute to its Go value.
func attrValue(ap *onnxpb.AttributeProto) (any, error) {
	if ap.GetRefAttrName() != "" {
		return nil, fmt.Errorf("refers to a function attribute (%q), which is only valid inside functions", ap.GetRefAttrName())
	}
	typ := ap.GetType()
	if typ == onnxpb.AttributeProto_UNDEFINED {
		// IR 1 and 2 files may leave the type out: infer it.
		switch {
		case ap.I != nil:
			typ = onnxpb.AttributeProto_INT
		case ap.F != nil:
			typ = onnxpb.AttributeProto_FLOAT
		case ap.S != nil:
			typ = onnxpb.AttributeProto_STRING
		case ap.T != nil:
			typ = onnxpb.AttributeProto_TENSOR
		case len(ap.Ints) > 0:
			typ = onnxpb.AttributeProto_INTS
		case len(ap.Floats) > 0:
			typ = onnxpb.AttributeProto_FLOATS
		default:
			return nil, fmt.Errorf("no type")
		}
	}
	switch typ {
	case onnxpb.AttributeProto_INT:
		return int64ToInt(ap.GetI())
	case onnxpb.AttributeProto_FLOAT:
		return ap.GetF(), nil
	case onnxpb.AttributeProto_STRING:
		return string(ap.S), nil
	case onnxpb.AttributeProto_INTS:
		v := make([]int, len(ap.Ints))
		for i, x := range ap.Ints {
			var err error
			if v[i], err = int64ToInt(x); err != nil {
				return nil, err
			}
		}
		return v, nil
	case onnxpb.AttributeProto_FLOATS:
		return append([]float32{}, ap.Floats...), nil
	case onnxpb.AttributeProto_STRINGS: // LSTM's and GRU's activations
		v := make([]string, len(ap.Strings))
		for i, s := range ap.Strings {
			v[i] = string(s)
		}
		return v, nil
	case onnxpb.AttributeProto_TENSOR:
		if ap.T == nil {
			return nil, fmt.Errorf("TENSOR attribute without a tensor")
		}
		return tensorFromProto(ap.T)
	}
	name, ok := onnxpb.AttributeProto_AttributeType_name[int32(typ)]
	if !ok {
		name = strconv.Itoa(int(typ))
	}
	return nil, fmt.Errorf("attributes of type %s are not supported", name)
}

func int64ToInt(x int64) (int, error) {
	if x > math.MaxInt || x < math.MinInt {
		return 0, fmt.Errorf("integer %d overflows int", x)
	}
	return int(x), nil
}

// constant turns a Constant node into a param named after its output.
func (d *decoder) constant(n *graph.Node) error {
	if len(n.Inputs) != 0 || len(n.Outputs) != 1 || n.Outputs[0] == "" {
		return d.nodeErr(n, "want no inputs and one output, have %d inputs and %d outputs", len(n.Inputs), len(n.Outputs))
	}
	if len(n.Attrs) != 1 {
		return d.nodeErr(n, "want exactly one value attribute, have %d attributes", len(n.Attrs))
	}
	var t *tensor.Tensor
	for k, v := range n.Attrs {
		switch {
		case k == "value":
			t, _ = v.(*tensor.Tensor)
		case k == "value_float":
			if f, ok := v.(float32); ok {
				t = &tensor.Tensor{Shape: []int{}, Data: []float32{f}}
			}
		case k == "value_int":
			if i, ok := v.(int); ok {
				t = &tensor.Tensor{Shape: []int{}, Data: []float32{float32(i)}}
			}
		case k == "value_floats":
			if f, ok := v.([]float32); ok {
				t = &tensor.Tensor{Shape: []int{len(f)}, Data: slices.Clone(f)}
			}
		case k == "value_ints":
			if is, ok := v.([]int); ok {
				t = intsTensor(is)
			}
		default:
			return d.nodeErr(n, "attribute %q is not supported (shears constants are numeric)", k)
		}
		if t == nil {
			return d.nodeErr(n, "attribute %q has the wrong type %T", k, v)
		}
	}
	if d.g.Param(n.Outputs[0]) != nil {
		return d.nodeErr(n, "output %q is already an initializer", n.Outputs[0])
	}
	d.g.AddParam(n.Outputs[0], t, false)
	return nil
}

func intsTensor(v []int) *tensor.Tensor {
	t := &tensor.Tensor{Shape: []int{len(v)}, Data: make([]float32, len(v))}
	for i, x := range v {
		t.Data[i] = float32(x)
	}
	return t
}

// values converts graph inputs (except initializers) and outputs.
func (d *decoder) values(gp *onnxpb.GraphProto) error {
	params := map[string]bool{}
	for _, p := range d.g.Params {
		params[p.Name] = true
	}
	seen := map[string]bool{}
	var symbols [][]string // per input, each dimension's dim_param
	for name := range d.opts.InputShapes {
		if params[name] {
			return d.bindErr(&graph.BindError{Input: name, Err: errors.New("is an initializer (a weight), not an input that data is fed to")})
		}
	}
	for _, vi := range gp.Input {
		name := vi.GetName()
		if params[name] {
			continue
		}
		if name == "" {
			return d.errf("a graph input has no name")
		}
		if seen[name] {
			return d.errf("graph input %q is declared twice", name)
		}
		seen[name] = true
		shape, err := valueShape(vi, true)
		if err != nil {
			return d.errf("graph input %q: %v", name, err)
		}
		et, err := inputType(vi)
		if err != nil {
			return d.errf("graph input %q: %v", name, err)
		}
		d.g.Inputs = append(d.g.Inputs, graph.ValueInfo{Name: name, Shape: shape, Type: et})
		symbols = append(symbols, dimParams(vi))
	}
	if err := d.bindInputs(symbols); err != nil {
		return err
	}
	for _, vi := range gp.Output {
		name := vi.GetName()
		if name == "" {
			return d.errf("a graph output has no name")
		}
		shape, err := valueShape(vi, false)
		if err != nil {
			return d.errf("graph output %q: %v", name, err)
		}
		d.g.Outputs = append(d.g.Outputs, graph.ValueInfo{Name: name, Shape: shape})
	}
	if len(d.g.Outputs) == 0 {
		return d.errf("the graph has no outputs")
	}
	return nil
}

// valueShape reads the shape of a tensor value: −1 for a symbolic or
// unknown dimension. Inputs must have a known rank; an output of unknown
// rank gets a nil shape.
func valueShape(vi *onnxpb.ValueInfoProto, input bool) ([]int, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		if vi.GetType() == nil && !input {
			return nil, nil
		}
		return nil, fmt.Errorf("not a tensor (shears models take and give tensors)")
	}
	switch dt := onnxpb.TensorProto_DataType(tt.GetElemType()); dt {
	case onnxpb.TensorProto_STRING, onnxpb.TensorProto_COMPLEX64, onnxpb.TensorProto_COMPLEX128:
		return nil, fmt.Errorf("element type %s is not supported (shears computes in float32)", dataTypeName(int32(dt)))
	}
	if tt.Shape == nil {
		if input {
			return nil, fmt.Errorf("no shape (shears needs the rank of every input)")
		}
		return nil, nil
	}
	if len(tt.Shape.Dim) > MaxRank {
		return nil, fmt.Errorf("rank %d is above the limit of %d", len(tt.Shape.Dim), MaxRank)
	}
	shape := make([]int, len(tt.Shape.Dim))
	static := make([]int, len(shape))
	for i, dim := range tt.Shape.Dim {
		shape[i], static[i] = -1, 1
		if dv, ok := dim.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			if dv.DimValue < 0 {
				return nil, fmt.Errorf("negative dimension %d", dv.DimValue)
			}
			if dv.DimValue > tensor.MaxElems {
				return nil, fmt.Errorf("dimension %d is too large", dv.DimValue)
			}
			shape[i], static[i] = int(dv.DimValue), int(dv.DimValue)
		}
	}
	if _, err := tensor.NumElems(static); err != nil {
		return nil, err
	}
	return shape, nil
}

// inputType maps a graph input's element type to the IR's: FLOAT, the
// integer types and BOOL (held as float32: integers exactly up to 2^24,
// booleans as 0 and 1). Other types are refused.
func inputType(vi *onnxpb.ValueInfoProto) (graph.ElemType, error) {
	tt := vi.GetType().GetTensorType()
	dt := onnxpb.TensorProto_DataType(tt.GetElemType())
	if et, ok := irTypes[dt]; ok {
		return et, nil
	}
	return 0, fmt.Errorf("element type %s is not supported: shears computes in float32 and takes FLOAT, integer or BOOL inputs", dataTypeName(int32(dt)))
}

// irTypes maps the ONNX element types graph inputs may have to the IR's.
var irTypes = map[onnxpb.TensorProto_DataType]graph.ElemType{
	onnxpb.TensorProto_FLOAT: graph.Float32,
	onnxpb.TensorProto_INT64: graph.Int64, onnxpb.TensorProto_INT32: graph.Int32,
	onnxpb.TensorProto_INT16: graph.Int16, onnxpb.TensorProto_INT8: graph.Int8,
	onnxpb.TensorProto_UINT8: graph.Uint8, onnxpb.TensorProto_UINT16: graph.Uint16,
	onnxpb.TensorProto_UINT32: graph.Uint32, onnxpb.TensorProto_UINT64: graph.Uint64,
	onnxpb.TensorProto_BOOL: graph.Bool,
}

// checkArity rejects nodes whose required inputs are missing (the op
// implementations may assume they are there) and nodes without outputs.
func (d *decoder) checkArity(n *graph.Node) error {
	need, ok := minInputs[n.Op]
	if !ok && !noInputs[n.Op] {
		need = 1
	}
	if len(n.Inputs) < need {
		return d.nodeErr(n, "want at least %d inputs, have %d", need, len(n.Inputs))
	}
	for i := 0; i < need; i++ {
		if n.Inputs[i] == "" {
			return d.nodeErr(n, "required input %d has no name", i)
		}
	}
	if !slices.ContainsFunc(n.Outputs, func(s string) bool { return s != "" }) {
		return d.nodeErr(n, "has no outputs")
	}
	return nil
}

// checkOp builds the node's op, so that attributes the op refuses (a 3-D
// convolution window, a Cast to STRING, an unknown auto_pad ...) make the
// import fail, naming the node, rather than a later Compile.
func (d *decoder) checkOp(n *graph.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = d.nodeErr(n, "panic building the op (a bug in package graph): %v", r)
		}
	}()
	if _, err := cpu.NewOp(n); err != nil {
		return d.errf("%v", err)
	}
	return nil
}

// checkConvRanks refuses 3-D convolutions that have no window attributes
// (their rank comes from the weight) as the op builder refuses those that
// have them, so that both read as unsupported rather than fail to compile.
func (d *decoder) checkConvRanks() error {
	for _, n := range d.g.Nodes {
		if (n.Op == "Conv" || n.Op == "ConvTranspose") && len(n.Inputs) > 1 {
			if r := d.knownRank(n.Inputs[1]); r > 4 {
				return d.nodeErr(n, "only 1-D and 2-D windows are supported, have %d spatial dims (weight of rank %d)", r-2, r)
			}
		}
	}
	return nil
}

// constInputs lists, per op, float inputs that decide output shapes and
// so must be constants; int64 ones are refused anyway, as graph inputs
// must be float32.
var constInputs = map[string][]int{"Resize": {2, 3}, "Range": {0, 1, 2}}

// checkConstInputs refuses, at import, shape-deciding inputs that are
// graph inputs: no batch of data can make them constant.
func (d *decoder) checkConstInputs() error {
	inputs := map[string]bool{}
	for _, vi := range d.g.Inputs {
		inputs[vi.Name] = true
	}
	for _, n := range d.g.Nodes {
		for _, i := range constInputs[n.Op] {
			if i < len(n.Inputs) && inputs[n.Inputs[i]] {
				return d.nodeErr(n, "input %d (%s) decides the output shape, so it must be an initializer, not a graph input", i, n.Inputs[i])
			}
		}
	}
	return nil
}

// knownRank is the rank of a graph input or initializer, or -1.
func (d *decoder) knownRank(name string) int {
	if p := d.g.Param(name); p != nil {
		return p.Value.Rank()
	}
	for _, vi := range d.g.Inputs {
		if vi.Name == name {
			return len(vi.Shape)
		}
	}
	return -1
}

// importRenamed lists ops that normalise rewrites into ones the graph
// package has (Upsample becomes Resize).
var importRenamed = map[string]bool{"Upsample": true}

// noInputs lists ops that take no inputs.
var noInputs = map[string]bool{"Constant": true, "RandomNormal": true, "RandomUniform": true}

// minInputs is the number of leading inputs an op requires (opset-13
// form); ops not listed require their first input unless in noInputs.
var minInputs = map[string]int{
	"Conv": 2, "ConvTranspose": 2, "Gemm": 2, "MatMul": 2, "BatchNormalization": 5,
	"InstanceNormalization": 3, "LayerNormalization": 2, "PRelu": 2,
	"Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Pow": 2, "Mod": 2,
	"Equal": 2, "Greater": 2, "Less": 2, "GreaterOrEqual": 2, "LessOrEqual": 2, "And": 2, "Or": 2, "Xor": 2,
	"Reshape": 2, "Expand": 2, "Tile": 2, "Gather": 2, "GatherElements": 2, "GatherND": 2,
	"Slice": 3, "Unsqueeze": 2, "Pad": 2, "TopK": 2, "Where": 3, "Range": 3,
	"ScatterElements": 3, "ScatterND": 3, "OneHot": 3,
}

// sort puts the nodes in topological order (graph.Sort: stable, an already
// sorted graph is unchanged), after reporting, in the file's terms, values
// produced twice and inputs nothing defines; graph.Sort names a cycle.
func (d *decoder) sort() error {
	g := d.g
	defined := map[string]bool{"": true}
	for _, in := range g.Inputs {
		defined[in.Name] = true
	}
	for _, p := range g.Params {
		defined[p.Name] = true
	}
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return d.nodeErr(n, "output %q is also an output of node %q", o, g.Nodes[j].Name)
			}
			if defined[o] {
				return d.nodeErr(n, "output %q is also a graph input or initializer", o)
			}
			producer[o] = i
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if _, ok := producer[in]; !ok && !defined[in] {
				return d.nodeErr(n, "input %q is not a graph input, initializer or node output", in)
			}
		}
	}
	if err := g.Sort(); err != nil {
		return d.errf("%s", strings.TrimPrefix(err.Error(), "graph: "))
	}
	return nil
}
