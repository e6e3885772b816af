package train_test

import (
	"errors"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/zoo"
)

// CheckImageModel accepts a model that fits the images and their classes
// and names what does not fit otherwise, as a typed error.
func TestCheckImageModel(t *testing.T) {
	images := func(classes int) *data.Dataset {
		ds, err := data.FromBytes("digits", data.Train, make([]byte, 2*28*28), []uint8{0, 1}, 2, 1, 28, 28, classes, 0.5, 0.25)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	if _, err := train.CheckImageModel(zoo.LeNet5(1), images(10)); err != nil {
		t.Fatalf("lenet5 on 10-class 28×28 images: %v", err)
	}
	rgb := zoo.LeNet5(1)
	rgb.Inputs[0].Shape = []int{-1, 3, 28, 28}
	twoIn := zoo.LeNet5(1)
	twoIn.Inputs = append(twoIn.Inputs, graph.ValueInfo{Name: "extra", Shape: []int{-1, 1}})
	for _, tc := range []struct {
		name  string
		g     *graph.Graph
		ds    *data.Dataset
		want  train.Mismatch
		value string
	}{
		{"three channels", rgb, images(10), train.MismatchInput, rgb.Inputs[0].Name},
		{"five classes", zoo.LeNet5(1), images(5), train.MismatchOutput, zoo.LeNet5(1).Outputs[0].Name},
		{"two inputs", twoIn, images(10), train.MismatchArity, ""},
	} {
		_, err := train.CheckImageModel(tc.g, tc.ds)
		var me *train.ModelDataError
		if !errors.As(err, &me) || me.Kind != tc.want || me.Value != tc.value {
			t.Errorf("%s: got %v (%+v), want mismatch %d of %q", tc.name, err, me, tc.want, tc.value)
		}
	}
}
