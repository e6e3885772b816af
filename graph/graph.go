package graph

import (
	"fmt"
	"maps"
	"slices"

	"github.com/shearsml/shears/tensor"
)

// AxisRole says what a dimension of a parameter means to pruning.
type AxisRole uint8

const (
	AxisNone    AxisRole = iota // not a channel axis (e.g. a reshape shape vector)
	AxisOut                     // output channels / neurons: pruning a filter removes this slice
	AxisIn                      // input channels / features
	AxisSpatial                 // kernel height/width
)

func (r AxisRole) String() string {
	switch r {
	case AxisOut:
		return "out"
	case AxisIn:
		return "in"
	case AxisSpatial:
		return "spatial"
	}
	return "none"
}

// Param is a named tensor that the graph owns: a weight, bias, BatchNorm
// statistic or constant (an ONNX initializer).
type Param struct {
	Name  string
	Value *tensor.Tensor
	// Axes labels each dimension of Value; len(Axes) == Value.Rank().
	Axes []AxisRole
	// Trainable is false for BatchNorm running statistics and constants
	// (reshape shapes, ...): optimisers and weight decay skip them.
	Trainable bool
}

// ValueInfo describes a graph input or output. Shape uses −1 for the dynamic
// batch dimension.
type ValueInfo struct {
	Name  string
	Shape []int
	// Type is the element type the model declares for an input (Float32
	// unless the model takes integers or booleans, such as token ids or a
	// sample rate). Every value is held as float32 whatever its type:
	// integers exactly up to 2^24, booleans as 0 and 1.
	Type ElemType
}

// ElemType is the element type a graph input is declared with. The zero
// value is Float32.
type ElemType uint8

const (
	Float32 ElemType = iota
	Int64
	Int32
	Int16
	Int8
	Uint8
	Uint16
	Uint32
	Uint64
	Bool
)

var elemTypeNames = [...]string{"float32", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool"}

func (t ElemType) String() string {
	if int(t) < len(elemTypeNames) {
		return elemTypeNames[t]
	}
	return fmt.Sprintf("ElemType(%d)", uint8(t))
}

// Integer reports whether values of type t are integers (booleans
// included).
func (t ElemType) Integer() bool { return t != Float32 }

// Node is one op application.
type Node struct {
	Name    string
	Op      string   // ONNX op type, e.g. "Conv"
	Inputs  []string // value or param names; "" for an omitted optional input
	Outputs []string
	Attrs   Attrs
}

// Graph is a model: inputs, nodes in topological order, params, outputs.
type Graph struct {
	Name    string
	Inputs  []ValueInfo
	Outputs []ValueInfo
	Nodes   []*Node
	Params  []*Param
	// Meta holds free-form key/value metadata (recipe, training history);
	// it is written into model files.
	Meta map[string]string
	// TrainOverrides maps param names to the trainability a user chose
	// (SetTrainable), which wins over what the ops declare.
	TrainOverrides map[string]bool
}

// Param returns the param with the given name, or nil.
func (g *Graph) Param(name string) *Param {
	for _, p := range g.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ParamMap indexes params by name.
func (g *Graph) ParamMap() map[string]*Param {
	m := make(map[string]*Param, len(g.Params))
	for _, p := range g.Params {
		m[p.Name] = p
	}
	return m
}

// Node returns the node with the given name, or nil.
func (g *Graph) Node(name string) *Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Producers maps each value name to the node that outputs it.
func (g *Graph) Producers() map[string]*Node {
	m := make(map[string]*Node)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				m[o] = n
			}
		}
	}
	return m
}

// Consumers maps each value or param name to the nodes that read it, in
// node order.
func (g *Graph) Consumers() map[string][]*Node {
	m := make(map[string][]*Node)
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !slices.Contains(m[in], n) {
				m[in] = append(m[in], n)
			}
		}
	}
	return m
}

