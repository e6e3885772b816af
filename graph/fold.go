package graph

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/shearsml/shears/tensor"
)

// FoldBatchNorm returns a copy of g in which every BatchNormalization that
// directly follows a Conv or Gemm is folded into it, for inference: with
// s = scale/√(var+ε), the weights of output channel c are multiplied by
// s[c] and the bias becomes (bias − mean)·s + shift (a bias is added when
// the Conv or Gemm had none). The folded graph computes what g computes in
// inference mode, up to rounding.
//
// A BatchNormalization is left alone when its input is read by another
// node or is a graph output, when the weights or bias are not params or
// are shared with another node, when it runs with training_mode=1 or its
// running-statistics outputs are used, or (Gemm) when the Gemm's output
// features are not BatchNorm's channels or its C does not broadcast as a
// per-feature vector. It returns the number of folded nodes; the error is
// for a graph that does not validate.
func FoldBatchNorm(g *Graph) (*Graph, int, error) {
	if err := g.Validate(); err != nil {
		return nil, 0, err
	}
	g = g.Clone()
	params := g.ParamMap()
	producers := g.Producers()
	readers := g.Consumers()
	isOutput := map[string]bool{}
	for _, o := range g.Outputs {
		isOutput[o.Name] = true
	}
	taken := map[string]bool{}
	for _, p := range g.Params {
		taken[p.Name] = true
	}
	dropNode := map[*Node]bool{}
	folded := 0
	for _, bn := range g.Nodes {
		if bn.Op != "BatchNormalization" || len(bn.Inputs) != 5 || len(bn.Outputs) == 0 {
			continue
		}
		if tm, _ := bn.Attrs.Int("training_mode", 0); tm != 0 {
			continue
		}
		if slices.ContainsFunc(bn.Outputs[1:], func(s string) bool { return s != "" && (len(readers[s]) > 0 || isOutput[s]) }) {
			continue
		}
		x := bn.Inputs[0]
		prev := producers[x]
		if prev == nil || (prev.Op != "Conv" && prev.Op != "Gemm") || len(readers[x]) != 1 || isOutput[x] || dropNode[prev] {
			continue
		}
		var st [4]*Param
		ok := true
		for i := range st {
			st[i] = params[bn.Inputs[i+1]]
			ok = ok && st[i] != nil && st[i].Value.Rank() == 1
		}
		if !ok {
			continue
		}
		eps, err := bn.Attrs.Float("epsilon", 1e-5)
		if err != nil {
			continue
		}
		scale, shift, ok := BnScaleShift(st[0].Value.Data, st[1].Value.Data, st[2].Value.Data, st[3].Value.Data, eps)
		if !ok {
			continue
		}
		var done bool
		if prev.Op == "Conv" {
			done = foldIntoConv(g, prev, scale, shift, params, readers, taken)
		} else {
			done = foldIntoGemm(g, prev, scale, shift, params, readers, taken)
		}
		if !done {
			continue
		}
		prev.Outputs[0] = bn.Outputs[0]
		dropNode[bn] = true
		folded++
	}
	if folded == 0 {
		return g, 0, nil
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *Node) bool { return dropNode[n] })
	used := g.Consumers()
	for _, o := range g.Outputs {
		used[o.Name] = append(used[o.Name], nil)
	}
	// Drop the BatchNorm params nothing reads any more.
	for n := range dropNode {
		for _, in := range n.Inputs[1:] {
			if len(used[in]) == 0 {
				g.Params = slices.DeleteFunc(g.Params, func(p *Param) bool { return p.Name == in })
			}
		}
	}
	LabelAxes(g)
	return g, folded, nil
}

// BnScaleShift returns inference BatchNorm as a per-channel affine map,
// y = scale·x + shift with scale = γ/√(var+ε) and shift = β − mean·scale,
// computed in float64; ok is false when the four vectors differ in length.
func BnScaleShift(gamma, beta, mean, variance []float32, eps float32) (scale, shift []float64, ok bool) {
	c := len(gamma)
	if len(beta) != c || len(mean) != c || len(variance) != c {
		return nil, nil, false
	}
	scale, shift = make([]float64, c), make([]float64, c)
	for i := range c {
		scale[i] = float64(gamma[i]) / math.Sqrt(float64(variance[i])+float64(eps))
		shift[i] = float64(beta[i]) - float64(mean[i])*scale[i]
	}
	return scale, shift, true
}

