package graph

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/shearsml/shears/tensor"
)

// OpSpec is everything shears knows about one op type, declared once in the
// op's file and registered with RegisterOp. Code that needs to know what a
// node means (LabelAxes, Stats, pruning's summaries and re-initialisation)
// asks the spec instead of switching on op names. The spec says what an
// op means, not how it is computed: a backend registers its kernels for
// the type separately (backend/cpu.RegisterKernel).
type OpSpec struct {
	// Type is the ONNX op type ("Conv").
	Type string
	// Infer returns the node's output shapes for its input shapes, without
	// building an Op (InferShapes): in[i] is nil for an omitted input, and
	// consts[i] is the value of input i when it is a param (Reshape's
	// shape, Slice's starts), else nil. Errors say what is wrong with which
	// shape; InferShapes adds the node. Required.
	Infer func(n *Node, in [][]int, consts []*tensor.Tensor) ([][]int, error)
	// Params says what the node's param inputs are: their kind, axis
	// roles and whether they train. Nil, or an input it does not list,
	// means a constant that does not train (shape vectors, axes, scalars
	// in arithmetic).
	Params func(n *Node, in []Operand) []ParamUse
	// Weight finds the node's conv or linear weight: which input it is
	// and which of its axes hold the output and input channels. Nil for
	// ops without one. The op's own Params and Init read the weight's
	// layout from it too, so that an attribute such as Gemm's transB is
	// decoded in one place.
	Weight func(n *Node, in []Operand) (WeightUse, bool)
	// MACs counts the node's multiply-accumulates given its input and
	// output shapes (one image). Nil: none are counted.
	MACs func(n *Node, in, out [][]int) int
	// Init re-initialises the node's params the way the zoo builders
	// initialise a fresh model, drawing from r. Nil: its params are left
	// as they are.
	Init func(n *Node, in []Operand, r *rand.Rand)
	// NoGradient, when set, says why the op has no gradient to check
	// (Constant has no inputs). Every other op must have a
	// finite-difference gradient check in the package's tests.
	NoGradient string
}

// Operand is what a spec sees of one input of a node.
type Operand struct {
	Name string
	// Param is the param the input reads, nil for an activation, a graph
	// input or an omitted input.
	Param *Param
	// GraphInput is set when the input is one of the graph's inputs.
	GraphInput bool
}

// ParamKind says what a param is to the op that reads it.
type ParamKind uint8

const (
	ParamConst  ParamKind = iota // data the op reads: shapes, axes, pads, constants in arithmetic
	ParamWeight                  // a conv or linear weight (out, in and spatial axes)
	ParamBias                    // added per output channel
	ParamScale                   // multiplies per channel (a norm's γ, a PReLU slope, a layer scale)
	ParamShift                   // added per channel after a normalisation (β)
	ParamMean                    // running mean, a statistic rather than a learned value
	ParamVar                     // running variance
)

func (k ParamKind) String() string {
	switch k {
	case ParamWeight:
		return "weight"
	case ParamBias:
		return "bias"
	case ParamScale:
		return "scale"
	case ParamShift:
		return "shift"
	case ParamMean:
		return "running mean"
	case ParamVar:
		return "running variance"
	}
	return "constant"
}

// ParamUse declares how a node uses its param input Input.
type ParamUse struct {
	Input int
	Kind  ParamKind
	// Axes are the roles of the param's leading axes; a last role of
	// AxisSpatial extends to the remaining axes, and axes past the list
	// keep whatever role another use gave them.
	Axes []AxisRole
	// Trainable is whether optimisers update the param (unless the graph
	// overrides it, Graph.SetTrainable).
	Trainable bool
}

// WeightUse locates a node's conv or linear weight.
type WeightUse struct {
	Input   int // the weight's input index
	Out, In int // its axes of output and input channels
	// Groups is the number of channel groups (a Conv's group attribute;
	// 1 for a linear layer). The weight's axis 1 holds the channels of
	// one group: in/group for a Conv, out/group for a ConvTranspose.
	Groups int
}

var (
	registryMu sync.RWMutex
	registry   = map[string]OpSpec{}
)

// RegisterOp tells shears what an op type means. Ops register themselves
// in init functions; a later registration of the same type replaces the
// earlier one. It panics on a spec without Type or Infer, a programming
// error. Running the op also needs a kernel (backend/cpu.RegisterKernel).
func RegisterOp(s OpSpec) {
	if s.Type == "" || s.Infer == nil {
		panic(fmt.Sprintf("graph: RegisterOp(%q) needs a Type and an Infer function", s.Type))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[s.Type] = s
}

// Spec returns the spec of an op type.
func Spec(opType string) (OpSpec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[opType]
	return s, ok
}

// UnregisterOp removes an op type's spec: for tests that register an op
// of their own.
func UnregisterOp(opType string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	delete(registry, opType)
}

// Operands describes the inputs of node n of g (params from params, which
// is g.ParamMap()).
func Operands(g *Graph, n *Node, params map[string]*Param) []Operand {
	ops := make([]Operand, len(n.Inputs))
	for i, name := range n.Inputs {
		ops[i] = Operand{Name: name}
		if name == "" {
			continue
		}
		ops[i].Param = params[name]
		for _, in := range g.Inputs {
			if in.Name == name {
				ops[i].GraphInput = true
				break
			}
		}
	}
	return ops
}

// WeightOf returns node n's conv or linear weight, as its op's spec locates
// it, or ok false when the op has none or the input is not a param.
func WeightOf(g *Graph, n *Node, params map[string]*Param) (w *Param, use WeightUse, ok bool) {
	s, found := Spec(n.Op)
	if !found || s.Weight == nil {
		return nil, WeightUse{}, false
	}
	ops := Operands(g, n, params)
	use, ok = s.Weight(n, ops)
	if !ok || use.Input >= len(ops) || ops[use.Input].Param == nil {
		return nil, WeightUse{}, false
	}
	return ops[use.Input].Param, use, true
}

// ParamUses lists how node n of g uses its params, as its op's spec
// declares (nil for an op without params or an unknown op). Uses of inputs
// that are not params are left out.
func ParamUses(g *Graph, n *Node, params map[string]*Param) []ParamUse {
	s, ok := Spec(n.Op)
	if !ok || s.Params == nil {
		return nil
	}
	ops := Operands(g, n, params)
	var uses []ParamUse
	for _, u := range s.Params(n, ops) {
		if u.Input >= 0 && u.Input < len(ops) && ops[u.Input].Param != nil {
			uses = append(uses, u)
		}
	}
	return uses
}

// WeightAxes returns the axes of p labelled AxisOut and AxisIn (the first
// of each), or −1 for a role p's labels do not hold: a conv or linear
// weight has both.
func (p *Param) WeightAxes() (out, in int) {
	out, in = -1, -1
	for a, r := range p.Axes {
		switch r {
		case AxisOut:
			if out < 0 {
				out = a
			}
		case AxisIn:
			if in < 0 {
				in = a
			}
		}
	}
	return out, in
}
