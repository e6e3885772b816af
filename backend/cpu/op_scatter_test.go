package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/graph"
)

func TestScatterND(t *testing.T) {
	data := opsT([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	for _, c := range []struct {
		red     string
		idx     []float32
		ishape  []int
		upd     []float32
		ushape  []int
		want    []float32
		wantErr bool
	}{
		{"none", []float32{1, 0}, []int{1, 2}, []float32{9}, []int{1}, []float32{1, 2, 3, 9, 5, 6}, false},
		{"none", []float32{-1}, []int{1, 1}, []float32{7, 8, 9}, []int{1, 3}, []float32{1, 2, 3, 7, 8, 9}, false},
		{"add", []float32{0, 0}, []int{2, 1}, []float32{1, 1, 1, 2, 2, 2}, []int{2, 3}, []float32{4, 5, 6, 4, 5, 6}, false},
		{"mul", []float32{0, 2, 1, 1}, []int{2, 2}, []float32{10, 10}, []int{2}, []float32{1, 2, 30, 4, 50, 6}, false},
		{"max", []float32{0, 0}, []int{1, 2}, []float32{5}, []int{1}, []float32{5, 2, 3, 4, 5, 6}, false},
		{"none", []float32{2}, []int{1, 1}, []float32{0, 0, 0}, []int{1, 3}, nil, true},
	} {
		ins := []gcIn{in(data), konst(opsT(c.ishape, c.idx...)), in(opsT(c.ushape, c.upd...))}
		if c.wantErr {
			p, xs, err := opsCompile("ScatterND", graph.Attrs{"reduction": c.red}, ins, 1)
			if err == nil {
				_, err = p.Forward(false, xs...)
			}
			if err == nil {
				t.Errorf("%s %v: no error", c.red, c.idx)
			}
			continue
		}
		got := opsRun(t, "ScatterND", graph.Attrs{"reduction": c.red}, ins, 1, 1, false)[0]
		opsExpect(t, "ScatterND "+c.red, got, []int{2, 3}, c.want, 0)
	}
	if _, _, err := opsCompile("ScatterND", nil, []gcIn{in(data), konst(opsT([]int{1, 2}, 0, 0)), in(opsT([]int{2}))}, 1); err == nil {
		t.Error("updates of the wrong shape: no error")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, red := range []string{"none", "add"} {
		checkGrad(t, "ScatterND", graph.Attrs{"reduction": red}, []gcIn{in(randT(r, 3, 4)), konst(opsT([]int{2, 1}, 2, 0)), param(randT(r, 2, 4))}, 1, false)
	}
}
