//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/prune/recipe"
	"github.com/shearsml/shears/tensor"
)

// tolerance is issue 13's bar: 1e-4 relative (max abs difference / max abs
// value) on every output that is not ~0.
const tolerance = 1e-4

// zeroOutput is the max abs value below which an output counts as ~0 and
// is left out of the comparison (a relative error of a ~0 output is noise).
const zeroOutput = 1e-6

// pruneRatio is the fraction of the channels of every group that the
// survey removes (l1 criterion, filter granularity, one shot).
const pruneRatio = 0.3

// stage is one step of the survey of one model.
type stage struct {
	Name   string
	Status string // ok, FAIL, skip, or a short result ("12 groups")
	Err    string // the first error, verbatim
}

// result is everything the survey learnt about one model.
type result struct {
	Model     model
	Info      fileInfo
	FileBytes int64
	Bound     bool // the survey wrote the tsv's input shapes into the file before importing
	Params    int
	MACs      int
	SlimP     int
	SlimM     int
	SlimBytes int
	Stages    []stage
	Groups    []string // prune.Group strings, for the details
	Refused   []string // prune.Reason strings
	Notes     []string

	// For -latency: the models and inputs, where ORT ran them.
	timed          *timedModels
	Dense, SlimLat timing
}

// timedModels are the graphs and ONNX bytes that -latency times.
type timedModels struct {
	xs                  []*tensor.Tensor
	dense, slim         *graph.Graph
	denseONNX, slimONNX []byte
}

func (r *result) add(name, status string, err error) {
	s := stage{Name: name, Status: status}
	if err != nil {
		s.Err = oneLine(err.Error())
	}
	r.Stages = append(r.Stages, s)
}

// firstError is the first stage error; where the survey bound the input
// shapes and the import then worked, the first error after the import
// (the table's import cell and the details say why it bound them).
func (r *result) firstError() (string, string) {
	for _, s := range r.Stages {
		if s.Err != "" && !(r.Bound && s.Name == "import") {
			return s.Name, s.Err
		}
	}
	return "", ""
}

func (r *result) status(name string) string {
	for _, s := range r.Stages {
		if s.Name == name {
			return s.Status
		}
	}
	return "–"
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return s
}

// guard runs f and turns a panic into an error carrying the panic value
// and the innermost shears frame, so that one model's panic (itself a
// finding: bad input must never panic) does not end the survey.
func guard(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			frame := ""
			for _, l := range strings.Split(string(debug.Stack()), "\n") {
				l = strings.TrimSpace(l)
				if strings.Contains(l, "shearsml/shears/") && !strings.Contains(l, "modelsurvey") && !strings.Contains(l, "/ortref") && strings.Contains(l, ".go:") {
					frame = l
					break
				}
			}
			err = fmt.Errorf("panic: %v (at %s)", v, frame)
		}
	}()
	return f()
}

