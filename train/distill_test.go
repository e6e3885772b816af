package train

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// TestDistillGradient checks Distill's gradient against central finite
// differences of its loss, for several weights and temperatures.
func TestDistillGradient(t *testing.T) {
	const n, c = 3, 5
	r := testutil.NewRand(7, 1)
	s := scaled(testutil.NormalTensor(r, n, c), 2)
	teacher := scaled(testutil.NormalTensor(r, n, c), 3)
	labels := []int{0, 3, 4}
	b := Batch{Labels: labels}
	for _, tc := range []struct{ alpha, temp float64 }{{0.9, 4}, {0.5, 1}, {1, 2}, {0, 3}} {
		d := &Distill{Teacher: func(Batch) (*tensor.Tensor, error) { return teacher, nil }, Alpha: tc.alpha, T: tc.temp}
		loss := func() float64 {
			lv, err := d.Loss([]*tensor.Tensor{s}, b, []*tensor.Tensor{tensor.New(n, c)})
			if err != nil {
				t.Fatal(err)
			}
			return lv.Loss
		}
		grad := tensor.New(n, c)
		if _, err := d.Loss([]*tensor.Tensor{s}, b, []*tensor.Tensor{grad}); err != nil {
			t.Fatal(err)
		}
		const h = 1e-2
		for i := range s.Data {
			x := s.Data[i]
			s.Data[i] = x + h
			up := loss()
			s.Data[i] = x - h
			down := loss()
			s.Data[i] = x
			num := (up - down) / (2 * h)
			if math.Abs(num-float64(grad.Data[i])) > 2e-3*(1+math.Abs(num)) {
				t.Errorf("α=%g T=%g: d loss/d s[%d] = %g, finite differences %g", tc.alpha, tc.temp, i, grad.Data[i], num)
			}
		}
	}
}

// TestDistillMatchingTeacher: a student equal to the teacher has no soft
// loss, so with α = 1 the loss and the gradient are zero, and with α = 0
// Distill is the cross-entropy.
func TestDistillMatchingTeacher(t *testing.T) {
	r := testutil.NewRand(8, 1)
	s := testutil.NormalTensor(r, 4, 3)
	labels := []int{0, 1, 2, 1}
	same := func(Batch) (*tensor.Tensor, error) { return s, nil }
	g := tensor.New(4, 3)
	lv, err := (&Distill{Teacher: same, Alpha: 1, T: 3}).Loss([]*tensor.Tensor{s}, Batch{Labels: labels}, []*tensor.Tensor{g})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lv.Loss) > 1e-6 {
		t.Errorf("loss against itself = %g, want 0", lv.Loss)
	}
	for i, v := range g.Data {
		if math.Abs(float64(v)) > 1e-6 {
			t.Fatalf("gradient[%d] = %g against itself, want 0", i, v)
		}
	}
	ce, _, _ := SoftmaxCrossEntropy(s, labels, nil)
	lv, err = (&Distill{Teacher: same, Alpha: 0, T: 3}).Loss([]*tensor.Tensor{s}, Batch{Labels: labels}, []*tensor.Tensor{g})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lv.Loss-ce) > 1e-9 {
		t.Errorf("α = 0: loss %g, cross-entropy %g", lv.Loss, ce)
	}
}

func TestDistillBadInput(t *testing.T) {
	s := tensor.New(2, 3)
	for _, tc := range []struct {
		d    Distill
		want string
	}{
		{Distill{Alpha: 1.5, T: 2}, "alpha must be in [0, 1]"},
		{Distill{Alpha: math.NaN(), T: 2}, "alpha"},
		{Distill{Alpha: 0.5, T: 0}, "temperature"},
		{Distill{Alpha: 0.5, T: 2, Teacher: func(Batch) (*tensor.Tensor, error) { return tensor.New(2, 4), nil }}, "teacher logits are 2×4"},
	} {
		_, err := tc.d.Loss([]*tensor.Tensor{s}, Batch{Labels: []int{0, 1}}, []*tensor.Tensor{tensor.New(2, 3)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.d, err, tc.want)
		}
	}
	if _, err := NewDistill(nil, 0.5, 2, 1); err == nil {
		t.Error("NewDistill without a teacher: no error")
	}
}

// TestDistillTrains: a student distilled from a trained teacher learns
// the task, and its soft loss falls.
func TestDistillTrains(t *testing.T) {
	sign := func(x []float32) uint8 {
		if x[0]+x[1] > 0 {
			return 1
		}
		return 0
	}
	ds := vectors(512, 4, 3, sign)
	cfg, err := Recipe("finetune")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Epochs, cfg.Batch, cfg.LR, cfg.Threads = 5, 32, 0.1, 1
	teacher := flatGraph(4)
	teacher.Outputs = []graph.ValueInfo{{Name: linear(teacher, "fc", "flat", 4, 2, testutil.NewRand(1, 1))}}
	tr := &Trainer{Graph: teacher, Config: cfg, Train: ds, Test: ds}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy < 0.9 {
		t.Fatalf("teacher reaches %.2f", res.TestAccuracy)
	}
	student := flatGraph(4)
	student.Outputs = []graph.ValueInfo{{Name: linear(student, "fc", "flat", 4, 2, testutil.NewRand(2, 1))}}
	d, err := NewDistill(teacher, 1, 2, 1) // soft targets only: the labels do not train it
	if err != nil {
		t.Fatal(err)
	}
	st := &Trainer{Graph: student, Config: cfg, Train: ds, Test: ds, Loss: d}
	var first, last float64
	st.On(EndOfEpoch, func(s *State) error {
		if s.Epoch == 0 {
			first = s.EpochLoss
		}
		last = s.EpochLoss
		return nil
	})
	res, err = st.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy < 0.9 || !(last < first/2) {
		t.Errorf("distilled student: accuracy %.2f, soft loss %g → %g", res.TestAccuracy, first, last)
	}
}

// scaled multiplies x by k in place (logits of a sharper softmax).
func scaled(x *tensor.Tensor, k float32) *tensor.Tensor {
	for i := range x.Data {
		x.Data[i] *= k
	}
	return x
}
