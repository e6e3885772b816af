package recipe

import (
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/zoo"
)

func TestDataCalibCountOrPath(t *testing.T) {
	const head = "model: lenet5\noutput: {out: x.onnx}\ndata:\n"
	for _, tc := range []struct {
		yaml  string
		count int
		path  string
	}{
		{head + "  name: mnist\n", 256, ""},
		{head + "  calib: 64\n", 64, ""},
		{head + "  calib: imgs/\n", 256, "imgs/"},
		{head + "  calib: \"128\"\n", 256, "128"},
		{head + "  calib: c.npy\n  calib_images: 32\n", 32, "c.npy"},
		{head + "  calib_images: 16\n", 16, ""},
		{head, 256, ""},
	} {
		r, err := Parse([]byte(tc.yaml), "r.yaml")
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if r.Data.Calib != tc.count || r.Data.CalibPath != tc.path {
			t.Errorf("%q: calib %d, path %q; want %d, %q", tc.yaml, r.Data.Calib, r.Data.CalibPath, tc.count, tc.path)
		}
	}
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{head + "  name: mnist\n  calibb: 3\n", []string{"line 5", `unknown key "calibb"`}},
		{head + "  calib: 0\n", []string{"line 4", "data.calib", "≥ 1"}},
		{head + "  calib: 8\n  calib_images: 8\n", []string{"line 4", "give one"}},
		{head + "  calib: [1, 2]\n", []string{"line 4", "a count of images or a path"}},
		{head + "  limit: many\n", []string{"line 4", "cannot unmarshal"}},
		{head + "  - mnist\n", []string{"line 4", "want a mapping"}},
		{head + "  resize: 0x4\n", []string{"line 4", "data.resize", "bad size"}},
		{head + "  crop: big\n", []string{"line 4", "data.crop"}},
		{head + "  preprocess: coco\n", []string{"line 4", "data.preprocess", "imagenet"}},
		{head + "  mean: [0.5, 0.5]\n  std: [0.2]\n", []string{"line 5", "data.std", "2"}},
		{head + "  std: [0]\n", []string{"data.std", "positive"}},
		{head + "  channel_order: gbr\n", []string{"data.channel_order"}},
		{head + "  channels: 2\n", []string{"data.channels"}},
		{head + "  name: cifar10\n", []string{"data.name", "cifar10:DIR"}},
	} {
		_, err := Parse([]byte(tc.yaml), "r.yaml")
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v, want %q", tc.yaml, err, w)
			}
		}
	}
	p, err := DataSpec{Preprocess: "imagenet", Crop: "200", Mean: []float64{0.5}, Std: []float64{0.25}, ChannelOrder: "bgr"}.Preprocessing()
	if err != nil || p.Resize.Short != 256 || p.Crop.W != 200 || len(p.Mean) != 1 || !p.BGR {
		t.Errorf("preset with overrides: %+v %v", p, err)
	}
}

// A criterion that needs labels refuses unlabelled calibration images,
// naming itself; one that needs none runs on them without a training set.
func TestCalibrationFolderLabels(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		m := image.NewGray(image.Rect(0, 0, 28, 28))
		for k := range m.Pix {
			m.Pix[k] = uint8(k*i + 3)
		}
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, m); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	r := Default()
	r.Model, r.Output.Out, r.Target.Ratio, r.Finetune.Epochs, r.Output.LatencyRuns = "lenet5", "x.onnx", 0.5, 0, 0
	r.Data.CalibPath = dir
	calib, err := LoadCalibration(r.Data, nil)
	if err != nil || calib.N != 4 || calib.Labelled() {
		t.Fatalf("calibration folder: %v %v", calib, err)
	}
	build := func() Env {
		return Env{Model: zoo.LeNet5(1), Calib: calib}
	}
	r.Method.Criterion = "taylor"
	_, err = Run(context.Background(), r, build())
	var de *DataError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "criterion taylor needs labelled images") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("taylor on unlabelled images: %v", err)
	}
	r.Method.Criterion = "apoz"
	rep, err := Run(context.Background(), r, build())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Achieved <= 0 {
		t.Errorf("apoz on a calibration folder pruned nothing (achieved %g)", rep.Achieved)
	}
}
