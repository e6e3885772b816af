package graph

// Einsum with one or two operands, lowered to strided gathers and a
// batched GEMM. The equation is parsed generally: letters a–z and A–Z, an
// ellipsis standing for the same leading axes in every term (broadcast
// numpy-style, right-aligned), repeated letters in a term (its diagonal),
// and an implicit output (the ellipsis axes, then the letters that occur
// once, in alphabetical order) when there is no "->". Every letter is a
// batch axis (in both operands and the output), a row axis (the first
// operand and the output), a column axis (the second operand and the
// output) or a summed axis (not in the output); a summed axis only one
// operand has is summed over with the other's stride 0. Three or more
// operands are refused with an error naming the equation.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shearsml/shears/tensor"
)

func init() {
	RegisterOp(OpSpec{Type: "Einsum", Infer: inferEinsum,
		Weight: einsumWeight, Params: einsumParams, MACs: einsumMACs, Init: linearInit(einsumWeight, false)})
}

// ellipsisID is the letter id of the first ellipsis axis; ids below it
// are the 52 letters.
const ellipsisID = 52

// einsumTerm is one parsed term: its letters (ids) in order, with the
// position of "..." (−1 when there is none).
type einsumTerm struct {
	letters  []int
	ellipsis int
}

// EinsumEq is a parsed equation.
type EinsumEq struct {
	eq    string
	in    []einsumTerm
	out   einsumTerm
	arrow bool
}

func letterID(c byte) (int, bool) {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	case c >= 'A' && c <= 'Z':
		return 26 + int(c-'A'), true
	}
	return 0, false
}

func letterName(id int) string {
	switch {
	case id < 26:
		return string(rune('a' + id))
	case id < ellipsisID:
		return string(rune('A' + id - 26))
	}
	return fmt.Sprintf("...[%d]", id-ellipsisID)
}

func parseEinsumTerm(eq, s string) (einsumTerm, error) {
	t := einsumTerm{ellipsis: -1}
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "...") {
			if t.ellipsis >= 0 {
				return t, fmt.Errorf("equation %q: term %q has two ellipses", eq, s)
			}
			t.ellipsis = len(t.letters)
			i += 2
			continue
		}
		id, ok := letterID(s[i])
		if !ok {
			return t, fmt.Errorf("equation %q: term %q has %q, which is neither a letter nor an ellipsis", eq, s, s[i])
		}
		t.letters = append(t.letters, id)
	}
	return t, nil
}

// parseEinsum parses the equation's syntax (no shapes).
func parseEinsum(eq string) (EinsumEq, error) {
	e := EinsumEq{eq: eq}
	s := strings.ReplaceAll(eq, " ", "")
	lhs, rhs, arrow := strings.Cut(s, "->")
	e.arrow = arrow
	if strings.Contains(rhs, "->") {
		return e, fmt.Errorf("equation %q has two arrows", eq)
	}
	for _, ts := range strings.Split(lhs, ",") {
		t, err := parseEinsumTerm(eq, ts)
		if err != nil {
			return e, err
		}
		e.in = append(e.in, t)
	}
	if len(e.in) > 2 {
		return e, fmt.Errorf("equation %q has %d operands: Einsum is supported with one or two", eq, len(e.in))
	}
	if arrow {
		t, err := parseEinsumTerm(eq, rhs)
		if err != nil {
			return e, err
		}
		seen := map[int]bool{}
		for _, id := range t.letters {
			if seen[id] {
				return e, fmt.Errorf("equation %q: output letter %s appears twice", eq, letterName(id))
			}
			seen[id] = true
			if !slices.ContainsFunc(e.in, func(in einsumTerm) bool { return slices.Contains(in.letters, id) }) {
				return e, fmt.Errorf("equation %q: output letter %s is in no input", eq, letterName(id))
			}
		}
		if t.ellipsis >= 0 && !slices.ContainsFunc(e.in, func(in einsumTerm) bool { return in.ellipsis >= 0 }) {
			return e, fmt.Errorf("equation %q: the output has an ellipsis that no input has", eq)
		}
		e.out = t
		return e, nil
	}
	// Implicit output: the ellipsis, then letters that occur once, sorted.
	count := map[int]int{}
	ell := false
	for _, in := range e.in {
		for _, id := range in.letters {
			count[id]++
		}
		ell = ell || in.ellipsis >= 0
	}
	e.out = einsumTerm{ellipsis: -1}
	if ell {
		e.out.ellipsis = 0
	}
	for id := range ellipsisID {
		if count[id] == 1 {
			e.out.letters = append(e.out.letters, id)
		}
	}
	// ASCII order: upper case before lower case.
	slices.SortFunc(e.out.letters, func(a, b int) int { return int(letterName(a)[0]) - int(letterName(b)[0]) })
	return e, nil
}

