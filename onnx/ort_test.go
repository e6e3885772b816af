//go:build cgo

package onnx

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/internal/testmodels"
	"github.com/shearsml/shears/internal/testutil"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

// needORT skips the test when ONNX Runtime is not installed.
func needORT(t *testing.T) {
	t.Helper()
	if err := ortref.Init(); err != nil {
		if errors.Is(err, ortref.ErrNoLibrary) {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
}

// torchvisionReport is where TestTorchvisionORT writes a Markdown table:
//
//	SHEARS_TORCHVISION=all go test -run TestTorchvisionORT ./onnx/ -args -tvreport torchvision.md
var torchvisionReport = flag.String("tvreport", "", "TestTorchvisionORT: write a Markdown table of the models to this file")

// TestTorchvisionORT imports torchvision models exported to ONNX by
// scripts/export_torchvision.py, runs them in shears and in ONNX Runtime
// on the same random input (batch 1) and compares the outputs: max abs
// difference / max abs value ≤ 1e-4. It also checks that the imported
// graph still takes any batch size.
func TestTorchvisionORT(t *testing.T) {
	if testing.Short() {
		t.Skip("the torchvision and hand-built exports against ONNX Runtime take minutes: -short")
	}
	files, dirs := testmodels.Torchvision("..")
	if len(files) == 0 {
		t.Skipf("skipping: no models in %s; export them with /usr/bin/python3 scripts/export_torchvision.py", dirs)
	}
	needORT(t)
	sort.Strings(files)
	var report []string
	defer func() {
		if *torchvisionReport != "" && len(report) > 0 {
			head := "| model | export | ONNX nodes | after import | max rel. diff vs ORT |\n| --- | --- | ---: | ---: | ---: |\n"
			if err := os.WriteFile(*torchvisionReport, []byte(head+strings.Join(report, "")), 0o644); err != nil {
				t.Error(err)
			}
		}
	}()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		t.Run(name, func(t *testing.T) {
			if testmodels.SkipSlow(name) {
				t.Skip("slow; SHEARS_TORCHVISION=all runs it")
			}
			start := time.Now()
			g, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			tLoad := time.Since(start)
			p, err := cpu.Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			p.Threads = 2
			shape := append([]int(nil), g.Inputs[0].Shape...)
			shape[0] = 1
			x := testutil.NormalTensor(testutil.NewRand(1, 7), shape...)
			t0 := time.Now()
			got, err := p.Forward(false, x)
			if err != nil {
				t.Fatal(err)
			}
			tRun := time.Since(t0)
			// The inference-only program (activations and residual Adds
			// fused into the ops before them, convolutions on the blocked
			// layout where the machine has its kernels) must agree with the
			// plain one up to float rounding, and with ORT (below).
			fp, err := cpu.CompileInference(g)
			if err != nil {
				t.Fatal(err)
			}
			fp.Threads = 2
			fgot, err := fp.Forward(false, x)
			if err != nil {
				t.Fatal(err)
			}
			for k := range got {
				if d := tensor.RelDiff(fgot[k], got[k]); d > 1e-4 {
					t.Fatalf("output %d: relative difference %.2g between the inference program and the plain one", k, d)
				}
			}
			// The batch must stay dynamic: folding must not have baked in
			// batch 1 (unless the file fixes it: the transformers).
			if g.Inputs[0].Shape[0] > 0 {
				// exported at a fixed batch
			} else if shapes, err := p.InferShapes(3); err != nil {
				t.Errorf("batch 3: %v", err)
			} else if o := shapes[g.Outputs[0].Name]; len(o) == 0 || o[0] != 3 {
				t.Errorf("batch 3: output shape %v", o)
			}
			t0 = time.Now()
			s, err := ortref.OpenFile(f, ortref.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			errs := matchORT(t, s, x, got)
			tORT := time.Since(t0)
			matchORT(t, s, x, fgot)
			for k, e := range errs {
				t.Logf("%d nodes, relative error %.2g; load %.2fs, shears forward %.2fs, ORT load+run %.2fs", len(g.Nodes), e, tLoad.Seconds(), tRun.Seconds(), tORT.Seconds())
				if *torchvisionReport != "" && k == 0 {
					m, err := readModelProto(f)
					if err != nil {
						t.Fatal(err)
					}
					arch, variant := name, "eval (BN folded by PyTorch)"
					base := strings.TrimSuffix(name, "_bn")
					if _, err := os.Stat(filepath.Join(filepath.Dir(f), base+".onnx")); err == nil && base != name {
						arch, variant = base, "BatchNorm kept (PRESERVE)"
					}
					report = append(report, fmt.Sprintf("| %s | %s | %d | %d | %.1e |\n", arch, variant, len(m.GetGraph().GetNode()), len(g.Nodes), e))
				}
			}
			runtime.GC()
		})
	}
}

// matchORT runs x through the ORT session and checks that every output
// equals shears' within 1e-4 relative; it returns each output's error.
func matchORT(t *testing.T, s *ortref.Session, x *tensor.Tensor, got []*tensor.Tensor) []float64 {
	t.Helper()
	want, err := s.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]float64, len(want))
	for k := range want {
		if !tensor.SameShape(got[k].Shape, want[k].Shape) {
			t.Fatalf("output %d: shape %s, ORT gives %s", k, tensor.ShapeString(got[k].Shape), tensor.ShapeString(want[k].Shape))
		}
		e := tensor.RelDiff(got[k], want[k])
		if e > 1e-4 {
			t.Errorf("output %d: relative error %.2g > 1e-4", k, e)
		}
		errs[k] = e
	}
	return errs
}

// perturbBN gives BatchNorm statistics and affine params non-trivial
// values (fresh models have mean 0, variance 1, scale 1, shift 0, which
// would hide a wrong BN in the export or the folding).
func perturbBN(g *graph.Graph, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 3))
	params := g.ParamMap()
	for _, n := range g.Nodes {
		if n.Op != "BatchNormalization" {
			continue
		}
		for i, in := range n.Inputs[1:5] {
			p := params[in]
			for k := range p.Value.Data {
				switch i {
				case 0, 3: // scale, variance
					p.Value.Data[k] = 0.5 + r.Float32()
				default: // shift, mean
					p.Value.Data[k] = 0.2 * float32(r.NormFloat64())
				}
			}
		}
	}
}

// TestZooORT exports every zoo model (random weights, perturbed BatchNorm)
// and checks that ONNX Runtime computes what shears does at batch 2, as
// exported and with BatchNorm folded into the convolutions.
func TestZooORT(t *testing.T) {
	needORT(t)
	for _, name := range zoo.Names() {
		for _, fold := range []bool{false, true} {
			label := name
			if fold {
				label += "/fold-bn"
			}
			t.Run(label, func(t *testing.T) {
				m, _ := zoo.Get(name)
				g := m.Build(1)
				perturbBN(g, 2)
				if fold {
					var err error
					if g, _, err = graph.FoldBatchNorm(g); err != nil {
						t.Fatal(err)
					}
				}
				b, err := Encode(g)
				if err != nil {
					t.Fatal(err)
				}
				p, err := cpu.Compile(g)
				if err != nil {
					t.Fatal(err)
				}
				shape := append([]int(nil), g.Inputs[0].Shape...)
				shape[0] = 2
				x := testutil.NormalTensor(testutil.NewRand(4, 7), shape...)
				got, err := p.Forward(false, x)
				if err != nil {
					t.Fatal(err)
				}
				s, err := ortref.Open(b, ortref.Options{Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				matchORT(t, s, x, got)
			})
		}
	}
}
