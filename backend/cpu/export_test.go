package cpu

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
