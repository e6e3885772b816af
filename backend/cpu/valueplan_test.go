package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/tensor"
)

// stepSlots returns the slots step t of p reads and writes: a blocked
// segment's entry and exit values, none for a step the program skips,
// otherwise its node's inputs and outputs (-1 for an omitted optional one).
func stepSlots(p *Program, t int) (reads, writes []int) {
	if seg := p.segments[t]; seg != nil {
		for _, v := range seg.values {
			if v.entry {
				reads = append(reads, v.slot)
			}
			if v.exit {
				writes = append(writes, v.slot)
			}
		}
		return reads, writes
	}
	if p.skip != nil && p.skip[t] {
		return nil, nil
	}
	return p.nodes[t].in, p.nodes[t].out
}

// checkValuePlan replays a pass of an inference program over the memory
// its values were given (after a Forward) and checks, independently of
// planValues, that every value a step reads is intact (no value written
// since overlaps it), that no step writes memory it reads, that the graph
// outputs are intact at the end and overlap no other value, and that
// ActivationBytes counts exactly the memory the values span.
func checkValuePlan(p *Program) error {
	type span struct{ lo, hi uintptr }
	spanOf := func(i int) (span, bool) {
		s := p.slots[p.root(i)]
		if s.param != nil || s.input || s.value == nil || len(s.value.Data) == 0 {
			return span{}, false // not planned
		}
		lo := uintptr(unsafe.Pointer(&s.value.Data[0]))
		return span{lo, lo + 4*uintptr(len(s.value.Data))}, true
	}
	overlaps := func(a, b span) bool { return a.lo < b.hi && b.lo < a.hi }
	intact := map[int]bool{} // root slots whose memory holds them
	name := func(i int) string { return p.slots[i].name }
	step := func(t int, reads, writes []int) error {
		for _, i := range reads {
			if _, ok := spanOf(i); ok && !intact[p.root(i)] {
				return fmt.Errorf("node %d (%s) reads %q, which a later value overwrote", t, p.nodes[t].node.Name, name(i))
			}
		}
		for _, o := range writes {
			so, ok := spanOf(o)
			if !ok {
				continue
			}
			for _, i := range reads {
				if si, ok := spanOf(i); ok && overlaps(so, si) {
					return fmt.Errorf("node %d (%s) writes %q over %q, which it reads", t, p.nodes[t].node.Name, name(o), name(i))
				}
			}
			for r := range intact {
				if sr, _ := spanOf(r); r != p.root(o) && overlaps(so, sr) {
					delete(intact, r)
				}
			}
			intact[p.root(o)] = true
		}
		return nil
	}
	for t := range p.nodes {
		reads, writes := stepSlots(p, t)
		omitted := func(i int) bool { return i < 0 } // an omitted optional input or output
		if err := step(t, slices.DeleteFunc(slices.Clone(reads), omitted), slices.DeleteFunc(slices.Clone(writes), omitted)); err != nil {
			return err
		}
	}
	for _, o := range p.outs {
		so, ok := spanOf(o)
		if !ok {
			continue
		}
		if !intact[p.root(o)] {
			return fmt.Errorf("output %q was overwritten", name(o))
		}
		for i := range p.slots {
			if si, ok := spanOf(i); ok && p.root(i) != p.root(o) && overlaps(so, si) {
				return fmt.Errorf("%q overlaps output %q", name(i), name(o))
			}
		}
	}
	// The estimate counts what was allocated: the inputs, the outputs'
	// and other own buffers, and the shared memory's span.
	var allocated int64
	var arena span
	for i, s := range p.slots {
		sp, ok := spanOf(i)
		switch {
		case s.input:
			allocated += 4 * int64(len(s.value.Data))
		case !ok || s.aliasOf != nil:
		case s.shared:
			if arena.hi == 0 {
				arena = sp
			}
			arena = span{min(arena.lo, sp.lo), max(arena.hi, sp.hi)}
		default:
			allocated += int64(sp.hi - sp.lo)
		}
	}
	allocated += int64(arena.hi - arena.lo)
	if est, err := p.activationBytes(); err != nil || est < allocated || est > allocated+4*valueAlign {
		return fmt.Errorf("ActivationBytes %d (%v), the values span %d", est, err, allocated)
	}
	return nil
}

// valueBytes sums every value the program computes (and its inputs), as
// if each had a buffer of its own (of whole valueAlign granules, as the
// plan places them, but for the inputs).
func valueBytes(p *Program) int64 {
	var sum int64
	for _, s := range p.slots {
		if s.param == nil && s.aliasOf == nil && !s.unused {
			n := graph.ShapeProd(s.shape)
			if !s.input {
				n = (n + valueAlign - 1) / valueAlign * valueAlign
			}
			sum += 4 * int64(n)
		}
	}
	return sum
}

// forwardBits runs p and returns copies of its outputs.
func forwardBits(t *testing.T, p *Program, xs []*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	outs, err := p.Forward(false, xs...)
	if err != nil {
		t.Fatal(err)
	}
	var res []*tensor.Tensor
	for _, o := range outs {
		res = append(res, o.Clone())
	}
	return res
}

