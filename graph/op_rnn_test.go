package graph

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRNNInit(t *testing.T) {
	g := singleNodeGraph("LSTM", Attrs{"hidden_size": 4}, []gcIn{in(opsT([]int{2, 1, 3})), param(opsT([]int{1, 16, 3})), param(opsT([]int{1, 16, 4}))}, 1)
	s, _ := Spec("LSTM")
	s.Init(g.Nodes[0], Operands(g, g.Nodes[0], g.ParamMap()), rand.New(rand.NewPCG(1, 2)))
	for _, name := range []string{"x1", "x2"} {
		nonzero := 0
		for _, v := range g.Param(name).Value.Data {
			if math.Abs(float64(v)) > 0.5 {
				t.Fatalf("%s: %v outside ±1/√4", name, v)
			}
			if v != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("%s: not initialised", name)
		}
	}
}