// AddParam appends a param, labelling no axes (call LabelAxes once the
// graph is built).
func (g *Graph) AddParam(name string, t *tensor.Tensor, trainable bool) *Param {
	p := &Param{Name: name, Value: t, Axes: make([]AxisRole, t.Rank()), Trainable: trainable}
	g.Params = append(g.Params, p)
	return p
}

// RemoveUnusedParams drops params that no node reads.
func (g *Graph) RemoveUnusedParams() {
	used := g.Consumers()
	g.Params = slices.DeleteFunc(g.Params, func(p *Param) bool { return len(used[p.Name]) == 0 })
}

// NumParams counts the elements of trainable params plus BatchNorm
// statistics are excluded: this is the "params" figure of docs/ZOO.md
// (weights, biases, BN scale and shift).
func (g *Graph) NumParams() int {
	n := 0
	for _, p := range g.Params {
		if p.Trainable {
			n += p.Value.Len()
		}
	}
	return n
}

// Clone deep-copies the graph, params included.
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name, Meta: map[string]string{}}
	for k, v := range g.Meta {
		c.Meta[k] = v
	}
	if g.TrainOverrides != nil {
		c.TrainOverrides = maps.Clone(g.TrainOverrides)
	}
	for _, vi := range g.Inputs {
		c.Inputs = append(c.Inputs, ValueInfo{vi.Name, slices.Clone(vi.Shape), vi.Type})
	}
	for _, vi := range g.Outputs {
		c.Outputs = append(c.Outputs, ValueInfo{vi.Name, slices.Clone(vi.Shape), vi.Type})
	}
	for _, n := range g.Nodes {
		c.Nodes = append(c.Nodes, &Node{Name: n.Name, Op: n.Op, Inputs: slices.Clone(n.Inputs),
			Outputs: slices.Clone(n.Outputs), Attrs: n.Attrs.Clone()})
	}
	for _, p := range g.Params {
		c.Params = append(c.Params, &Param{Name: p.Name, Value: p.Value.Clone(), Axes: slices.Clone(p.Axes), Trainable: p.Trainable})
	}
	return c
}

// Validate checks structure without shapes: unique node and value names,
// every input defined (graph input, param or an earlier node's output),
// nodes in topological order (Sort fixes order; a cycle is an error), and
// every output produced.
func (g *Graph) Validate() error {
	defined := map[string]string{}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return fmt.Errorf("graph: an input has no name")
		}
		if _, dup := defined[in.Name]; dup {
			return fmt.Errorf("graph: input %q declared twice", in.Name)
		}
		defined[in.Name] = "graph input"
	}
	for _, p := range g.Params {
		if _, dup := defined[p.Name]; dup {
			return fmt.Errorf("graph: param %q clashes with a %s of the same name", p.Name, defined[p.Name])
		}
		if p.Value == nil {
			return fmt.Errorf("graph: param %q has no value", p.Name)
		}
		if len(p.Axes) != p.Value.Rank() {
			return fmt.Errorf("graph: param %q has %d axis labels for shape %v", p.Name, len(p.Axes), p.Value.Shape)
		}
		defined[p.Name] = "param"
	}
	names := map[string]bool{}
	for i, n := range g.Nodes {
		if n.Name == "" {
			return fmt.Errorf("graph: node %d (%s) has no name", i, n.Op)
		}
		if names[n.Name] {
			return fmt.Errorf("graph: node name %q used twice", n.Name)
		}
		names[n.Name] = true
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, ok := defined[in]; !ok {
				return fmt.Errorf("graph: node %q (%s): input %q is not a graph input, param or output of an earlier node", n.Name, n.Op, in)
			}
		}
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if what, dup := defined[o]; dup {
				return fmt.Errorf("graph: node %q (%s): output %q is already defined as a %s", n.Name, n.Op, o, what)
			}
			defined[o] = "node output"
		}
	}
	for _, o := range g.Outputs {
		if _, ok := defined[o.Name]; !ok {
			return fmt.Errorf("graph: output %q is never produced", o.Name)
		}
	}
	return nil
}
