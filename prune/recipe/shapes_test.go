package recipe

import (
	"slices"
	"strings"
	"testing"
)

func TestInputShapes(t *testing.T) {
	r, err := Parse([]byte("model: crnn.onnx\ninput_shapes: {x: [N, 3, 48, 320], mask: 1x1x48x320}\noutput: {out: o.onnx}\n"), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.InputShapes["x"], []int{-1, 3, 48, 320}) || !slices.Equal(r.InputShapes["mask"], []int{1, 1, 48, 320}) {
		t.Fatalf("input shapes %v", r.InputShapes)
	}
	if s := r.InputShapes.String(); s != "mask=1x1x48x320,x=Nx3x48x320" {
		t.Errorf("String() = %q", s)
	}
	// A recipe without the field has none.
	if r, err = Parse([]byte("model: lenet5\noutput: {out: o.onnx}\n"), "r.yaml"); err != nil || r.InputShapes != nil {
		t.Fatalf("no input_shapes: %v, %v", err, r.InputShapes)
	}
	for _, c := range []struct{ yaml, want string }{
		{"input_shapes: [1, 3]\n", "want a mapping"},
		{"input_shapes: {x: [1, 0, 4]}\n", "dimension 1 is 0"},
		{"input_shapes: {x: [1, -2, 4]}\n", "dimension 1 is -2"},
		{"input_shapes: {x: [1, N, 4]}\n", "dimension 1 is N"},
		{"input_shapes: {x: [1, [2], 4]}\n", "dimension 1"},
		{"input_shapes: {x: {a: 1}}\n", "want a list"},
		{"input_shapes: {x: 1xx4}\n", "dimension 1 is empty"},
	} {
		_, err := Parse([]byte("model: m.onnx\n"+c.yaml+"output: {out: o.onnx}\n"), "r.yaml")
		if err == nil {
			t.Errorf("%q: no error", c.yaml)
			continue
		}
		for _, w := range []string{"recipe r.yaml", "line 2", "input_shapes", c.want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", c.yaml, err, w)
			}
		}
	}
}
