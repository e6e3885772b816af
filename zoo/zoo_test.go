package zoo

import (
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// TestCountsMatchZOO checks every model against docs/ZOO.md's parameter and MAC
// counts, which is what makes results comparable with other toolkits.
func TestCountsMatchZOO(t *testing.T) {
	for _, name := range Names() {
		m, _ := Get(name)
		g := m.Build(1)
		_, total, err := graph.Stats(g)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if total.Params != m.Params || total.MACs != m.MACs {
			t.Errorf("%s: params %d MACs %d, ZOO.md says %d and %d", name, total.Params, total.MACs, m.Params, m.MACs)
		}
		p, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		y, err := p.Forward(false, tensor.New(2, 1, 28, 28))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !tensor.SameShape(y[0].Shape, []int{2, 10}) {
			t.Errorf("%s: output %v", name, y[0].Shape)
		}
	}
}

func TestUnknownModel(t *testing.T) {
	if _, err := Get("resnet21"); err == nil {
		t.Fatal("unknown model accepted")
	}
}