// expand returns a term's axis ids for an operand of rank r, the ellipsis
// standing for its leading axes right-aligned to ell ellipsis axes.
func (t einsumTerm) expand(eq string, r, ell int) ([]int, error) {
	if t.ellipsis < 0 {
		if r != len(t.letters) {
			return nil, fmt.Errorf("equation %q: term with %d letters for an operand of rank %d", eq, len(t.letters), r)
		}
		return slices.Clone(t.letters), nil
	}
	e := r - len(t.letters)
	if e < 0 {
		return nil, fmt.Errorf("equation %q: term with %d letters for an operand of rank %d", eq, len(t.letters), r)
	}
	ids := slices.Clone(t.letters[:t.ellipsis])
	for j := range e {
		ids = append(ids, ellipsisID+ell-e+j)
	}
	return append(ids, t.letters[t.ellipsis:]...), nil
}

// EinsumPlan is an equation bound to operand shapes: the letters of each
// GEMM role with their sizes, each operand's and the output's stride per
// letter (0 where it lacks the letter or broadcasts it).
type EinsumPlan struct {
	Out               []int // output shape
	Batch, Rows, Cols []int // letter ids by role
	Sum               []int
	size              map[int]int
	Strides           [2]map[int]int // per operand
	OutStride         map[int]int
	Nb, M, N, K       int // batch count, rows, columns, summed length
}

// Plan resolves the equation for the operand shapes: the output shape and the
// batch, row, column and contracted axes the kernel iterates over.
func (e EinsumEq) Plan(shapes [][]int) (*EinsumPlan, error) {
	if len(shapes) != len(e.in) {
		return nil, fmt.Errorf("equation %q has %d operands, the node %d inputs", e.eq, len(e.in), len(shapes))
	}
	ell := 0
	for i, t := range e.in {
		if t.ellipsis >= 0 {
			ell = max(ell, len(shapes[i])-len(t.letters))
		}
	}
	p := &EinsumPlan{size: map[int]int{}, OutStride: map[int]int{}}
	ids := make([][]int, len(e.in))
	for i, t := range e.in {
		var err error
		if ids[i], err = t.expand(e.eq, len(shapes[i]), ell); err != nil {
			return nil, err
		}
		within := map[int]int{}
		for a, id := range ids[i] {
			d := shapes[i][a]
			if w, ok := within[id]; ok && w != d {
				return nil, ShapeErr("equation %q: letter %s has sizes %d and %d in operand %d %v (a diagonal needs equal sizes)", e.eq, letterName(id), w, d, i, shapes[i])
			}
			within[id] = d
			// Across operands, a size of 1 broadcasts.
			switch s, ok := p.size[id]; {
			case !ok || s == 1:
				p.size[id] = d
			case d != 1 && d != s:
				return nil, ShapeErr("equation %q: letter %s has sizes %d and %d (operands %v)", e.eq, letterName(id), s, d, shapes)
			}
		}
	}
	for i := range e.in {
		st := map[int]int{}
		stride := 1
		for a := len(ids[i]) - 1; a >= 0; a-- {
			id, d := ids[i][a], shapes[i][a]
			if d != 1 || p.size[id] == 1 {
				st[id] += stride
			}
			stride *= d
		}
		p.Strides[i] = st
	}
	outIDs := slices.Clone(e.out.letters)
	if e.out.ellipsis >= 0 {
		var ellIDs []int
		for j := range ell {
			ellIDs = append(ellIDs, ellipsisID+j)
		}
		outIDs = slices.Insert(slices.Clone(e.out.letters), e.out.ellipsis, ellIDs...)
	}
	stride := 1
	p.Out = make([]int, len(outIDs))
	for a := len(outIDs) - 1; a >= 0; a-- {
		id := outIDs[a]
		p.Out[a] = p.size[id]
		p.OutStride[id] = stride
		stride *= p.size[id]
	}
	inOp := func(i, id int) bool { return i < len(ids) && slices.Contains(ids[i], id) }
	for _, id := range outIDs {
		switch a, b := inOp(0, id), inOp(1, id); {
		case a && b:
			p.Batch = append(p.Batch, id)
		case a:
			p.Rows = append(p.Rows, id)
		default:
			p.Cols = append(p.Cols, id)
		}
	}
	var all []int
	for _, l := range ids {
		all = append(all, l...)
	}
	for _, id := range all {
		if !slices.Contains(outIDs, id) && !slices.Contains(p.Sum, id) {
			p.Sum = append(p.Sum, id)
		}
	}
	prod := func(l []int) int {
		n := 1
		for _, id := range l {
			n *= p.size[id]
		}
		return n
	}
	p.Nb, p.M, p.N, p.K = prod(p.Batch), prod(p.Rows), prod(p.Cols), prod(p.Sum)
	return p, nil
}

