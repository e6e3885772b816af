package cpu

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
)

// naiveEinsum evaluates an explicit equation of single-letter terms (no
// ellipsis) by looping over every letter's values.
func naiveEinsum(eq string, ops ...*tensor.Tensor) ([]float32, []int) {
	lhs, out, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	size := map[byte]int{}
	var letters []byte
	for i, t := range terms {
		for a := range len(t) {
			if _, ok := size[t[a]]; !ok {
				letters = append(letters, t[a])
			}
			size[t[a]] = max(size[t[a]], ops[i].Shape[a])
		}
	}
	shape := make([]int, len(out))
	for a := range len(out) {
		shape[a] = size[out[a]]
	}
	y := make([]float64, graph.ShapeProd(shape))
	val := map[byte]int{}
	var rec func(l int)
	offset := func(t string, s []int) int {
		off := 0
		for a := range len(t) {
			v := val[t[a]]
			if s[a] == 1 {
				v = 0 // broadcast
			}
			off = off*s[a] + v
		}
		return off
	}
	rec = func(l int) {
		if l == len(letters) {
			p := 1.0
			for i, t := range terms {
				p *= float64(ops[i].Data[offset(t, ops[i].Shape)])
			}
			y[offset(out, shape)] += p
			return
		}
		for v := range size[letters[l]] {
			val[letters[l]] = v
			rec(l + 1)
		}
	}
	rec(0)
	res := make([]float32, len(y))
	for i, v := range y {
		res[i] = float32(v)
	}
	return res, shape
}

func TestEinsumPatterns(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	u := func(s ...int) *tensor.Tensor { return testutil.UniformTensor(r, s...) }
	for _, c := range []struct {
		eq      string
		naiveEq string // the same equation without ellipsis or implicit output
		ops     []*tensor.Tensor
	}{
		{"bij,bjk->bik", "", []*tensor.Tensor{u(2, 3, 4), u(2, 4, 5)}},
		{"bhid,bhjd->bhij", "", []*tensor.Tensor{u(1, 2, 3, 4), u(1, 2, 5, 4)}},
		{"bhij,bhjd->bhid", "", []*tensor.Tensor{u(2, 2, 3, 5), u(2, 2, 5, 4)}},
		{"...ij,...jk->...ik", "abij,abjk->abik", []*tensor.Tensor{u(2, 3, 2, 4), u(2, 3, 4, 3)}},
		{"...ij,...jk->...ik", "abij,bjk->abik", []*tensor.Tensor{u(2, 3, 2, 4), u(3, 4, 3)}},
		{"...ij,...jk->...ik", "abij,bjk->abik", []*tensor.Tensor{u(2, 3, 2, 4), u(1, 4, 3)}},
		{"ij->ji", "", []*tensor.Tensor{u(3, 4)}},
		{"bsd,df->bsf", "", []*tensor.Tensor{u(2, 3, 4), u(4, 5)}},
		{"bsd,fd->bsf", "", []*tensor.Tensor{u(2, 3, 4), u(5, 4)}},
		{"ij,jk", "ij,jk->ik", []*tensor.Tensor{u(3, 4), u(4, 2)}},
		{"ba", "ba->ab", []*tensor.Tensor{u(3, 4)}},
		{"i,i", "i,i->", []*tensor.Tensor{u(5), u(5)}},
		{"ij->i", "", []*tensor.Tensor{u(3, 4)}},
		{"ii->i", "", []*tensor.Tensor{u(4, 4)}},
		{"bii->bi", "", []*tensor.Tensor{u(2, 3, 3)}},
		{"i,j->ij", "", []*tensor.Tensor{u(3), u(4)}},
		{"bij,bkj->bik", "", []*tensor.Tensor{u(2, 3, 4), u(1, 5, 4)}},
		{"ijk,k->ij", "", []*tensor.Tensor{u(2, 3, 4), u(4)}},
		{"ij,kl->ijkl", "", []*tensor.Tensor{u(2, 3), u(2, 2)}},
		{"ab , bc -> ac", "ab,bc->ac", []*tensor.Tensor{u(2, 3), u(3, 2)}},
		{"ij,ij->", "", []*tensor.Tensor{u(3, 2), u(3, 2)}},
		{"ijk,ikl->jl", "", []*tensor.Tensor{u(2, 3, 4), u(2, 4, 2)}},
	} {
		neq := c.naiveEq
		if neq == "" {
			neq = c.eq
		}
		want, shape := naiveEinsum(neq, c.ops...)
		ins := make([]gcIn, len(c.ops))
		for i, o := range c.ops {
			ins[i] = in(o)
		}
		for _, threads := range []int{1, 2} {
			got := opsRun(t, "Einsum", graph.Attrs{"equation": c.eq}, ins, 1, threads, false)[0]
			opsExpect(t, "Einsum "+c.eq, got, shape, want, 1e-5)
		}
	}
}

func TestEinsumGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	u := func(s ...int) *tensor.Tensor { return testutil.UniformTensor(r, s...) }
	checkGrad(t, "Einsum", graph.Attrs{"equation": "bhid,bhjd->bhij"}, []gcIn{in(u(1, 2, 3, 4)), in(u(1, 2, 5, 4))}, 1, false)
	checkGrad(t, "Einsum", graph.Attrs{"equation": "bsd,df->bsf"}, []gcIn{in(u(2, 3, 4)), param(u(4, 5))}, 1, false)
	checkGrad(t, "Einsum", graph.Attrs{"equation": "...ij,...jk->...ik"}, []gcIn{in(u(2, 3, 2, 4)), in(u(1, 4, 3))}, 1, false)
	checkGrad(t, "Einsum", graph.Attrs{"equation": "bii->bi"}, []gcIn{in(u(2, 3, 3))}, 1, false)
	checkGrad(t, "Einsum", graph.Attrs{"equation": "ijk,k->ij"}, []gcIn{in(u(2, 3, 4)), in(u(4))}, 1, false)
	checkGrad(t, "Einsum", graph.Attrs{"equation": "ij->ji"}, []gcIn{in(u(3, 4))}, 1, false)
}

func TestEinsumBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	u := func(s ...int) gcIn { return in(testutil.UniformTensor(r, s...)) }
	for _, c := range []struct {
		eq, want string
		ins      []gcIn
	}{
		{"ij,jk,kl->il", "3 operands", []gcIn{u(2, 2), u(2, 2)}},
		{"ij,jk->ik", "sizes 3 and 4", []gcIn{u(2, 3), u(4, 2)}},
		{"ij->ik", "output letter k is in no input", []gcIn{u(2, 3)}},
		{"ij->ii", "appears twice", []gcIn{u(2, 2)}},
		{"ijk->ij", "rank 2", []gcIn{u(2, 3)}},
		{"i1->i", "neither a letter", []gcIn{u(2, 3)}},
		{"ij->j->i", "two arrows", []gcIn{u(2, 3)}},
		{"ij->...i", "ellipsis that no input has", []gcIn{u(2, 3)}},
		{"ii->i", "diagonal needs equal sizes", []gcIn{u(2, 3)}},
		{"", "equation is required", []gcIn{u(2, 3)}},
	} {
		_, _, err := opsCompile("Einsum", graph.Attrs{"equation": c.eq}, c.ins, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Einsum %q: error %v, want one saying %q", c.eq, err, c.want)
		}
	}
}
