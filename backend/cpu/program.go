package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/parallel"
	"github.com/shearsml/shears/tensor"
)

// Program is a compiled graph ready to run. It is not safe for concurrent
// use; compile one Program per goroutine.
type Program struct {
	Graph *graph.Graph
	// Threads bounds the workers ops use; 0 means parallel.Threads().
	Threads int
	// Seed seeds the per-step randomness of stochastic ops (Dropout).
	Seed uint64

	nodes  []compiledNode
	slots  []*slot
	byName map[string]int
	inputs []int
	outs   []int
	batch  int
	step   uint64
	// forwarded is true once Forward ran, so Backward has the values it
	// needs. Backward after an inference-mode Forward differentiates the
	// inference function (BatchNorm with running statistics), which
	// gradient-based pruning criteria use.
	forwarded bool
	// written marks, during Backward, the gradients that hold a sum.
	written []bool
	// skip, set only by CompileInference (inference only), marks the nodes
	// fused into the one before them.
	skip []bool
	// shareGrads: activation gradients live in buffers shared by values
	// whose gradients are never live at once (ShareGradients); gradPlan is
	// the batch size the current assignment was made for.
	shareGrads bool
	gradPlan   int
	// opTimes, when profiling (ProfileOps), is each node's total Forward
	// time; opRuns counts the Forward calls timed.
	opTimes []time.Duration
	opRuns  int
	// segments, set by CompileInference, are runs of nodes that run on the
	// blocked layout, by their first node; inSegment marks their nodes.
	segments  map[int]*blockedSegment
	inSegment []bool
	// reuseValues, set by CompileInference unless KeepValues, keeps the
	// values in buffers shared by values that are never live at once
	// (planValues); valuePlan is the batch size the current assignment
	// was made for (0: none).
	reuseValues bool
	valuePlan   int
}

// OpTime is one node's share of Forward's time (ProfileOps).
type OpTime struct {
	Node  *graph.Node
	Total time.Duration // over Runs forward passes
	Runs  int
	// Fused is set for a node another op applies as it writes its output
	// (CompileInference); its time is in that op's.
	Fused bool
}

// ProfileOps starts (clearing earlier figures) or stops timing each node
// of Forward. Off by default: it reads the clock twice per node.
func (p *Program) ProfileOps(on bool) {
	p.opTimes, p.opRuns = nil, 0
	if on {
		p.opTimes = make([]time.Duration, len(p.nodes))
	}
}

// OpTimes returns the per-node times since ProfileOps(true), in execution
// order.
func (p *Program) OpTimes() []OpTime {
	res := make([]OpTime, 0, len(p.opTimes))
	for ni, d := range p.opTimes {
		res = append(res, OpTime{Node: p.nodes[ni].node, Total: d, Runs: p.opRuns, Fused: p.skip != nil && p.skip[ni] && !p.inSegment[ni]})
	}
	return res
}

type compiledNode struct {
	node *graph.Node
	op   Op
	in   []int // slot index, -1 for an omitted optional input
	out  []int
}

type slot struct {
	name     string
	shape    []int
	value    *tensor.Tensor
	grad     *tensor.Tensor
	param    *graph.Param
	input    bool
	needGrad bool
	// aliasOf: this value is the same tensor as another's (the output of
	// an op fused into the one that produces its input: CompileInference).
	aliasOf *slot
	// unused: the value lives only inside a blocked segment and has no
	// tensor.
	unused bool
	// shared: the value's buffer holds other values before and after it
	// in a Forward (reuseValues), so Value does not hand it out.
	shared bool
}

