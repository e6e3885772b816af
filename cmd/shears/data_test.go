package main

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/onnx"
)

// imageFolder writes an ImageFolder: for each split, ten classes c0…c9
// (lenet5's outputs) with n colour size×size PNGs each, brighter by class.
func imageFolder(t *testing.T, dir string, splits []string, n, size int) {
	for _, split := range splits {
		for ci := range 10 {
			class := fmt.Sprintf("c%d", ci)
			sub := filepath.Join(dir, split, class)
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				m := image.NewRGBA(image.Rect(0, 0, size, size))
				v := uint8(20 + 20*ci + i)
				for k := 0; k < len(m.Pix); k += 4 {
					m.Pix[k], m.Pix[k+1], m.Pix[k+2], m.Pix[k+3] = v, v/2, 255-v, 255
				}
				writePNG(t, filepath.Join(sub, fmt.Sprintf("%d.png", i)), m)
			}
		}
	}
}

// prune reads calibration images from a folder (skipping a broken file,
// counted on stderr) and from a .npy file, with a criterion that needs no
// labels and without a training set.
func TestPruneCalibPath(t *testing.T) {
	dir := t.TempDir()
	imgs := filepath.Join(dir, "imgs")
	os.Mkdir(imgs, 0o755)
	for i := range 3 {
		m := image.NewGray(image.Rect(0, 0, 28, 28))
		for k := range m.Pix {
			m.Pix[k] = uint8(k * (i + 1))
		}
		writePNG(t, filepath.Join(imgs, fmt.Sprintf("%d.png", i)), m)
	}
	os.WriteFile(filepath.Join(imgs, "bad.jpg"), []byte("not a jpeg"), 0o644)
	out := filepath.Join(dir, "p.onnx")
	_, stderr, code := shears(t, "prune", "lenet5", "--criterion", "apoz", "--ratio", "0.5", "--finetune-epochs", "0", "--latency-runs", "0",
		"--calib", imgs, "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("prune --calib folder: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 of 4 files: bad.jpg: ") {
		t.Errorf("stderr does not count the skipped file:\n%s", stderr)
	}
	if _, err := onnx.Load(out); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 4*28*28)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	npy := filepath.Join(dir, "c.npy")
	if err := data.WriteNPY(npy, x, 4, 1, 28, 28); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := shears(t, "prune", "lenet5", "--criterion", "mean-act", "--ratio", "0.5", "--finetune-epochs", "0", "--latency-runs", "0",
		"--calib", npy, "--calib-images", "2", "--out", out, "--quiet"); code != 0 {
		t.Fatalf("prune --calib .npy: exit %d\n%s", code, stderr)
	}
	// The same from a recipe: calib as a path.
	rec := filepath.Join(dir, "r.yaml")
	os.WriteFile(rec, []byte("model: lenet5\nmethod: {criterion: apoz}\ntarget: {ratio: 0.25}\nfinetune: {epochs: 0}\n"+
		"data: {calib: '"+npy+"'}\noutput: {out: '"+out+"', latency_runs: 0}\n"), 0o644)
	if _, stderr, code := shears(t, "prune", "--recipe", rec, "--quiet"); code != 0 {
		t.Fatalf("prune --recipe with data.calib PATH: exit %d\n%s", code, stderr)
	}
}

// train and eval read an ImageFolder (train and val) and CIFAR-10, the
// images converted to what lenet5 reads: grey, 28×28.
func TestTrainEvalImageData(t *testing.T) {
	dir := t.TempDir()
	imageFolder(t, dir, []string{"train", "val"}, 2, 32)
	out := filepath.Join(dir, "m.onnx")
	stdout, stderr, code := shears(t, "train", "--model", "lenet5", "--data", "imagefolder:"+dir, "--channels", "1", "--resize", "28",
		"--mean", "0.5", "--std", "0.25", "--epochs", "1", "--batch", "4", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("train on an image folder: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = shears(t, "eval", out, "--data", "imagefolder:"+dir, "--channels", "1", "--resize", "28", "--quiet")
	if code != 0 || !strings.Contains(stdout, "on 20 ") {
		t.Fatalf("eval on an image folder: exit %d\n%s%s", code, stdout, stderr)
	}
	cifar := filepath.Join(dir, "cifar")
	os.Mkdir(cifar, 0o755)
	rec := make([]byte, 0, 3*3073)
	for i := range 3 {
		rec = append(rec, byte(i))
		for k := range 3072 {
			rec = append(rec, byte(k*i))
		}
	}
	os.WriteFile(filepath.Join(cifar, "test_batch.bin"), rec, 0o644)
	stdout, stderr, code = shears(t, "eval", "lenet5", "--data", "cifar10:"+cifar, "--channels", "1", "--crop", "28", "--quiet")
	if code != 0 || !strings.Contains(stdout, "on 3 cifar10 test images") {
		t.Fatalf("eval on CIFAR-10: exit %d\n%s%s", code, stdout, stderr)
	}
}
