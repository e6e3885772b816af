// Package train trains and evaluates graph IR models: softmax
// cross-entropy, SGD (momentum, Nesterov, weight decay), Adam and AdamW,
// step / cosine / warm-up learning-rate schedules, the epoch loop with
// progress reporting, NaN detection, top-1 evaluation, and checkpoints that
// resume a run exactly (weights, optimiser state, epoch, data order).
//
// Runs are reproducible: the same seed and thread count give bit-identical
// weights, because every parallel reduction in the engine sums per-worker
// partials in a fixed order and all randomness derives from the seed.
package train