// survey runs every stage on one model; a stage that fails skips the
// stages that need it.
func survey(m model, path string, threads int) *result {
	r := &result{Model: m}
	mp, raw, err := readProto(path)
	if err != nil {
		r.add("import", "FAIL", err)
		return r
	}
	r.FileBytes = int64(len(raw))
	r.Info = inspect(mp)

	// Import as shipped; where that fails and models.tsv gives shapes for
	// symbolic dims, import again with the shapes written into the file,
	// as a user without --input-shape would have to, so that the survey
	// sees what fails after item 3 is fixed.
	var g *graph.Graph
	err = guard(func() (err error) { g, err = loadOptions.Load(path); return })
	model := raw
	if err != nil {
		r.add("import", "FAIL", err)
		if len(m.Shapes) == 0 {
			return r
		}
		var berr error
		model, berr = bindShapes(mp, m.Shapes)
		if berr == nil {
			berr = guard(func() (err error) { g, err = loadOptions.Decode(model, m.Name); return })
		}
		if berr != nil {
			r.add("import, dims bound", "FAIL", berr)
			return r
		}
		r.Bound = true
		r.add("import, dims bound", "ok", nil)
	} else {
		r.add("import", "ok", nil)
	}

	xs, err := inputs(g, m.Shapes)
	if err != nil {
		r.add("run", "FAIL", err)
		return r
	}
	var dense []*tensor.Tensor
	err = guard(func() (err error) {
		if _, st, err := graph.Stats(g); err != nil {
			return err
		} else {
			r.Params, r.MACs = st.Params, st.MACs
		}
		dense, err = forward(g, threads, xs)
		return err
	})
	if err != nil {
		r.add("run", "FAIL", err)
		return r
	}
	r.add("run", "ok", nil)

	var ortOut []*tensor.Tensor
	err = guard(func() (err error) { ortOut, err = runORT(model, threads, xs); return })
	if err == nil {
		r.timed = &timedModels{xs: xs, dense: g, denseONNX: model}
	}
	if err != nil {
		r.add("= ORT", "FAIL", fmt.Errorf("ONNX Runtime: %w", err))
	} else if worst, which, err := compare(dense, ortOut); err != nil {
		r.add("= ORT", "FAIL", err)
	} else if worst > tolerance {
		r.add("= ORT", fmt.Sprintf("FAIL %.1e", worst), fmt.Errorf("output %d: relative difference %.2g to ONNX Runtime > %g", which, worst, tolerance))
		var where string
		if err := guard(func() (err error) { where, err = bisect(model, threads, xs); return }); err != nil {
			where = "not bisected: " + err.Error()
		}
		r.Notes = append(r.Notes, "where shears and ORT part: "+where)
	} else {
		r.add("= ORT", fmt.Sprintf("%.0e", worst), nil)
	}

	var d *prune.DepGraph
	err = guard(func() (err error) { d, err = prune.Analyze(g); return })
	if err != nil {
		r.add("analyze", "FAIL", err)
		return r
	}
	prunable, refused := 0, 0
	for _, grp := range d.Groups() {
		prunable += grp.Channels
		r.Groups = append(r.Groups, oneLine(grp.String()))
	}
	for _, why := range d.Unprunable() {
		refused += why.Channels
		r.Refused = append(r.Refused, oneLine(why.String()))
	}
	r.add("analyze", fmt.Sprintf("%d groups, %d/%d ch.", len(d.Groups()), prunable, prunable+refused), nil)
	if len(d.Groups()) == 0 {
		r.add("prune", "FAIL", errors.New("no prunable group: "+firstRefusal(d)))
		return r
	}

	// Prune as `shears prune MODEL --criterion l1 --granularity filter
	// --ratio 0.3 --finetune-epochs 0` does.
	var rep *recipe.Report
	err = guard(func() (err error) {
		rc := recipe.Default()
		rc.Model, rc.Target.Ratio, rc.Finetune.Epochs, rc.Output.LatencyRuns = m.Name, pruneRatio, 0, -1
		// Run validates that the recipe names an output but writes
		// nothing: the survey keeps both models in memory.
		rc.Output.Out = m.Name + "-slim.onnx"
		rep, err = recipe.Run(context.Background(), rc, recipe.Env{Model: g.Clone(), Threads: threads})
		return err
	})
	if err != nil {
		r.add("prune", "FAIL", err)
		return r
	}
	if rep.Slim == nil || rep.Masked == nil {
		r.add("prune", "FAIL", errors.New("prune gave no slimmed or no masked model"))
		return r
	}
	r.add("prune", fmt.Sprintf("%.0f%% ch.", 100*rep.Achieved), nil)

	var slim, masked []*tensor.Tensor
	err = guard(func() (err error) {
		if _, st, err := graph.Stats(rep.Slim); err != nil {
			return err
		} else {
			r.SlimP, r.SlimM = st.Params, st.MACs
		}
		if masked, err = forward(rep.Masked, threads, xs); err != nil {
			return fmt.Errorf("masked model: %w", err)
		}
		if slim, err = forward(rep.Slim, threads, xs); err != nil {
			return fmt.Errorf("slimmed model: %w", err)
		}
		return nil
	})
	if err != nil {
		r.add("slim = masked", "FAIL", err)
		return r
	}
	if worst, which, err := compare(slim, masked); err != nil {
		r.add("slim = masked", "FAIL", err)
		return r
	} else if worst > tolerance {
		r.add("slim = masked", fmt.Sprintf("FAIL %.1e", worst), fmt.Errorf("output %d: slimmed and masked differ by %.2g relative", which, worst))
		return r
	} else {
		// A mask that changes nothing would make this check vacuous: the
		// cell says how far masking moved the outputs from the dense ones.
		moved, _, _ := compare(masked, dense)
		r.add("slim = masked", fmt.Sprintf("%.0e (dense %.0e)", worst, moved), nil)
	}

	// The same check in ONNX Runtime, on the files shears writes.
	err = guard(func() error {
		sb, err := onnx.Encode(rep.Slim)
		if err != nil {
			return fmt.Errorf("encoding the slimmed model: %w", err)
		}
		r.SlimBytes = len(sb)
		mb, err := onnx.Encode(rep.Masked)
		if err != nil {
			return fmt.Errorf("encoding the masked model: %w", err)
		}
		ys, err := runORT(sb, threads, xs)
		if err != nil {
			return fmt.Errorf("ONNX Runtime, slimmed model: %w", err)
		}
		ym, err := runORT(mb, threads, xs)
		if err != nil {
			return fmt.Errorf("ONNX Runtime, masked model: %w", err)
		}
		worst, which, err := compare(ys, ym)
		if err != nil {
			return err
		}
		if worst > tolerance {
			return fmt.Errorf("output %d: in ONNX Runtime slimmed and masked differ by %.2g relative", which, worst)
		}
		worstS, whichS, err := compare(ys, slim)
		if err != nil {
			return err
		}
		if worstS > tolerance {
			return fmt.Errorf("output %d: the slimmed model differs by %.2g relative between shears and ONNX Runtime", whichS, worstS)
		}
		if r.timed != nil {
			r.timed.slim, r.timed.slimONNX = rep.Slim, sb
		}
		r.Notes = append(r.Notes, fmt.Sprintf("ORT: slimmed vs masked %.1e, slimmed shears vs ORT %.1e", worst, worstS))
		return nil
	})
	if err != nil {
		r.add("slim = masked in ORT", "FAIL", err)
		return r
	}
	r.add("slim = masked in ORT", "ok", nil)
	return r
}

