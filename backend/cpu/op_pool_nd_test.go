package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// TestPoolND checks the N-D pooling path against the 2-D one (2-D pools
// forced through it by asking for MaxPool's Indices, or by a 3-D pool over
// a depth of 1), its indices against the values they point at, and its
// gradients.
func TestPoolND(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Distinct values 0.05 apart so that ±eps never changes a window's max.
	x := tensor.New(2, 3, 7, 6)
	for i, v := range r.Perm(x.Len()) {
		x.Data[i] = float32(v)*0.05 - 6
	}
	x3 := &tensor.Tensor{Shape: []int{2, 3, 1, 7, 6}, Data: x.Data}
	for _, a := range []graph.Attrs{
		{"kernel_shape": []int{2, 2}},
		{"kernel_shape": []int{3, 2}, "strides": []int{2, 1}, "pads": []int{1, 0, 1, 1}},
		{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "ceil_mode": 1},
		{"kernel_shape": []int{2, 3}, "dilations": []int{2, 1}, "pads": []int{1, 1, 0, 1}, "count_include_pad": 1},
		{"kernel_shape": []int{3, 3}, "auto_pad": "SAME_UPPER", "strides": []int{2, 2}},
		{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}, "ceil_mode": 1, "count_include_pad": 1},
	} {
		for _, op := range []string{"MaxPool", "AveragePool"} {
			want := opsRun(t, op, a, []gcIn{in(x)}, 1, 1, false)[0]
			// 3-D with a depth-1 kernel.
			a3 := graph.Attrs{}
			for k, v := range a {
				if s, ok := v.([]int); ok {
					extra := []int{1}
					if k == "pads" {
						a3[k] = []int{0, s[0], s[1], 0, s[2], s[3]}
						continue
					}
					a3[k] = append(extra, s...)
					continue
				}
				a3[k] = v
			}
			if _, ok := a3["strides"]; !ok {
				a3["strides"] = []int{1, 1, 1}
			}
			got := opsRun(t, op, a3, []gcIn{in(x3)}, 1, 2, false)[0]
			opsExpect(t, op+" 3-D", &tensor.Tensor{Shape: want.Shape, Data: got.Data}, want.Shape, want.Data, 1e-6)
			if op == "MaxPool" {
				outs := opsRun(t, op, a, []gcIn{in(x)}, 2, 2, false)
				opsExpect(t, "MaxPool with Indices", outs[0], want.Shape, want.Data, 0)
				for i, idx := range outs[1].Data {
					if x.Data[int(idx)] != outs[0].Data[i] {
						t.Fatalf("%v: index %v of output %d points at %v, not the max %v", a, idx, i, x.Data[int(idx)], outs[0].Data[i])
					}
				}
			}
			checkGrad(t, op, a3, []gcIn{in(x3)}, 1, false)
		}
	}
	// storage_order=1: column-major indices within each plane.
	x = opsIota(1, 2, 3, 3)
	outs := opsRun(t, "MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "storage_order": 1}, []gcIn{in(x)}, 2, 1, false)
	opsExpect(t, "MaxPool column-major", outs[1], []int{1, 2, 2, 2}, opsF(4, 7, 5, 8, 13, 16, 14, 17), 0)
}

// TestBatchNormTrainingMode checks training_mode=1 in an inference
// forward: batch statistics, ONNX's running-statistics outputs (biased
// variance), params untouched.
func TestBatchNormTrainingMode(t *testing.T) {
	x := opsT([]int{2, 1, 2}, 1, 2, 3, 6) // mean 3, biased variance 3.5
	mean, vr := opsT([]int{1}, 1), opsT([]int{1}, 2)
	ins := []gcIn{in(x), param(opsT([]int{1}, 2)), param(opsT([]int{1}, 1)), konst(mean), konst(vr)}
	outs := opsRun(t, "BatchNormalization", graph.Attrs{"training_mode": 1, "epsilon": float32(0), "momentum": float32(0.9)}, ins, 3, 1, false)
	s := float32(2 / 1.8708287) // 2/√3.5
	opsExpect(t, "y", outs[0], []int{2, 1, 2}, opsF(1-2*s, 1-s, 1, 1+3*s), 1e-6)
	opsExpect(t, "running mean", outs[1], []int{1}, opsF(0.9*1+0.1*3), 1e-6)
	opsExpect(t, "running var", outs[2], []int{1}, opsF(0.9*2+0.1*3.5), 1e-6)
	if mean.Data[0] != 1 || vr.Data[0] != 2 {
		t.Errorf("inference forward changed the statistics: %v %v", mean.Data, vr.Data)
	}
}
