package cpu

import (
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

// Op is a node instantiated for execution. One Op value belongs to one
// Program, so it may keep state between Forward and Backward (BatchNorm's
// batch statistics, MaxPool's argmax, Dropout's mask).
type Op interface {
	// Infer returns the output shapes for the given input shapes. consts[i]
	// holds the value of input i when it is a param (needed by ops such as
	// Reshape whose output shape depends on an input's value), else nil.
	Infer(in [][]int, consts []*tensor.Tensor) ([][]int, error)
	// Forward computes the outputs, which are preallocated with the
	// inferred shapes and must be fully overwritten.
	Forward(ctx *Ctx, in, out []*tensor.Tensor) error
	// Backward adds the gradient of the loss with respect to each input to
	// gin[i] (gin[i] is nil when input i needs no gradient), given the
	// inputs and outputs of the last training Forward and the output
	// gradients gout.
	Backward(ctx *Ctx, in, out, gout, gin []*tensor.Tensor) error
}

// Ctx is what ops see of the running program.
type Ctx struct {
	// Train selects training behaviour (BatchNorm batch statistics,
	// Dropout active).
	Train bool
	// Threads is the worker count ops may use (>= 1).
	Threads int
	// Rand is the op's random source for this call (Dropout); it is seeded
	// from the program's seed, the step and the node index, so runs repeat.
	Rand *rand.Rand
	// Fresh, in Backward and only for ops that implement FreshGradWriter,
	// marks the input gradients nothing has written yet in this pass: the
	// op must overwrite all of gin[i] instead of adding into it. Every
	// other buffer an op sees holds the sum so far (zero at first).
	Fresh []bool
}

// fresh reports whether gin[i] is to be overwritten.
func (c *Ctx) fresh(i int) bool { return i < len(c.Fresh) && c.Fresh[i] }

// FreshGradWriter is implemented by ops whose Backward can overwrite an
// input gradient that nothing else has written yet (Ctx.Fresh). That saves
// clearing the buffer first and reading it back while adding, a sizeable
// share of a training step on the memory-bound passes (ReLU, BatchNorm,
// a convolution's input gradient). Backward must then write every element
// of the fresh gin[i].
type FreshGradWriter interface {
	WritesFreshGrads() bool
}
