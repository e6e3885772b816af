package train

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/tensor"
)

// Loss turns a model's outputs on one batch into the loss to minimise and
// its gradient with respect to each output. A Trainer calls it once per
// training batch, after the forward pass.
//
// grads holds one tensor per model output (in Graph.Outputs order), shaped
// like that output and zero on entry: Loss writes the gradient of the loss
// (the batch mean, as the optimiser's learning rate assumes) into the ones
// it uses and leaves the others at zero, so that a loss reading output 0
// only trains through output 0. outputs and grads belong to the trainer
// and are overwritten by the next batch.
type Loss interface {
	Loss(outputs []*tensor.Tensor, b Batch, grads []*tensor.Tensor) (LossValue, error)
}

// LossValue is what a Loss reports for one batch.
type LossValue struct {
	Loss float64 // mean over the batch
	// Correct counts the batch's correct predictions (top-1 for
	// classification). A loss with no notion of accuracy leaves it at 0,
	// and the training accuracy in Progress and Result then reads 0.
	Correct int
}

// Batch is one mini-batch as a Loss (and the model) sees it. Its tensors
// live in buffers the trainer reuses: clone them to keep them.
type Batch struct {
	Epoch int // 0-based epoch of the batch
	Index int // position of the batch in its epoch, from 0
	// Inputs are the model's inputs in Graph.Inputs order: Inputs[0] is
	// the data set's images (B×C×H×W, standardised and augmented); the
	// rest, for a model with more inputs, come from the loss's
	// InputFeeder.
	Inputs []*tensor.Tensor
	Labels []int // class index of each image
}

// InputFeeder is implemented by a Loss that trains a model with more than
// one input: it says what the model's other inputs are for each batch.
// ExtraInputs returns them in Graph.Inputs order (len(Graph.Inputs) − 1
// tensors, each with the batch's size in its batch dimension); b.Inputs
// holds the images only. The trainer calls it for every training batch,
// before the forward pass, and for every evaluation batch of Run's test
// set (with Epoch −1).
type InputFeeder interface {
	ExtraInputs(b Batch) ([]*tensor.Tensor, error)
}

// CrossEntropy is the default Loss: softmax cross-entropy of output 0
// (batch×classes logits) against the batch's labels, counting top-1 hits.
// A model's other outputs, if any, get no gradient.
type CrossEntropy struct{}

// Loss implements Loss with SoftmaxCrossEntropy.
func (CrossEntropy) Loss(outputs []*tensor.Tensor, b Batch, grads []*tensor.Tensor) (LossValue, error) {
	if len(outputs) == 0 || len(grads) != len(outputs) {
		return LossValue{}, fmt.Errorf("loss: cross-entropy needs an output and its gradient, have %d outputs and %d gradients", len(outputs), len(grads))
	}
	loss, correct, err := SoftmaxCrossEntropy(outputs[0], b.Labels, grads[0])
	return LossValue{Loss: loss, Correct: correct}, err
}

// SoftmaxCrossEntropy returns the mean cross-entropy of logits (B×C)
// against labels, the number of correct top-1 predictions, and writes the
// gradient of the mean loss with respect to the logits into grad (B×C).
func SoftmaxCrossEntropy(logits *tensor.Tensor, labels []int, grad *tensor.Tensor) (loss float64, correct int, err error) {
	if logits.Rank() != 2 {
		return 0, 0, fmt.Errorf("loss: logits must be batch×classes, have %s", tensor.ShapeString(logits.Shape))
	}
	b, c := logits.Shape[0], logits.Shape[1]
	if len(labels) != b {
		return 0, 0, fmt.Errorf("loss: %d labels for %d logits", len(labels), b)
	}
	if grad != nil && !tensor.SameShape(grad.Shape, logits.Shape) {
		return 0, 0, fmt.Errorf("loss: gradient buffer is %s for %s logits", tensor.ShapeString(grad.Shape), tensor.ShapeString(logits.Shape))
	}
	inv := 1 / float32(b)
	for i := 0; i < b; i++ {
		row := logits.Data[i*c : (i+1)*c]
		y := labels[i]
		if y < 0 || y >= c {
			return 0, 0, fmt.Errorf("loss: label %d out of range for %d classes", y, c)
		}
		mx, arg := row[0], 0
		for j, v := range row {
			if v > mx {
				mx, arg = v, j
			}
		}
		if arg == y {
			correct++
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v - mx))
		}
		lse := float64(mx) + math.Log(sum)
		loss += lse - float64(row[y])
		if grad != nil {
			g := grad.Data[i*c : (i+1)*c]
			for j, v := range row {
				g[j] = float32(math.Exp(float64(v)-lse)) * inv
			}
			g[y] -= inv
		}
	}
	return loss / float64(b), correct, nil
}