// Compile checks a graph and prepares it for execution. Errors name the
// node and the shapes involved.
func Compile(g *graph.Graph) (*Program, error) {
	if err := g.Sort(); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	p := &Program{Graph: g, byName: map[string]int{}}
	addSlot := func(s *slot) int {
		p.byName[s.name] = len(p.slots)
		p.slots = append(p.slots, s)
		return len(p.slots) - 1
	}
	for _, in := range g.Inputs {
		p.inputs = append(p.inputs, addSlot(&slot{name: in.Name, input: true}))
	}
	for _, prm := range g.Params {
		addSlot(&slot{name: prm.Name, param: prm, value: prm.Value, shape: prm.Value.Shape})
	}
	var errs []error
	for _, n := range g.Nodes {
		op, err := NewOp(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cn := compiledNode{node: n, op: op}
		for _, in := range n.Inputs {
			if in == "" {
				cn.in = append(cn.in, -1)
				continue
			}
			cn.in = append(cn.in, p.byName[in])
		}
		for _, o := range n.Outputs {
			if o == "" {
				cn.out = append(cn.out, -1)
				continue
			}
			cn.out = append(cn.out, addSlot(&slot{name: o}))
		}
		p.nodes = append(p.nodes, cn)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	if len(errs) > 1 {
		return nil, fmt.Errorf("%d unsupported nodes: %w", len(errs), graph.JoinErrs(errs))
	}
	for _, o := range g.Outputs {
		p.outs = append(p.outs, p.byName[o.Name])
	}
	p.markNeedGrad()
	// Check shapes once with batch 1 so that a bad graph fails here.
	if err := p.setBatch(1, false); err != nil {
		return nil, err
	}
	return p, nil
}

// CompileInference compiles g for inference only, fusing what training
// must keep apart: BatchNormalization into the convolution or Gemm before
// it (FoldBatchNorm; Program.Graph is then the folded copy), a residual
// Add into the convolution before it (fuseResiduals), and a Relu or a Clip
// with constant bounds that is the only reader of a convolution's or an
// Add's output into that op, which applies it as it writes its results,
// saving a pass over the activation. A fused op's output and its input's
// producer's are then one tensor (Value returns the final values for
// both). Where the machine has the kernels, runs of convolutions and the
// ops between them then run on the blocked layout (blocked.go). Forward in
// training mode and Backward are errors.
//
// Values share buffers: one whose last reader has run lends its buffer to
// the values computed after it (planValues), so a pass needs the memory of
// the values live at once, not of all of them (densenet121 at batch 64:
// 0.58 GB instead of 10.2). Value then answers only for the graph's
// inputs, outputs and params; KeepValues(true) gives every value its own
// buffer again.
func CompileInference(g *graph.Graph) (*Program, error) {
	// BatchNormalization in inference mode is an affine map of the
	// running statistics: folded into the convolution (or Gemm) before
	// it, it costs nothing, and it does not cut a blocked segment.
	if folded, n, err := graph.FoldBatchNorm(g); err == nil && n > 0 {
		g = folded
	}
	p, err := Compile(g)
	if err != nil {
		return nil, err
	}
	p.skip = make([]bool, len(p.nodes))
	readers := g.Consumers()
	for _, o := range g.Outputs {
		readers[o.Name] = append(readers[o.Name], nil) // read by the caller
	}
	producers := g.Producers()
	nodeIndex := make(map[*graph.Node]int, len(p.nodes))
	for ni, cn := range p.nodes {
		nodeIndex[cn.node] = ni
	}
	// fusedInto maps a skipped node to the one that now computes its
	// output.
	fusedInto := map[int]int{}
	// Shapes at batch 2 next to those at batch 1 tell a batch-dependent
	// dimension from a fixed one (a constant of the batch-1 shape would
	// broadcast at other batches).
	// A graph that runs at batch 1 only gets neither that fusion nor
	// blocked segments.
	at2, err := p.shapesAt(2)
	if err == nil {
		p.fuseResiduals(readers, producers, nodeIndex, fusedInto, at2)
	}
	for ni, cn := range p.nodes {
		if len(cn.in) == 0 || cn.in[0] < 0 || len(cn.out) != 1 || cn.out[0] < 0 {
			continue
		}
		src := cn.node.Inputs[0]
		prod := producers[src]
		if prod == nil || len(readers[src]) != 1 {
			continue
		}
		pi := nodeIndex[prod]
		if f, ok := fusedInto[pi]; ok {
			pi = f
		}
		fuser, ok := p.nodes[pi].op.(actFuser)
		if !ok {
			continue
		}
		var act *clampBounds
		switch cn.op.(type) {
		case *unaryOp:
			if cn.node.Op == "Relu" {
				act = &clampBounds{0, float32(math.Inf(1))}
			}
		case *clipOp:
			// Bounds from attributes or constant inputs only.
			if lo, hi, ok := p.constClip(ni); ok {
				act = &clampBounds{lo, hi}
			}
		}
		if act == nil || !fuser.fuseAct(act) {
			continue
		}
		p.skip[ni] = true
		p.alias(cn.out[0], cn.in[0])
	}
	p.inSegment = make([]bool, len(p.nodes))
	if useBlocked && at2 != nil {
		p.buildSegments(at2)
	}
	p.reuseValues = true
	return p, nil
}

// KeepValues makes an inference program (CompileInference) keep every
// value in a buffer of its own, so that Value answers for intermediate
// values after Forward (to compare a model node by node with a reference),
// at the cost of memory for all of them at once; KeepValues(false) shares
// buffers again. Programs from Compile always keep their values: criteria
// read activations.
func (p *Program) KeepValues(keep bool) {
	if p.skip == nil || keep != p.reuseValues {
		return
	}
	p.reuseValues = !keep
	p.valuePlan = 0
	for _, s := range p.slots {
		if s.param == nil && !s.input {
			s.value, s.shared = nil, false
		}
	}
}

// shapesAt returns every slot's shape at a batch size, and leaves the
// program's shapes at batch 1 (as Compile does), which always infer.
func (p *Program) shapesAt(batch int) ([][]int, error) {
	err := p.setBatch(batch, false)
	var shapes [][]int
	if err == nil {
		shapes = make([][]int, len(p.slots))
		for i, sl := range p.slots {
			shapes[i] = sl.shape
		}
	}
	if err1 := p.setBatch(1, false); err == nil {
		err = err1
	}
	if err != nil {
		return nil, err
	}
	return shapes, nil
}

// alias makes slot o the same tensor as slot i (or the one i is).
func (p *Program) alias(o, i int) {
	root := p.slots[i]
	for root.aliasOf != nil {
		root = root.aliasOf
	}
	p.slots[o].aliasOf = root
	p.slots[o].value = nil
}

// fuseResiduals lets a convolution apply the Add after it (a residual
// connection): when an Add of two same-shape values reads a convolution's
// output that nothing else reads, the convolution takes the Add's other
// input as a fourth input and adds it as it writes its output, and the
// Add is skipped. The other input must be computed before the
// convolution runs; depthwise convolutions keep their Add.
func (p *Program) fuseResiduals(readers map[string][]*graph.Node, producers map[string]*graph.Node, nodeIndex map[*graph.Node]int, fusedInto map[int]int, at2 [][]int) {
	// Operands equal at batch 1 and 2 are equal at every batch (one could
	// be a constant that broadcasts at batch 1 only).
	sameShape := func(a, b int) bool {
		return slices.Equal(p.slots[a].shape, p.slots[b].shape) && slices.Equal(at2[a], at2[b])
	}
	for ni, cn := range p.nodes {
		add, ok := cn.op.(*binaryOp)
		if !ok || add.kind != graph.BinAdd || add.act != nil || len(cn.in) != 2 || len(cn.out) != 1 || cn.out[0] < 0 {
			continue
		}
		for side := range 2 {
			src, other := cn.in[side], cn.in[1-side]
			if src < 0 || other < 0 || src == other || !sameShape(src, other) {
				continue
			}
			name := cn.node.Inputs[side]
			prod := producers[name]
			if prod == nil || len(readers[name]) != 1 {
				continue
			}
			pi := nodeIndex[prod]
			conv, ok := p.nodes[pi].op.(*convOp)
			if !ok || conv.residual || conv.act != nil || conv.depthwise() || len(p.nodes[pi].out) != 1 {
				continue
			}
			// The other input must exist when the convolution runs (a
			// projection shortcut is often computed after the branch).
			if q := producers[cn.node.Inputs[1-side]]; q != nil && nodeIndex[q] > pi {
				continue
			}
			conv.residual = true
			pc := &p.nodes[pi]
			for len(pc.in) < 3 {
				pc.in = append(pc.in, -1) // an omitted bias
			}
			pc.in = append(pc.in, other)
			p.skip[ni] = true
			fusedInto[ni] = pi
			p.alias(cn.out[0], src)
			break
		}
	}
}

// actFuser is an op that can apply a following activation itself
// (CompileInference); fuseAct reports whether it took it.
type actFuser interface {
	fuseAct(*clampBounds) bool
}

// markNeedGrad marks the slots on a path from a trainable param to an
// output: only those need gradient buffers.
func (p *Program) markNeedGrad() {
	for _, s := range p.slots {
		s.needGrad = s.param != nil && s.param.Trainable
	}
	for _, cn := range p.nodes {
		any := false
		for _, i := range cn.in {
			if i >= 0 && p.slots[i].needGrad {
				any = true
			}
		}
		for _, o := range cn.out {
			if o >= 0 {
				p.slots[o].needGrad = any
			}
		}
	}
}

// InferShapes returns the shape of every value and param for a batch size.
func (p *Program) InferShapes(batch int) (map[string][]int, error) {
	if err := p.setBatch(batch, false); err != nil {
		return nil, err
	}
	m := make(map[string][]int, len(p.slots))
	for _, s := range p.slots {
		m[s.name] = s.shape
	}
	return m, nil
}

// setBatch infers all shapes for a batch size and (when alloc) allocates
// value buffers.
func (p *Program) setBatch(batch int, alloc bool) error {
	if batch == p.batch && (!alloc || p.allocated()) {
		return nil
	}
	p.batch = 0 // until inference succeeds, shapes may be half-updated
	p.valuePlan = 0
	for k, i := range p.inputs {
		p.slots[i].shape = graph.BatchShape(p.Graph.Inputs[k].Shape, batch)
	}
	for _, cn := range p.nodes {
		ins := make([][]int, len(cn.in))
		consts := make([]*tensor.Tensor, len(cn.in))
		for k, i := range cn.in {
			if i < 0 {
				continue
			}
			ins[k] = p.slots[i].shape
			if p.slots[i].param != nil {
				consts[k] = p.slots[i].value
			}
		}
		outs, err := cn.op.Infer(ins, consts)
		if err != nil {
			return fmt.Errorf("node %q (%s): %w", cn.node.Name, cn.node.Op, err)
		}
		if err := graph.CheckOutputs(cn.node, outs); err != nil {
			return err
		}
		for k, o := range cn.out {
			if o < 0 {
				continue
			}
			p.slots[o].shape = outs[k]
			if p.slots[o].value != nil && !tensor.SameShape(p.slots[o].value.Shape, outs[k]) {
				p.slots[o].value = nil
				p.slots[o].grad = nil
			}
		}
	}
	p.batch = batch
	if alloc && p.reuseValues {
		return p.allocPlanned()
	}
	if alloc {
		for _, s := range p.slots {
			if s.param == nil && !s.input && s.value == nil && s.aliasOf == nil && !s.unused {
				s.value = tensor.New(s.shape...)
			}
		}
		for _, s := range p.slots {
			if s.aliasOf != nil {
				s.value = s.aliasOf.value
			}
		}
	}
	return nil
}

func (p *Program) allocated() bool {
	if p.reuseValues {
		return p.valuePlan == p.batch
	}
	for _, s := range p.slots {
		if s.param == nil && !s.input && s.value == nil && !s.unused && (s.aliasOf == nil || !s.aliasOf.unused) {
			return false
		}
	}
	return true
}

// Forward runs the graph on inputs (in Graph.Inputs order) and returns the
// outputs (in Graph.Outputs order). The returned tensors are owned by the
// program and overwritten by the next call. In training mode the values
// needed by Backward are kept.
func (p *Program) Forward(train bool, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	if train && p.skip != nil {
		return nil, fmt.Errorf("graph %q: compiled for inference only (CompileInference), cannot run a training step", p.Graph.Name)
	}
	if len(inputs) != len(p.inputs) {
		return nil, fmt.Errorf("graph %q takes %d inputs, got %d", p.Graph.Name, len(p.inputs), len(inputs))
	}
	batch := 1
	for k, x := range inputs {
		vi := p.Graph.Inputs[k]
		if len(x.Shape) != len(vi.Shape) {
			return nil, fmt.Errorf("input %q: want shape %s, have %s", vi.Name, tensor.ShapeString(vi.Shape), tensor.ShapeString(x.Shape))
		}
		for d, v := range vi.Shape {
			if v < 0 {
				batch = x.Shape[d]
			} else if x.Shape[d] != v {
				return nil, fmt.Errorf("input %q: want shape %s, have %s", vi.Name, tensor.ShapeString(vi.Shape), tensor.ShapeString(x.Shape))
			}
		}
	}
	if err := p.setBatch(batch, true); err != nil {
		return nil, err
	}
	for k, i := range p.inputs {
		if !tensor.SameShape(inputs[k].Shape, p.slots[i].shape) {
			return nil, fmt.Errorf("input %q: have shape %s but batch is %d", p.Graph.Inputs[k].Name, tensor.ShapeString(inputs[k].Shape), batch)
		}
		p.slots[i].value = inputs[k]
	}
	p.step++
	// One generator, reseeded per node, so that each op's randomness is a
	// function of (seed, step, node) without allocating on every call.
	pcg := rand.NewPCG(0, 0)
	ctx := &Ctx{Train: train, Threads: parallel.Resolve(p.Threads), Rand: rand.New(pcg)}
	in := make([]*tensor.Tensor, 0, 8)
	out := make([]*tensor.Tensor, 0, 4)
	for ni, cn := range p.nodes {
		if seg := p.segments[ni]; seg != nil {
			if poisonOutputs {
				for _, v := range seg.values {
					if v.exit {
						p.slots[v.slot].value.Fill(poison)
					}
				}
			}
			seg.forward(p, ctx.Threads)
			continue
		}
		if p.skip != nil && p.skip[ni] {
			continue
		}
		in, out = p.gather(cn, in[:0], out[:0])
		if poisonOutputs {
			for _, o := range out {
				if o != nil {
					o.Fill(poison)
				}
			}
		}
		pcg.Seed(p.Seed^p.step, uint64(ni))
		var start time.Time
		if p.opTimes != nil {
			start = time.Now()
		}
		if err := cn.op.Forward(ctx, in, out); err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", cn.node.Name, cn.node.Op, err)
		}
		if p.opTimes != nil {
			p.opTimes[ni] += time.Since(start)
		}
	}
	if p.opTimes != nil {
		p.opRuns++
	}
	p.forwarded = true
	res := make([]*tensor.Tensor, len(p.outs))
	for k, o := range p.outs {
		res[k] = p.slots[o].value
	}
	return res, nil
}

func (p *Program) gather(cn compiledNode, in, out []*tensor.Tensor) ([]*tensor.Tensor, []*tensor.Tensor) {
	for _, i := range cn.in {
		if i < 0 {
			in = append(in, nil)
		} else {
			in = append(in, p.slots[i].value)
		}
	}
	for _, o := range cn.out {
		if o < 0 {
			out = append(out, nil)
		} else {
			out = append(out, p.slots[o].value)
		}
	}
	return in, out
}

// Backward back-propagates output gradients (in Graph.Outputs order)
// through the last training Forward. Parameter gradients are overwritten
// (not accumulated across calls) and read with Grad.
func (p *Program) Backward(gradOutputs ...*tensor.Tensor) error {
	if !p.forwarded {
		return fmt.Errorf("graph: Backward needs a preceding Forward")
	}
	if p.skip != nil {
		return fmt.Errorf("graph: Backward on a program compiled for inference only (CompileInference)")
	}
	if len(gradOutputs) != len(p.outs) {
		return fmt.Errorf("graph: Backward takes %d output gradients, got %d", len(p.outs), len(gradOutputs))
	}
	// Param gradients are cleared up front (they are small). Activation
	// gradients are not: the first op to write one either overwrites it
	// (FreshGradWriter) or gets it cleared just before; written tracks
	// which hold a sum already.
	threads := parallel.Resolve(p.Threads)
	if len(p.written) != len(p.slots) {
		p.written = make([]bool, len(p.slots))
	}
	written := p.written
	if p.shareGrads && p.gradPlan != p.batch {
		p.planSharedGrads()
	}
	var zero [][]float32
	for i, s := range p.slots {
		written[i] = false
		if !s.needGrad {
			continue
		}
		if s.grad == nil || !tensor.SameShape(s.grad.Shape, s.shape) {
			s.grad = tensor.New(s.shape...)
			written[i] = true
		} else if s.param != nil {
			zero = append(zero, s.grad.Data)
			written[i] = true
		}
	}
	parallel.For(len(zero), threads, func(lo, hi, _ int) {
		for _, z := range zero[lo:hi] {
			clear(z)
		}
	})
	for k, o := range p.outs {
		s := p.slots[o]
		if !s.needGrad {
			continue
		}
		if !tensor.SameShape(gradOutputs[k].Shape, s.shape) {
			return fmt.Errorf("graph: gradient for output %q has shape %s, output is %s", s.name, tensor.ShapeString(gradOutputs[k].Shape), tensor.ShapeString(s.shape))
		}
		if !written[o] {
			copy(s.grad.Data, gradOutputs[k].Data)
			written[o] = true
			continue
		}
		for i, v := range gradOutputs[k].Data {
			s.grad.Data[i] += v
		}
	}
	ctx := &Ctx{Train: true, Threads: threads}
	fresh := make([]bool, 0, 8)
	in := make([]*tensor.Tensor, 0, 8)
	out := make([]*tensor.Tensor, 0, 4)
	gout := make([]*tensor.Tensor, 0, 4)
	gin := make([]*tensor.Tensor, 0, 8)
	for ni := len(p.nodes) - 1; ni >= 0; ni-- {
		cn := p.nodes[ni]
		needed := false
		gin = gin[:0]
		for _, i := range cn.in {
			if i >= 0 && p.slots[i].needGrad {
				gin = append(gin, p.slots[i].grad)
				needed = true
			} else {
				gin = append(gin, nil)
			}
		}
		if !needed {
			continue
		}
		gout = gout[:0]
		for _, o := range cn.out {
			if o >= 0 && p.slots[o].grad != nil && p.slots[o].needGrad {
				gout = append(gout, p.slots[o].grad)
			} else {
				gout = append(gout, nil)
			}
		}
		if p.shareGrads {
			// A shared buffer holds another value's gradient: one that no
			// reader wrote must read as zero.
			for k, o := range cn.out {
				if gout[k] != nil && !written[o] {
					clearParallel(gout[k].Data, threads)
					written[o] = true
				}
			}
		}
		in, out = p.gather(cn, in[:0], out[:0])
		fw, ok := cn.op.(FreshGradWriter)
		canWrite := ok && fw.WritesFreshGrads() && !noFreshGrads
		fresh = fresh[:0]
		for k, i := range cn.in {
			f := gin[k] != nil && !written[i]
			if f && (!canWrite || slices.Index(cn.in, i) != k || slices.Index(cn.in[k+1:], i) >= 0) {
				// Not an overwriter, or the value is read twice by this
				// node (Mul(x, x)): start from zero.
				clearParallel(gin[k].Data, threads)
				f = false
			}
			fresh = append(fresh, f)
		}
		ctx.Fresh = fresh
		if err := cn.op.Backward(ctx, in, out, gout, gin); err != nil {
			return fmt.Errorf("node %q (%s) backward: %w", cn.node.Name, cn.node.Op, err)
		}
		for k, i := range cn.in {
			if gin[k] != nil {
				written[i] = true
			}
		}
	}
	// Gradients nothing wrote (a value whose readers need none) read as 0.
	// Shared buffers are not cleared: they belong to other values by now.
	for i, s := range p.slots {
		if s.needGrad && !written[i] && s.grad != nil && (!p.shareGrads || s.param != nil) {
			clearParallel(s.grad.Data, threads)
		}
	}
	return nil
}

// ShareGradients makes Backward keep activation gradients in buffers
// shared between values whose gradients are never needed at the same
// time: a value's gradient lives from the backward pass of its last
// reader until that of its producer. Training then holds a fraction of
// the gradient memory (what PyTorch's autograd gets by freeing them). The
// gradients of activations are then gone after Backward (ValueGrad returns
// nil); parameter gradients are unaffected.
func (p *Program) ShareGradients(on bool) {
	if on == p.shareGrads {
		return
	}
	p.shareGrads, p.gradPlan = on, 0
	for _, s := range p.slots {
		if s.param == nil {
			s.grad = nil
		}
	}
}

// planSharedGrads assigns the activation gradient buffers for the current
// batch size. Backward step t runs node len(nodes)−1−t. A gradient is born
// at the first step that writes it (its last reader's, or before step 0
// for a graph output) and dies at its producer's step; a buffer goes to a
// new gradient only after its owner died at an earlier step, so a node
// never reads and writes the same buffer. Greedy best fit by size.
func (p *Program) planSharedGrads() {
	n := len(p.nodes)
	birth := make([]int, len(p.slots))
	death := make([]int, len(p.slots))
	for i := range p.slots {
		birth[i], death[i] = n, n // never written; live to the end
	}
	for _, o := range p.outs {
		birth[o] = -1
	}
	for ni, cn := range p.nodes {
		t := n - 1 - ni
		for _, i := range cn.in {
			if i >= 0 {
				birth[i] = min(birth[i], t)
			}
		}
		for _, o := range cn.out {
			if o >= 0 {
				death[o] = t
				birth[o] = min(birth[o], t) // read (as zero) by its producer
			}
		}
	}
	var order []int
	for i, s := range p.slots {
		if s.needGrad && s.param == nil {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return birth[a] - birth[b] })
	type buffer struct {
		data  []float32
		owner int // slot using it, -1 when free
	}
	var bufs []*buffer
	for _, i := range order {
		s := p.slots[i]
		size := 1
		for _, d := range s.shape {
			size *= d
		}
		var best *buffer
		for _, b := range bufs {
			if b.owner >= 0 && death[b.owner] < birth[i] {
				b.owner = -1
			}
			if b.owner < 0 && cap(b.data) >= size && (best == nil || cap(b.data) < cap(best.data)) {
				best = b
			}
		}
		if best == nil {
			best = &buffer{data: make([]float32, size)}
			bufs = append(bufs, best)
		}
		best.owner = i
		s.grad = &tensor.Tensor{Shape: slices.Clone(s.shape), Data: best.data[:size]}
	}
	p.gradPlan = p.batch
}

// noFreshGrads turns FreshGradWriter off (tests compare both ways).
var noFreshGrads bool

// poisonOutputs (tests only) makes Forward fill every output with a NaN
// before its op runs: an op that reads its output before writing it or
// leaves part of it unwritten, which a shared buffer's stale contents
// would break (planValues), then gives NaN where it gave numbers.
var poisonOutputs bool

// poison is the NaN poisonOutputs writes.
var poison = math.Float32frombits(0x7fc0dead)

// clearParallel zeroes a buffer, large ones on several cores.
func clearParallel(d []float32, threads int) {
	if len(d) < 1<<16 || threads <= 1 {
		clear(d)
		return
	}
	parallel.For(len(d), threads, func(lo, hi, _ int) { clear(d[lo:hi]) })
}

// Grad returns the gradient of the named param from the last Backward, or
// nil when the param is not trainable or unknown.
func (p *Program) Grad(param string) *tensor.Tensor {
	i, ok := p.byName[param]
	if !ok || p.slots[i].param == nil || !p.slots[i].needGrad {
		return nil
	}
	return p.slots[i].grad
}

// Shape returns the shape of a named value or param at the batch size of
// the last Forward (or compilation), or nil. Unlike Value it answers for
// values that an inference program keeps inside a blocked segment.
func (p *Program) Shape(name string) []int {
	i, ok := p.byName[name]
	if !ok {
		return nil
	}
	return p.slots[i].shape
}

// Value returns the current value of any named value or param (after a
// Forward), or nil. Criteria read activations through it. An inference
// program (CompileInference) answers only for its inputs, params and
// outputs (until the next Forward): its other values share buffers, which
// hold something else by the end of a pass (KeepValues keeps them), and
// values that live inside a blocked segment have no tensor at all.
func (p *Program) Value(name string) *tensor.Tensor {
	i, ok := p.byName[name]
	if !ok {
		return nil
	}
	if p.slots[p.root(i)].shared {
		return nil
	}
	return p.slots[i].value
}

// ValueGrad returns the gradient of a named activation from the last
// Backward, or nil (Taylor criteria read it).
func (p *Program) ValueGrad(name string) *tensor.Tensor {
	i, ok := p.byName[name]
	if !ok || !p.slots[i].needGrad || (p.shareGrads && p.slots[i].param == nil) {
		return nil
	}
	return p.slots[i].grad
}

// SetInputGrad asks Backward to also compute gradients for the graph
// inputs (off by default: nothing trains the input).
func (p *Program) SetInputGrad(on bool) {
	p.gradPlan = 0 // which gradients exist changes
	for _, i := range p.inputs {
		p.slots[i].needGrad = on
	}
	if on {
		for _, cn := range p.nodes {
			for _, o := range cn.out {
				if o >= 0 {
					p.slots[o].needGrad = true
				}
			}
		}
	} else {
		p.markNeedGrad()
	}
}