// ownParam returns input i of n when it is a param that only n reads.
func ownParam(n *Node, i int, params map[string]*Param, readers map[string][]*Node) *Param {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	p := params[n.Inputs[i]]
	if p == nil || len(readers[p.Name]) != 1 {
		return nil
	}
	return p
}

// newBias adds a zero bias param of c elements named after the weights.
func newBias(g *Graph, weight string, c int, params map[string]*Param, taken map[string]bool) *Param {
	base := strings.TrimSuffix(weight, ".weight") + ".bias"
	if base == weight+".bias" {
		base = weight + "_bias"
	}
	name := base
	for k := 1; taken[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	taken[name] = true
	p := g.AddParam(name, tensor.New(c), true)
	params[name] = p
	return p
}

func foldIntoConv(g *Graph, conv *Node, scale, shift []float64, params map[string]*Param, readers map[string][]*Node, taken map[string]bool) bool {
	w := ownParam(conv, 1, params, readers)
	c := len(scale)
	if w == nil || w.Value.Rank() < 3 || w.Value.Shape[0] != c {
		return false
	}
	hasBias := len(conv.Inputs) > 2 && conv.Inputs[2] != ""
	var b *Param
	if hasBias {
		if b = ownParam(conv, 2, params, readers); b == nil || b.Value.Len() != c {
			return false
		}
	}
	inner := w.Value.Len() / c
	for o := range c {
		row := w.Value.Data[o*inner : (o+1)*inner]
		for i, v := range row {
			row[i] = float32(float64(v) * scale[o])
		}
	}
	if b == nil {
		b = newBias(g, w.Name, c, params, taken)
		for len(conv.Inputs) < 3 {
			conv.Inputs = append(conv.Inputs, "")
		}
		conv.Inputs[2] = b.Name
	}
	for o := range c {
		b.Value.Data[o] = float32(float64(b.Value.Data[o])*scale[o] + shift[o])
	}
	return true
}

func foldIntoGemm(g *Graph, gemm *Node, scale, shift []float64, params map[string]*Param, readers map[string][]*Node, taken map[string]bool) bool {
	w := ownParam(gemm, 1, params, readers)
	c := len(scale)
	if w == nil || w.Value.Rank() != 2 {
		return false
	}
	transB, err1 := gemm.Attrs.Int("transB", 0)
	beta, err2 := gemm.Attrs.Float("beta", 1)
	if err1 != nil || err2 != nil {
		return false
	}
	rows, cols := w.Value.Shape[0], w.Value.Shape[1]
	if (transB != 0 && rows != c) || (transB == 0 && cols != c) {
		return false
	}
	hasC := len(gemm.Inputs) > 2 && gemm.Inputs[2] != ""
	var b *Param
	if hasC {
		b = ownParam(gemm, 2, params, readers)
		if b == nil {
			return false
		}
		switch s := b.Value.Shape; {
		case len(s) == 1 && s[0] == c, len(s) == 2 && s[0] == 1 && s[1] == c:
		case b.Value.Len() == 1: // a scalar C: make it a vector
			v := b.Value.Data[0]
			b.Value = tensor.New(c)
			for i := range b.Value.Data {
				b.Value.Data[i] = v
			}
		default:
			return false
		}
	}
	for r := range rows {
		for k := range cols {
			o := k
			if transB != 0 {
				o = r
			}
			w.Value.Data[r*cols+k] = float32(float64(w.Value.Data[r*cols+k]) * scale[o])
		}
	}
	if b == nil {
		b = newBias(g, w.Name, c, params, taken)
		for len(gemm.Inputs) < 3 {
			gemm.Inputs = append(gemm.Inputs, "")
		}
		gemm.Inputs[2] = b.Name
		beta = 0
	}
	for o := range c {
		b.Value.Data[o] = float32(float64(beta)*float64(b.Value.Data[o])*scale[o] + shift[o])
	}
	if gemm.Attrs == nil {
		gemm.Attrs = Attrs{}
	}
	if _, ok := gemm.Attrs["beta"]; ok || beta != 1 {
		gemm.Attrs["beta"] = float32(1)
	}
	return true
}
