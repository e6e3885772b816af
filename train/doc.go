// Package train trains and evaluates graph IR models: a pluggable loss
// (softmax cross-entropy by default), SGD (momentum, Nesterov, weight
// decay), Adam and AdamW, step / cosine / warm-up learning-rate schedules,
// the epoch loop with progress reporting, callbacks at named phases, NaN
// detection, top-1 evaluation, and checkpoints that resume a run exactly
// (weights, optimiser state, epoch, data order).
//
// # The loss
//
// Trainer.Loss turns the model's outputs on a batch into the loss and its
// gradient with respect to each output (see Loss). Nil means
// CrossEntropy: softmax cross-entropy of the one output against the
// labels, which also counts top-1 hits for the training accuracy. A loss
// sees the whole Batch, so it can compute its own targets from the images
// (a regression), run a teacher on them (distillation), or combine
// several outputs; an output it does not use gets no gradient. A model
// with more than one input trains when its loss is also an InputFeeder,
// which supplies the other inputs of every batch. Evaluate and Run's test
// evaluation report top-1 accuracy of output 0.
//
// # Callbacks
//
// Trainer.On registers a function to run at a Phase of the loop; the
// callbacks of a phase run in registration order, and an error from one
// stops training with that error, wrapped with the phase and position.
// What a callback may touch depends on the phase:
//
//   - StartOfEpoch, before an epoch's first batch: the weights.
//   - BeforeStep, before each forward pass: the weights and the batch.
//   - AfterBackward, before the optimiser step: parameter gradients
//     (State.Program.Grad), and State.Loss to count a penalty's value.
//     Pruning masks zero gradients here; regularisers add theirs.
//   - AfterStep, after each optimiser step: the weights (masks zero
//     pruned weights again; AGP prunes further).
//   - EndOfEpoch, before the epoch's checkpoint: everything (SFP zeroes
//     filters, DNS updates masks).
//
// A penalty on parameters, such as an L1 term on learned gates, is a loss
// term whose gradient reaches the params directly: add its gradient and
// its value after backward.
//
//	lambda := float32(1e-4)
//	t.On(train.AfterBackward, func(s *train.State) error {
//		w := s.Graph.Param("gate").Value.Data
//		g := s.Program.Grad("gate").Data
//		for i, v := range w {
//			s.Loss.Loss += float64(lambda) * math.Abs(float64(v))
//			if v > 0 {
//				g[i] += lambda
//			} else if v < 0 {
//				g[i] -= lambda
//			}
//		}
//		return nil
//	})
//
// Callbacks are not part of a checkpoint: register them again on the
// trainer that resumes, and a resumed run gives the weights of an
// uninterrupted one.
//
// Runs are reproducible: the same seed and thread count give bit-identical
// weights, because every parallel reduction in the engine sums per-worker
// partials in a fixed order and all randomness derives from the seed.
package train