// Walk visits the index space of the letters ids (sizes from p) in
// row-major order, calling fn with the flat index i and the offset of the
// element at the strides st.
func (p *EinsumPlan) Walk(ids []int, st map[int]int, fn func(i, off int)) {
	r := len(ids)
	sizes, strides := make([]int, r), make([]int, r)
	total := 1
	for a, id := range ids {
		sizes[a], strides[a] = p.size[id], st[id]
		total *= sizes[a]
	}
	if total == 0 {
		return
	}
	idx := make([]int, r)
	off := 0
	for i := range total {
		fn(i, off)
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			off += strides[a]
			if idx[a] < sizes[a] {
				break
			}
			off -= strides[a] * sizes[a]
			idx[a] = 0
		}
	}
}

// ParseEinsumNode decodes an Einsum node's equation attribute.
func ParseEinsumNode(n *Node) (EinsumEq, error) {
	eq, err := n.Attrs.String("equation", "")
	if err != nil {
		return EinsumEq{}, err
	}
	if eq == "" {
		return EinsumEq{}, fmt.Errorf("attribute equation is required")
	}
	return parseEinsum(eq)
}

func inferEinsum(n *Node, in [][]int, _ []*tensor.Tensor) ([][]int, error) {
	e, err := ParseEinsumNode(n)
	if err != nil {
		return nil, err
	}
	if err := WantInputs(in, 1, 2); err != nil {
		return nil, err
	}
	p, err := e.Plan(in)
	if err != nil {
		return nil, err
	}
	return [][]int{CloneShape(p.Out)}, nil
}

// einsumLinear recognises x·W with W a 2-D param: terms P+"d" and "df"
// (or "fd") giving P+"f", P being letters or an ellipsis, the form
// exporters give a linear layer over the last axis ("bsd,df->bsf").
// inAxis is W's contracted axis.
func einsumLinear(n *Node) (inAxis int, ok bool) {
	eq, err := n.Attrs.String("equation", "")
	if err != nil {
		return 0, false
	}
	e, err := parseEinsum(eq)
	if err != nil || len(e.in) != 2 || !e.arrow {
		return 0, false
	}
	x, w, o := e.in[0], e.in[1], e.out
	if w.ellipsis >= 0 || len(w.letters) != 2 || len(x.letters) == 0 || len(o.letters) == 0 ||
		x.ellipsis != o.ellipsis || x.ellipsis == len(x.letters) || o.ellipsis == len(o.letters) {
		return 0, false
	}
	nx, no := len(x.letters), len(o.letters)
	d, f := x.letters[nx-1], o.letters[no-1]
	if d == f || !slices.Equal(x.letters[:nx-1], o.letters[:no-1]) || slices.Contains(x.letters[:nx-1], d) ||
		slices.Contains(x.letters[:nx-1], f) {
		return 0, false
	}
	switch {
	case w.letters[0] == d && w.letters[1] == f:
		return 0, true
	case w.letters[0] == f && w.letters[1] == d:
		return 1, true
	}
	return 0, false
}

// einsumWeight: the second operand of the linear-layer pattern, when it
// is a 2-D param, is an in×out (or out×in) weight.
func einsumWeight(n *Node, in []Operand) (WeightUse, bool) {
	if w := paramAt(in, 1); w == nil || w.Value.Rank() != 2 || paramAt(in, 0) != nil {
		return WeightUse{}, false
	}
	inAxis, ok := einsumLinear(n)
	if !ok {
		return WeightUse{}, false
	}
	return WeightUse{Input: 1, Out: 1 - inAxis, In: inAxis, Groups: 1}, true
}

func einsumParams(n *Node, in []Operand) []ParamUse {
	w, ok := einsumWeight(n, in)
	if !ok {
		return nil
	}
	axes := []AxisRole{AxisIn, AxisOut}
	if w.In == 1 {
		axes = []AxisRole{AxisOut, AxisIn}
	}
	return []ParamUse{{Input: w.Input, Kind: ParamWeight, Axes: axes, Trainable: true}}
}

// einsumMACs: one multiply-accumulate per (batch, row, column, summed)
// combination.
func einsumMACs(n *Node, in, out [][]int) int {
	eq, err := n.Attrs.String("equation", "")
	if err != nil {
		return 0
	}
	e, err := parseEinsum(eq)
	if err != nil {
		return 0
	}
	p, err := e.Plan(in)
	if err != nil || len(e.in) < 2 {
		return 0
	}
	return p.Nb * p.M * p.N * p.K
}