// sameBits reports the first element where two output lists differ in
// their bits (NaNs included), or "".
func sameBits(got, want []*tensor.Tensor) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d outputs, want %d", len(got), len(want))
	}
	for k := range got {
		if !slices.Equal(got[k].Shape, want[k].Shape) {
			return fmt.Sprintf("output %d: shape %v, want %v", k, got[k].Shape, want[k].Shape)
		}
		for i, v := range got[k].Data {
			if math.Float32bits(v) != math.Float32bits(want[k].Data[i]) {
				return fmt.Sprintf("output %d [%d]: %g, want %g", k, i, v, want[k].Data[i])
			}
		}
	}
	return ""
}

// CheckReuse compiles g for inference twice, sharing buffers and with a
// buffer per value (KeepValues), and checks at each batch size that the
// outputs agree bit for bit (with the shared program's outputs poisoned
// before each op writes them), that the shared plan is sound
// (checkValuePlan), and that it shares: the planned bytes are at most
// the sum of the values, and below it where wantShared. It returns the
// shared program.
func CheckReuse(t *testing.T, g *graph.Graph, r *rand.Rand, batches []int, wantShared bool) *Program {
	t.Helper()
	if testing.Short() {
		batches = batches[:1]
	}
	shared, err := CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	kept.KeepValues(true)
	for _, batch := range batches {
		xs := graph.RandomInputs(g, batch, r)
		want := forwardBits(t, kept, xs)
		poisonOutputs = true
		got := forwardBits(t, shared, xs)
		poisonOutputs = false
		if d := sameBits(got, want); d != "" {
			t.Fatalf("%s batch %d: shared buffers: %s", g.Name, batch, d)
		}
		if err := checkValuePlan(shared); err != nil {
			t.Fatalf("%s batch %d: %v", g.Name, batch, err)
		}
		planned, err := shared.activationBytes()
		if err != nil {
			t.Fatal(err)
		}
		if sum := valueBytes(shared); planned > sum || wantShared && planned >= sum {
			t.Errorf("%s batch %d: %d bytes planned, %d in all values", g.Name, batch, planned, sum)
		}
	}
	return shared
}

// ForceBlocked turns the blocked segments of CompileInference on or off,
// on with the portable kernels where the machine lacks AVX-512 (slowly),
// and returns the previous setting.
func ForceBlocked(on bool) (was bool) {
	was, useBlocked = useBlocked, on
	return was
}

// PlanBounds returns, at a batch size, the bytes ActivationBytes plans
// and a lower bound for any plan: the inputs, the graph outputs and the
// most memory the other values hold at one step (a value held from the
// step that writes it to its last reader's, by a replay of the pass). It
// leaves the program at batch 1.
func PlanBounds(p *Program, batch int) (planned, bound int64, err error) {
	if err := p.setBatch(batch, false); err != nil {
		return 0, 0, err
	}
	defer p.setBatch(1, false)
	if planned, err = p.activationBytes(); err != nil {
		return 0, 0, err
	}
	last := map[int]int{} // root → last step that reads it
	steps := make([][2][]int, len(p.nodes))
	for t := range p.nodes {
		reads, writes := stepSlots(p, t)
		for _, i := range reads {
			if i >= 0 {
				last[p.root(i)] = t
			}
		}
		steps[t] = [2][]int{reads, writes}
	}
	fixed := map[int]bool{}
	for _, i := range p.inputs {
		fixed[i] = true
	}
	for _, o := range p.outs {
		fixed[p.root(o)] = true
	}
	for i := range fixed {
		bound += 4 * int64(graph.ShapeProd(p.slots[i].shape))
	}
	live := map[int]bool{}
	var peak int64
	for t, st := range steps {
		for _, o := range st[1] {
			if r := p.root(max(o, 0)); o >= 0 && p.slots[r].param == nil && !fixed[r] {
				live[r] = true
			}
		}
		var held int64
		for r := range live {
			held += 4 * int64(graph.ShapeProd(p.slots[r].shape))
		}
		peak = max(peak, held)
		for r := range live {
			if last[r] <= t {
				delete(live, r)
			}
		}
	}
	return planned, bound + peak, nil
}

