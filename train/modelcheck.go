package train

import (
	"fmt"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
)

// Mismatch is what part of a model does not fit a data set.
type Mismatch int

const (
	// MismatchArity: the model has not exactly one input and one output.
	MismatchArity Mismatch = iota
	// MismatchInput: its input is not shaped as the data set's images.
	MismatchInput
	// MismatchOutput: it reads the images but does not give one score per
	// class (a segmentation or detection head); label-free pruning can
	// still use the images.
	MismatchOutput
)

// ModelDataError says that a model cannot be trained or evaluated on a
// data set as CheckImageModel requires, with the facts a caller words its
// message from.
type ModelDataError struct {
	Kind            Mismatch
	Model, Data     string
	Inputs, Outputs int    // the model's counts (MismatchArity)
	Value           string // the input or output that does not fit
	Shape           []int  // its shape (-1: dynamic)
	// Want is what the data set needs: N×C×H×W images (MismatchInput) or
	// N×classes scores (MismatchOutput), N as -1.
	Want []int
}

func (e *ModelDataError) Error() string {
	switch e.Kind {
	case MismatchArity:
		return fmt.Sprintf("model %q has %d inputs and %d outputs; training and evaluating on images need one of each", e.Model, e.Inputs, e.Outputs)
	case MismatchInput:
		return fmt.Sprintf("model input %q is %v; %s images are N×%d×%d×%d", e.Value, e.Shape, e.Data, e.Want[1], e.Want[2], e.Want[3])
	}
	return fmt.Sprintf("model output %q has shape %v; %s needs N×%d class scores", e.Value, e.Shape, e.Data, e.Want[1])
}

// CheckImageInput checks that g has one input, shaped as ds's images
// (N×C×H×W, dynamic dimensions allowed), and one output, and returns
// g's compiled program. A misfit is a *ModelDataError.
func CheckImageInput(g *graph.Graph, ds *data.Dataset) (*cpu.Program, error) {
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, &ModelDataError{Kind: MismatchArity, Model: g.Name, Data: ds.Name, Inputs: len(g.Inputs), Outputs: len(g.Outputs)}
	}
	// The shape first: compiling a model fed the wrong images fails
	// deep inside, at the first layer that notices.
	in := g.Inputs[0].Shape
	fits := func(k, want int) bool { return in[k] == want || in[k] < 0 }
	if len(in) != 4 || !fits(1, ds.C) || !fits(2, ds.H) || !fits(3, ds.W) {
		return nil, &ModelDataError{Kind: MismatchInput, Model: g.Name, Data: ds.Name, Value: g.Inputs[0].Name, Shape: in, Want: []int{-1, ds.C, ds.H, ds.W}}
	}
	return cpu.Compile(g)
}

// CheckImageModel is CheckImageInput and a check that g gives one score
// per class of ds (N×classes): the contract for training and evaluating
// on an image classification data set.
func CheckImageModel(g *graph.Graph, ds *data.Dataset) (*cpu.Program, error) {
	prog, err := CheckImageInput(g, ds)
	if err != nil {
		return nil, err
	}
	shapes, err := prog.InferShapes(1)
	if err != nil {
		return nil, err
	}
	out := shapes[g.Outputs[0].Name]
	if len(out) != 2 || out[1] != ds.Classes {
		return nil, &ModelDataError{Kind: MismatchOutput, Model: g.Name, Data: ds.Name, Value: g.Outputs[0].Name, Shape: out, Want: []int{-1, ds.Classes}}
	}
	return prog, nil
}
