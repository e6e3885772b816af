package cpu

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Builder makes a node's Op from its attributes.
type Builder func(n *graph.Node) (Op, error)

var (
	kernelTableMu sync.RWMutex
	kernelTable   = map[string]Builder{}
)

// RegisterKernel tells the CPU how to run an op type whose meaning
// graph.RegisterOp declares. A later registration of the same type
// replaces the earlier one. It panics on an empty type or a nil builder, a
// programming error.
func RegisterKernel(opType string, b Builder) {
	if opType == "" || b == nil {
		panic(fmt.Sprintf("cpu: RegisterKernel(%q) needs a type and a builder", opType))
	}
	kernelTableMu.Lock()
	defer kernelTableMu.Unlock()
	kernelTable[opType] = b
}

// Register registers a custom op type that only needs a builder: a spec
// with no params that train, no MACs, nothing to re-initialise, and shapes
// from the built Op's Infer method, and the builder as its kernel.
func Register(opType string, b Builder) {
	graph.RegisterOp(graph.OpSpec{Type: opType, Infer: func(n *graph.Node, in [][]int, consts []*tensor.Tensor) ([][]int, error) {
		op, err := b(n)
		if err != nil {
			return nil, err
		}
		return op.Infer(in, consts)
	}})
	RegisterKernel(opType, b)
}

// Unregister removes an op type's kernel and spec: for tests that register
// an op of their own.
func Unregister(opType string) {
	kernelTableMu.Lock()
	delete(kernelTable, opType)
	kernelTableMu.Unlock()
	graph.UnregisterOp(opType)
}

func kernelOf(opType string) (Builder, bool) {
	kernelTableMu.RLock()
	defer kernelTableMu.RUnlock()
	b, ok := kernelTable[opType]
	return b, ok
}

// Supported reports whether the CPU can run an op type: it has a spec
// (graph.RegisterOp) and a kernel (RegisterKernel).
func Supported(opType string) bool {
	_, spec := graph.Spec(opType)
	_, kernel := kernelOf(opType)
	return spec && kernel
}

// SupportedOps lists the op types the CPU can run (Supported), sorted.
func SupportedOps() []string {
	kernelTableMu.RLock()
	types := slices.Sorted(maps.Keys(kernelTable))
	kernelTableMu.RUnlock()
	return slices.DeleteFunc(types, func(t string) bool { _, ok := graph.Spec(t); return !ok })
}

// NewOp instantiates a node's op. An op type without a spec or a kernel is
// "unsupported op type".
func NewOp(n *graph.Node) (Op, error) {
	b, ok := kernelOf(n.Op)
	if _, spec := graph.Spec(n.Op); !ok || !spec {
		return nil, fmt.Errorf("node %q: unsupported op type %s", n.Name, n.Op)
	}
	op, err := b(n)
	if err != nil {
		return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
	}
	return op, nil
}
