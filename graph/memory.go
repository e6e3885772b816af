package graph

import (
	"math"

	"github.com/shearsml/shears/tensor"
)

// ActivationBytes estimates the memory Forward allocates for a batch
// size: every input and every computed value (float32), from shape
// inference alone, so that a small file whose activations would need tens
// of gigabytes is refused before anything is allocated. Values that share
// a buffer (a fused op's output) count once; params are not counted.
// Training keeps a gradient per value besides: callers double the figure.
// The sum saturates at math.MaxInt64 instead of overflowing.
//
// Call it before running the program: it leaves the program's shapes at
// batch 1, as Compile does, and drops buffers allocated for another batch.
func (p *Program) ActivationBytes(batch int) (int64, error) {
	err := p.setBatch(batch, false)
	var total int64
	if err == nil {
		for _, s := range p.slots {
			if s.param != nil || s.aliasOf != nil || s.unused {
				continue
			}
			n, nerr := tensor.NumElems(s.shape)
			if nerr != nil {
				err = nerr
				break
			}
			if total > math.MaxInt64-4*int64(n) {
				total = math.MaxInt64
				break
			}
			total += 4 * int64(n)
		}
	}
	if err1 := p.setBatch(1, false); err == nil {
		err = err1
	}
	return total, err
}
