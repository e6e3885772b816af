package train

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// Teacher gives the teacher's logits (B×C) for a training batch. The
// tensor may live in a buffer the teacher reuses: it is read before the
// next call.
type Teacher func(b Batch) (*tensor.Tensor, error)

// Distill is knowledge distillation (Hinton, Vinyals & Dean 2015,
// "Distilling the Knowledge in a Neural Network") as a Loss: on output 0
// (the student's logits s) and the teacher's logits t of the same batch,
//
//	loss = α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, labels),
//
// averaged over the batch. The T² keeps the soft term's gradient, which
// scales as 1/T², comparable with the label term's when T changes (the
// paper's remark). Hinton et al. use T between 2 and 20 and a large
// weight on the soft term; DefaultDistillAlpha and DefaultDistillT are
// the common choices for recovering a pruned network from its dense self.
// It needs the labels (α < 1) and a teacher with the student's classes.
type Distill struct {
	Teacher Teacher
	Alpha   float64 // weight of the soft (teacher) term, in [0, 1]
	T       float64 // temperature, > 0
}

// Paper-style defaults of Distill.
const (
	DefaultDistillAlpha = 0.9
	DefaultDistillT     = 4
)

// CheckDistill reports a weight or a temperature Distill cannot use,
// naming the setting.
func CheckDistill(alpha, temperature float64) error {
	if !(alpha >= 0 && alpha <= 1) {
		return fmt.Errorf("distillation alpha must be in [0, 1], have %g", alpha)
	}
	if !(temperature > 0) || math.IsInf(temperature, 0) {
		return fmt.Errorf("distillation temperature must be a finite number > 0, have %g", temperature)
	}
	return nil
}

// NewDistill returns a Distill whose teacher is g run in inference mode
// (its own compiled program, so the student's training does not touch
// it) on the batch's first len(g.Inputs) inputs (a student may have more:
// noise inputs of sparse variational dropout). g must have one output, the logits; it is
// not copied, so do not change it during training.
func NewDistill(g *graph.Graph, alpha, temperature float64, threads int) (*Distill, error) {
	if err := CheckDistill(alpha, temperature); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("distillation: no teacher model")
	}
	if len(g.Outputs) != 1 {
		return nil, fmt.Errorf("distillation: the teacher %s has %d outputs, want one (the logits)", g.Name, len(g.Outputs))
	}
	prog, err := cpu.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("distillation: teacher: %w", err)
	}
	prog.Threads = threads
	n := len(g.Inputs)
	teach := func(b Batch) (*tensor.Tensor, error) {
		if len(b.Inputs) < n {
			return nil, fmt.Errorf("distillation: the teacher has %d inputs, the batch %d", n, len(b.Inputs))
		}
		// A student with more inputs (noise, gates) shares the first ones.
		outs, err := prog.Forward(false, b.Inputs[:n]...)
		if err != nil {
			return nil, fmt.Errorf("distillation: teacher: %w", err)
		}
		return outs[0], nil
	}
	return &Distill{Teacher: teach, Alpha: alpha, T: temperature}, nil
}

// Loss implements Loss. The gradient of the soft term with respect to
// the student's logits is α·T·(softmax(s/T) − softmax(t/T)) per image.
func (d *Distill) Loss(outputs []*tensor.Tensor, b Batch, grads []*tensor.Tensor) (LossValue, error) {
	if len(outputs) == 0 || len(grads) != len(outputs) {
		return LossValue{}, fmt.Errorf("distillation: needs an output and its gradient, have %d outputs and %d gradients", len(outputs), len(grads))
	}
	if err := CheckDistill(d.Alpha, d.T); err != nil {
		return LossValue{}, err
	}
	s := outputs[0]
	// The label term first: it checks the shapes and fills grads[0]
	// with the cross-entropy's gradient, scaled below.
	ce, correct, err := SoftmaxCrossEntropy(s, b.Labels, grads[0])
	if err != nil {
		return LossValue{}, fmt.Errorf("distillation: %w", err)
	}
	t, err := d.Teacher(b)
	if err != nil {
		return LossValue{}, err
	}
	if !tensor.SameShape(t.Shape, s.Shape) {
		return LossValue{}, fmt.Errorf("distillation: teacher logits are %s, the student's %s", tensor.ShapeString(t.Shape), tensor.ShapeString(s.Shape))
	}
	n, c := s.Shape[0], s.Shape[1]
	g := grads[0].Data
	for i := range g {
		g[i] *= float32(1 - d.Alpha)
	}
	ps, pt := make([]float64, c), make([]float64, c)
	var kl float64
	scale := d.Alpha * d.T / float64(n)
	for i := 0; i < n; i++ {
		logSoftmax(s.Data[i*c:(i+1)*c], d.T, ps)
		logSoftmax(t.Data[i*c:(i+1)*c], d.T, pt)
		for j := range c {
			p := math.Exp(pt[j])
			kl += p * (pt[j] - ps[j])
			g[i*c+j] += float32(scale * (math.Exp(ps[j]) - p))
		}
	}
	loss := d.Alpha*d.T*d.T*kl/float64(n) + (1-d.Alpha)*ce
	return LossValue{Loss: loss, Correct: correct}, nil
}

// logSoftmax writes log softmax(x/T) into out.
func logSoftmax(x []float32, temperature float64, out []float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v)/temperature)
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v)/temperature - mx)
	}
	lse := mx + math.Log(sum)
	for j, v := range x {
		out[j] = float64(v)/temperature - lse
	}
}
