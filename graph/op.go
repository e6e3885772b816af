package graph

import (
	"fmt"

	"github.com/shearsml/shears/tensor"
)

// ShapeErr formats an error whose []int arguments are shapes, printed as
// 2×3×4 for both %s and %v. (The arguments are copied into a new slice so
// that vet does not treat this as a printf wrapper and reject %s for a
// shape.)
func ShapeErr(format string, args ...any) error {
	conv := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.([]int); ok {
			conv[i] = tensor.ShapeString(s)
		} else {
			conv[i] = a
		}
	}
	return fmt.Errorf(format, conv...)
}

// WantInputs checks the number of (non-empty) inputs an op receives.
func WantInputs(in [][]int, min, max int) error {
	if len(in) < min || len(in) > max {
		if min == max {
			return fmt.Errorf("want %d inputs, have %d", min, len(in))
		}
		return fmt.Errorf("want %d to %d inputs, have %d", min, max, len(in))
	}
	return nil
}
