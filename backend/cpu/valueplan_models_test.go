package cpu_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/testmodels"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// TestValuePlanZoo: every zoo model (BatchNorm folded, as exported for
// inference) gives the same bits with shared buffers as with a buffer per
// value, at batch 1, 5 and 1 again, on the NCHW path and with blocked
// segments forced on (their portable kernels where the machine lacks
// AVX-512), where it also matches the plain program within float rounding.
func TestValuePlanZoo(t *testing.T) {
	defer cpu.ForceBlocked(cpu.ForceBlocked(false))
	for _, blocked := range []bool{false, true} {
		cpu.ForceBlocked(blocked)
		for _, name := range zoo.Names() {
			g := foldedZoo(t, name)
			r := rand.New(rand.NewPCG(5, 6))
			p := cpu.CheckReuse(t, g, r, []int{1, 5, 1}, name != "lenet300" && !blocked)
			if !blocked {
				continue
			}
			if slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return n.Op == "Conv" }) && cpu.BlockedNodes(p) == 0 {
				t.Errorf("%s: blocked segments forced on, none built", name)
			}
			ref, err := cpu.Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			xs := graph.RandomInputs(g, 3, r)
			want, err := ref.Forward(false, xs...)
			if err != nil {
				t.Fatal(err)
			}
			want0 := want[0].Clone()
			got, err := p.Forward(false, xs...)
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.RelDiff(got[0], want0); d > 1e-5 {
				t.Errorf("%s: blocked with shared buffers: relative difference %.2g from the plain program", name, d)
			}
		}
	}
}

// TestValuePlanONNX: the torchvision and hand-built exports (.cache) and
// ONNX's backend test models that import and run on random inputs give
// the same bits with shared buffers as with a buffer per value (the
// shared program's outputs poisoned before each op writes them), the
// hand-built exports also with blocked segments forced on.
func TestValuePlanONNX(t *testing.T) {
	files := onnxModelFiles(t)
	defer cpu.ForceBlocked(cpu.ForceBlocked(false))
	checked, exports := 0, 0
	for _, f := range files {
		if testmodels.SkipSlow(strings.TrimSuffix(filepath.Base(f), ".onnx")) {
			continue
		}
		g, err := onnx.Load(f)
		if err != nil {
			continue // the onnx tests check the refusals
		}
		g.Name = f
		modes := []bool{false}
		if strings.Contains(f, "custom") {
			modes = append(modes, true)
		}
		for _, blocked := range modes {
			cpu.ForceBlocked(blocked)
			// Models whose inputs random floats do not fit (indices, a
			// fixed batch of its own) are left to the onnx tests.
			p, err := cpu.CompileInference(g)
			if err != nil {
				break
			}
			p.KeepValues(true)
			if _, err := p.Forward(false, graph.RandomInputs(g, 1, rand.New(rand.NewPCG(1, 2)))...); err != nil {
				break
			}
			cpu.CheckReuse(t, g, rand.New(rand.NewPCG(3, 4)), []int{1, 2}, false)
			checked++
			if !strings.HasPrefix(f, "/usr/share") {
				exports++
			}
		}
	}
	t.Logf("%d checks of %d files (%d of .cache exports)", checked, len(files), exports)
	if checked == 0 {
		t.Fatal("no ONNX file checked")
	}
}

// TestValuePlanDensenet121: densenet121's inference program at batch 64
// plans under 2 GB of activations (shape inference only; a buffer per
// value would be 11.5 GB), and ActivationBytes says so.
func TestValuePlanDensenet121(t *testing.T) {
	f := filepath.Join("..", ".cache", "torchvision", "densenet121.onnx")
	if _, err := os.Stat(f); err != nil {
		t.Skip("no .cache/torchvision/densenet121.onnx (scripts/export_torchvision.py)")
	}
	g, err := onnx.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cpu.CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := p.ActivationBytes(64)
	if err != nil {
		t.Fatal(err)
	}
	p.KeepValues(true)
	all, err := p.ActivationBytes(64)
	if err != nil {
		t.Fatal(err)
	}
	p.KeepValues(false)
	_, bound, err := cpu.PlanBounds(p, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch 64: %.3f GB planned, %.3f GB at least, %.2f GB with a buffer per value", float64(shared)/1e9, float64(bound)/1e9, float64(all)/1e9)
	if shared >= 2<<30 || shared*10 > all || float64(shared) > 1.1*float64(bound) {
		t.Errorf("batch 64: %d bytes planned, %d at least, %d with a buffer per value: want under 2 GiB, a tenth, and within 10%% of the bound", shared, bound, all)
	}
}

// onnxModelFiles lists the torchvision and hand-built exports (.cache;
// with -short only the hand-built ones) and ONNX's backend test models
// (libonnx-testdata), skipping t when there are none.
func onnxModelFiles(t *testing.T) []string {
	t.Helper()
	files := testmodels.ONNXFiles("../..", testing.Short())
	if len(files) == 0 {
		t.Skip("no ONNX models (.cache exports, libonnx-testdata)")
	}
	return files
}