func firstRefusal(d *prune.DepGraph) string {
	for _, why := range d.Unprunable() {
		if !strings.Contains(why.Why, "graph output") && !strings.Contains(why.Why, "graph input") {
			return oneLine(why.String())
		}
	}
	if u := d.Unprunable(); len(u) > 0 {
		return oneLine(u[0].String())
	}
	return "no layer"
}

// bindShapes writes the given shapes into the graph inputs of a copy of
// the model: the survey's stand-in for a binding API.
func bindShapes(m *onnxpb.ModelProto, shapes map[string][]int) ([]byte, error) {
	m = proto.Clone(m).(*onnxpb.ModelProto)
	seen := map[string]bool{}
	for _, vi := range m.GetGraph().GetInput() {
		shape, ok := shapes[vi.GetName()]
		if !ok {
			continue
		}
		seen[vi.GetName()] = true
		tt := vi.GetType().GetTensorType()
		if tt == nil || tt.GetShape() == nil || len(tt.GetShape().GetDim()) != len(shape) {
			return nil, fmt.Errorf("models.tsv: input %q: shape %v does not match the file's rank", vi.GetName(), shape)
		}
		for i, d := range tt.GetShape().GetDim() {
			d.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(shape[i])}
			d.Denotation = nil
		}
	}
	for name := range shapes {
		if !seen[name] {
			return nil, fmt.Errorf("models.tsv: %q is not an input of the model", name)
		}
	}
	return proto.Marshal(m)
}

// inputs makes one random normal tensor per graph input: the tsv's shape
// where it gives one, else the imported shape with the batch set to 1.
func inputs(g *graph.Graph, shapes map[string][]int) ([]*tensor.Tensor, error) {
	r := testutil.NewRand(13, 1)
	var xs []*tensor.Tensor
	for _, in := range g.Inputs {
		shape := append([]int(nil), in.Shape...)
		if s, ok := shapes[in.Name]; ok {
			shape = append([]int(nil), s...)
		}
		for i, d := range shape {
			if d <= 0 {
				if i != 0 {
					return nil, fmt.Errorf("input %q: dim %d of %v unknown and not bound in models.tsv", in.Name, i, in.Shape)
				}
				shape[i] = 1
			}
		}
		xs = append(xs, testutil.NormalTensor(r, shape...))
	}
	return xs, nil
}

func forward(g *graph.Graph, threads int, xs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	p, err := cpu.Compile(g)
	if err != nil {
		return nil, err
	}
	p.Threads = threads
	return p.Forward(false, xs...)
}

func runORT(model []byte, threads int, xs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	s, err := ortref.Open(model, ortref.Options{Threads: threads})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(xs...)
}

// compare returns the worst relative difference over the outputs that are
// not ~0 in want, and which output it is.
func compare(got, want []*tensor.Tensor) (float64, int, error) {
	if len(got) != len(want) {
		return 0, 0, fmt.Errorf("%d outputs, the reference has %d", len(got), len(want))
	}
	worst, which := 0.0, -1
	for k := range got {
		if !tensor.SameShape(got[k].Shape, want[k].Shape) {
			return 0, k, fmt.Errorf("output %d: shape %s, the reference has %s", k, tensor.ShapeString(got[k].Shape), tensor.ShapeString(want[k].Shape))
		}
		peak := 0.0
		for _, v := range want[k].Data {
			peak = math.Max(peak, math.Abs(float64(v)))
		}
		if peak < zeroOutput {
			continue
		}
		if d := tensor.RelDiff(got[k], want[k]); d > worst || math.IsNaN(d) {
			worst, which = d, k
		}
	}
	return worst, which, nil
}
