package prune

import (
	"fmt"
	"slices"
	"sort"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
)

// Masks maps param names to 0/1 masks of the same shape: 0 marks a pruned
// weight. A masked model keeps its shapes and holds zeros; params without
// a mask are dense.
type Masks map[string]*tensor.Tensor

// check reports a mask without a param or with another shape.
func (m Masks) check(g *graph.Graph) error {
	params := g.ParamMap()
	for _, name := range m.names() {
		p := params[name]
		if p == nil {
			return fmt.Errorf("prune: mask for %s, which the graph does not have", name)
		}
		if !slices.Equal(p.Value.Shape, m[name].Shape) {
			return fmt.Errorf("prune: mask for %s has shape %s, the param %s", name, tensor.ShapeString(m[name].Shape), tensor.ShapeString(p.Value.Shape))
		}
	}
	return nil
}

func (m Masks) names() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Apply zeros the masked weights of g.
func (m Masks) Apply(g *graph.Graph) error {
	if err := m.check(g); err != nil {
		return err
	}
	m.apply(g.ParamMap())
	return nil
}

func (m Masks) apply(params map[string]*graph.Param) {
	for name, mk := range m {
		zeroWhere(params[name].Value.Data, mk.Data)
	}
}

func zeroWhere(x, mask []float32) {
	x = x[:len(mask)]
	for i, v := range mask {
		if v == 0 {
			x[i] = 0
		}
	}
}

// MaskGrads zeros the gradients of masked weights after a Backward (at
// train.AfterBackward): masked gradients keep optimiser state
// (momentum, Adam moments) at zero for pruned weights, and keep
// gradient-based criteria and regularisers from seeing them.
func (m Masks) MaskGrads(prog *cpu.Program) {
	for name, mk := range m {
		if g := prog.Grad(name); g != nil && len(g.Data) == len(mk.Data) {
			zeroWhere(g.Data, mk.Data)
		}
	}
}

// Attach makes a trainer keep the masked weights at zero: it zeros them
// now, masks gradients before each step (a train.AfterBackward callback)
// and zeros the weights again after each step (train.AfterStep), since
// weight decay and momentum accumulated before the masks were made still
// move them. Callbacks already registered on t run first.
func (m Masks) Attach(t *train.Trainer) error {
	if err := m.Apply(t.Graph); err != nil {
		return err
	}
	params := t.Graph.ParamMap()
	t.On(train.AfterBackward, func(s *train.State) error {
		m.MaskGrads(s.Program)
		return nil
	})
	t.On(train.AfterStep, func(*train.State) error {
		m.apply(params)
		return nil
	})
	return nil
}

// Sparsity counts pruned weights of one param (or of the whole model).
type Sparsity struct {
	Param  string
	Size   int // elements
	Pruned int // elements masked to zero
}

// Ratio is the pruned fraction.
func (s Sparsity) Ratio() float64 {
	if s.Size == 0 {
		return 0
	}
	return float64(s.Pruned) / float64(s.Size)
}

func (s Sparsity) String() string {
	return fmt.Sprintf("%s: %d of %d pruned (%.1f%%)", s.Param, s.Pruned, s.Size, 100*s.Ratio())
}

// Sparsity reports, for every trainable param of g in graph order, how
// many of its elements the masks prune, and the total over all trainable
// params (unmasked ones count as dense, so the total is the model's
// sparsity, not the masked layers').
func (m Masks) Sparsity(g *graph.Graph) (per []Sparsity, total Sparsity) {
	total.Param = "total"
	for _, p := range g.Params {
		if !p.Trainable {
			continue
		}
		s := Sparsity{Param: p.Name, Size: p.Value.Len()}
		if mk := m[p.Name]; mk != nil {
			for _, v := range mk.Data {
				if v == 0 {
					s.Pruned++
				}
			}
		}
		per = append(per, s)
		total.Size += s.Size
		total.Pruned += s.Pruned
	}
	return per, total
}
