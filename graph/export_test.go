package graph

import (
	"fmt"
	"sync/atomic"
)

// SetBlocked turns the blocked segments of CompileInference on or off (when
// the machine has their kernels) and returns the previous setting.
func SetBlocked(on bool) (was bool) {
	was = useBlocked
	useBlocked = on && blockedAvailable()
	return was
}

// BlockedNodes counts the nodes that run in blocked segments.
func BlockedNodes(p *Program) int {
	n := 0
	for _, s := range p.segments {
		n += len(s.steps)
	}
	return n
}

// CountBuilds runs f with every registered op's Build replaced by one that
// counts its calls and fails, and returns the count: shape inference that
// needs no kernels builds no Op.
func CountBuilds(f func()) int {
	registryMu.Lock()
	saved := registry
	registry = make(map[string]OpSpec, len(saved))
	var calls atomic.Int64
	for k, s := range saved {
		s.Build = func(n *Node) (Op, error) {
			calls.Add(1)
			return nil, fmt.Errorf("node %q: shape inference built an Op", n.Name)
		}
		registry[k] = s
	}
	registryMu.Unlock()
	defer func() {
		registryMu.Lock()
		registry = saved
		registryMu.Unlock()
	}()
	f()
	return int(calls.Load())
}