// TestValuePlanSynthetic: graphs with fan-out (a value read by three
// nodes, the last far below), residual Adds (one fused into the
// convolution before it), a Concat and a Split, a node with two outputs,
// a graph output that later nodes also read, a Relu fused into a
// convolution whose output is a graph output, and a value nothing reads
// give the same bits with shared buffers as with a buffer per value, at
// batch 1, 3, 1 (a new plan at each size).
func TestValuePlanSynthetic(t *testing.T) {
	defer func(was bool) { useBlocked = was }(useBlocked)
	useBlocked = false
	r := rand.New(rand.NewPCG(41, 42))
	g, param, node := newTestGraph("plan", []int{-1, 4, 8, 8}, r)
	pad1 := graph.Attrs{"pads": []int{1, 1, 1, 1}}
	conv := func(name, x string, cin, cout int) string {
		return node(name, "Conv", pad1, x, param(name+".w", cout, cin, 3, 3), param(name+".b", cout))
	}
	a := node("relu_a", "Relu", nil, conv("conv_a", "x", 4, 8)) // read by three (conv_a is an output)
	b := node("relu_b", "Relu", nil, conv("conv_b", a, 8, 8))   // fused
	res := node("res", "Add", nil, conv("conv_c", b, 8, 8), a)  // fused into conv_c
	cat := node("cat", "Concat", graph.Attrs{"axis": 1}, res, a, "x")
	g.Nodes = append(g.Nodes, &graph.Node{Name: "split", Op: "Split", Attrs: graph.Attrs{"axis": 1, "split": []int{8, 12}}, Inputs: []string{cat}, Outputs: []string{"s0", "s1"}})
	node("unread", "Neg", nil, node("tanh", "Tanh", nil, "s1")) // nothing reads it
	early := node("sig", "Sigmoid", nil, "s0")                  // a graph output read below
	pool := func(name, x string) string {
		return node(name, "MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, x)
	}
	d := node("mul", "Mul", nil, pool("pool", "s0"), node("pool2", "AveragePool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, a))
	sum := node("sum", "Sum", nil, d, pool("pool3", node("sq", "Mul", nil, early, early)), d)
	out := node("relu_out", "Relu", nil, conv("conv_out", sum, 8, 5)) // fused; a graph output
	g.Outputs = []graph.ValueInfo{{Name: early}, {Name: out}, {Name: "conv_a"}}
	p := CheckReuse(t, g, r, []int{1, 3, 1}, true)
	if p.Value(a) != nil || p.Value("tanh") != nil || p.Value("res") != nil {
		t.Errorf("an intermediate value is handed out after Forward (its buffer is shared)")
	}
	for _, o := range []string{early, out, "conv_out", "conv_a", "x"} {
		if p.Value(o) == nil {
			t.Errorf("Value(%q) is nil: graph outputs, their fused aliases and inputs stay valid", o)
		}
	}
	for _, v := range []string{"relu_out", "relu_b", "res"} {
		if p.slots[p.byName[v]].aliasOf == nil {
			t.Errorf("%s was not fused: the test misses its case", v)
		}
	}
	// Back to a buffer per value: the intermediates answer again.
	p.KeepValues(true)
	if _, err := p.Forward(false, graph.RandomInputs(g, 2, r)...); err != nil {
		t.Fatal(err)
	}
	if p.Value(a) == nil || p.Value("tanh") == nil {
		t.Errorf("KeepValues(true): intermediate values are nil")
	}
}

// TestValuePlanChain: a densenet-like block (each layer reads the Concat
// of all before it) plans a fraction of the sum of its values, and the
// plan is sound.
func TestValuePlanChain(t *testing.T) {
	defer func(was bool) { useBlocked = was }(useBlocked)
	useBlocked = false
	r := rand.New(rand.NewPCG(43, 44))
	g, param, node := newTestGraph("dense", []int{-1, 8, 16, 16}, r)
	x, c := "x", 8
	for i := range 24 {
		name := fmt.Sprint("l", i)
		h := node(name+".relu", "Relu", nil, node(name+".conv1", "Conv", nil, x, param(name+".w1", 16, c, 1, 1)))
		y := node(name+".conv2", "Conv", graph.Attrs{"pads": []int{1, 1, 1, 1}}, h, param(name+".w2", 4, 16, 3, 3))
		x, c = node(name+".cat", "Concat", graph.Attrs{"axis": 1}, x, y), c+4
	}
	g.Outputs = []graph.ValueInfo{{Name: node("gap", "GlobalAveragePool", nil, x)}}
	p := CheckReuse(t, g, r, []int{2}, true)
	planned, _ := p.activationBytes()
	if sum := valueBytes(p); planned*5 > sum {
		t.Errorf("%d bytes planned, %d in all values: want under a fifth", planned, sum)
	}
	if planned, bound, err := PlanBounds(p, 2); err != nil || float64(planned) > 1.1*float64(bound) {
		t.Errorf("%d bytes planned (%v), at least %d needed: want within 10%%", planned, err, bound)
	}
}

// checkOverwrites runs p again with every output poisoned before its op
// writes it (poisonOutputs) and checks that the outputs are want's bits:
// an op that adds into its output, or leaves part of it unwritten, would
// read a shared buffer's stale contents. checkGrad calls it on every op.
func checkOverwrites(t *testing.T, op string, p *Program, train bool, xs, want []*tensor.Tensor) {
	t.Helper()
	wants := make([]*tensor.Tensor, len(want))
	for k, w := range want {
		wants[k] = w.Clone()
	}
	poisonOutputs = true
	defer func() { poisonOutputs = false }()
	p.Seed, p.step = 1, 0
	got, err := p.Forward(train, xs...)
	if err != nil {
		t.Fatalf("%s: forward: %v", op, err)
	}
	if d := sameBits(got, wants); d != "" {
		t.Errorf("%s (train %v): with its outputs poisoned before it runs: %s", op, train, d)
	}
}
