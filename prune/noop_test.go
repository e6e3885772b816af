package prune

import (
	"slices"
	"testing"

	"github.com/shearsml/shears/zoo"
)

// A structured step that removes no channel (ratio 0, every layer ratio 0,
// a rounding larger than the layers) is a no-op: no masks, the weights as
// they were. It used to dereference a nil analysis in MaskGroups.
func TestStructuredStepRemovingNothing(t *testing.T) {
	for _, alloc := range []Allocation{{}, {Ratio: 0.5, RoundTo: 1000000}, {Ratio: 0.5, LayerRatios: []LayerRatio{mustLayerRatio(t, ".*=0")}}} {
		g := zoo.LeNet5(1)
		before := slices.Clone(g.Param("conv2.weight").Value.Data)
		d, err := Analyze(g)
		if err != nil {
			t.Fatal(err)
		}
		gran, _ := ParseGranularity("filter")
		layers, _, err := Layers(g, d, gran)
		if err != nil {
			t.Fatal(err)
		}
		p := &Pruner{Graph: g, Layers: layers, Criterion: Magnitude{1}, Alloc: alloc, Ctx: &Context{Graph: g, Dep: d, Filters: true}}
		if err := p.Step(alloc.Ratio); err != nil {
			t.Fatalf("%+v: %v", alloc, err)
		}
		if len(p.Masks) != 0 || p.Plan.Ratio() != 0 {
			t.Errorf("%+v: %d masks, ratio %g, want none", alloc, len(p.Masks), p.Plan.Ratio())
		}
		if !slices.Equal(before, g.Param("conv2.weight").Value.Data) {
			t.Errorf("%+v: conv2's weights changed", alloc)
		}
	}
	if m, err := MaskGroups(zoo.LeNet5(1), nil); err != nil || len(m) != 0 {
		t.Errorf("MaskGroups of no groups: %v, %v", m, err)
	}
}

func mustLayerRatio(t *testing.T, s string) LayerRatio {
	t.Helper()
	lr, err := ParseLayerRatio(s)
	if err != nil {
		t.Fatal(err)
	}
	return lr
}
