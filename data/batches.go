package data

import "github.com/shearsml/shears/tensor"

// Batches calls f with consecutive batches of at most size images
// (B×C×H×W, normalised) and their labels, in order, without shuffling or
// augmentation, and stops at f's first error. It is what a pruning
// criterion reads calibration images with (prune.Calibration), so that the
// pruning core needs no data-set package. x and labels are overwritten by
// the next batch.
func (d *Dataset) Batches(size int, f func(x *tensor.Tensor, labels []int) error) error {
	loader, err := NewLoader(d, size, false, Augment{}, 0)
	if err != nil {
		return err
	}
	for b := range loader.Epoch(0) {
		if err := f(b.X, b.Labels); err != nil {
			return err
		}
	}
	return nil
}
