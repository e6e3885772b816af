package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/internal/testutil"
)

// TestResizeNodeTests runs ONNX's Resize and Upsample node tests, which
// TestConformance must count as refused: they feed scales and sizes as
// graph inputs, and shears needs them constant. Here each such input is
// turned into an initializer holding the test's data before import, so
// that the interpolation itself is checked against ONNX's reference
// outputs (every mode, rounding and coordinate transform shears has).
func TestResizeNodeTests(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(libonnxTestdata, "node", "test_*"))
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		b := filepath.Base(d)
		return !strings.HasPrefix(b, "test_resize_") && !strings.HasPrefix(b, "test_upsample_")
	})
	if len(dirs) == 0 {
		t.Skipf("skipping: no Resize node tests under %s (apt-get install libonnx-testdata)", libonnxTestdata)
	}
	ran := 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		mp, err := readModelProto(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		gp := mp.GetGraph()
		// Graph inputs after the first become initializers.
		var keep []*onnxpb.ValueInfoProto
		for k, vi := range gp.GetInput() {
			if k == 0 {
				keep = append(keep, vi)
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", "input_"+string(rune('0'+k))+".pb"))
			if err != nil {
				t.Fatal(err)
			}
			var tp onnxpb.TensorProto
			if err := proto.Unmarshal(b, &tp); err != nil {
				t.Fatal(err)
			}
			tp.Name = proto.String(vi.GetName())
			gp.Initializer = append(gp.Initializer, &tp)
		}
		gp.Input = keep
		b, err := proto.Marshal(mp)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Decode(b, name)
		if err != nil {
			if strings.Contains(err.Error(), "tf_crop_and_resize") {
				t.Logf("%s: refused: %v", name, err)
				continue
			}
			t.Errorf("%s: %v", name, err)
			continue
		}
		p, err := cpu.Compile(g)
		if err != nil {
			t.Errorf("%s: compile: %v", name, err)
			continue
		}
		x := readTensorFile(t, filepath.Join(dir, "test_data_set_0", "input_0.pb"))
		want := readTensorFile(t, filepath.Join(dir, "test_data_set_0", "output_0.pb"))
		outs, err := p.Forward(false, x)
		if err != nil {
			t.Errorf("%s: forward: %v", name, err)
			continue
		}
		if msg := testutil.MismatchTensors(outs[0], want, conformanceAtol, conformanceRtol); msg != "" {
			t.Errorf("%s: %s", name, msg)
			continue
		}
		ran++
	}
	t.Logf("%d of %d Resize/Upsample node tests pass with their shape inputs made constant", ran, len(dirs))
}
