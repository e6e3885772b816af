package data

import (
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Loading MNIST takes a few hundred milliseconds; share it between tests.
var (
	mnistOnce  sync.Once
	mnistTrain *Dataset
	mnistTest  *Dataset
	mnistErr   error
)

func loadMNIST(t *testing.T) (train, test *Dataset) {
	t.Helper()
	mnistOnce.Do(func() {
		if mnistTrain, mnistErr = Load("mnist", "", Train); mnistErr != nil {
			return
		}
		mnistTest, mnistErr = Load("mnist", "", Test)
	})
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnistTrain, mnistTest
}

// The embedded files must be LeCun's originals; these are their published
// MD5 sums.
func TestEmbeddedMNISTChecksums(t *testing.T) {
	want := map[string]string{
		"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
		"train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
		"t10k-images-idx3-ubyte.gz":  "9fb629c4189551a2d022fa330f9573f3",
		"t10k-labels-idx1-ubyte.gz":  "ec29112dd5afa0611ce80d1b7f02629c",
	}
	for name, sum := range want {
		b, err := mnistFiles.ReadFile("mnist/" + name)
		if err != nil {
			t.Fatal(err)
		}
		h := md5.Sum(b)
		if got := hex.EncodeToString(h[:]); got != sum {
			t.Errorf("%s: md5 %s, want %s", name, got, sum)
		}
	}
}

// meanStd is computed in float64 so that 47 million additions stay exact
// enough for the comparison.
func meanStd(x []float32) (mean, std float64) {
	var s, ss float64
	for _, v := range x {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	n := float64(len(x))
	mean = s / n
	return mean, math.Sqrt(ss/n - mean*mean)
}

func checkMNISTShape(t *testing.T, ds *Dataset, n int, label0 uint8) {
	t.Helper()
	if ds.N != n || ds.C != 1 || ds.H != 28 || ds.W != 28 || ds.Classes != 10 {
		t.Fatalf("%s %v: shape %d×%d×%d×%d, %d classes", ds.Name, ds.Split, ds.N, ds.C, ds.H, ds.W, ds.Classes)
	}
	if len(ds.Pixels) != n*784 || ds.Images != nil || len(ds.Labels) != n {
		t.Fatalf("%s %v: %d raw pixels, %d float pixels, %d labels", ds.Name, ds.Split, len(ds.Pixels), len(ds.Images), len(ds.Labels))
	}
	if ds.Labels[0] != label0 {
		t.Errorf("%s %v: first label %d, want %d", ds.Name, ds.Split, ds.Labels[0], label0)
	}
	var counts [10]int
	for _, l := range ds.Labels {
		counts[l]++
	}
	for c, k := range counts {
		if k < n/20 {
			t.Errorf("%s %v: class %d has only %d images", ds.Name, ds.Split, c, k)
		}
	}
}

func TestMNISTEmbedded(t *testing.T) {
	t.Parallel() // the big loads overlap with TestFashionMNIST's
	train, test := loadMNIST(t)
	checkMNISTShape(t, train, 60000, 5)
	checkMNISTShape(t, test, 10000, 7)
	if train.Name != "mnist" || train.Split != Train || test.Split != Test {
		t.Errorf("got %s/%v and %s/%v", train.Name, train.Split, test.Name, test.Split)
	}
	// The normalisation constants are MNIST's training statistics, so the
	// normalised training pixels have mean ≈ 0 and std ≈ 1.
	m, s := meanStd(allImages(train))
	if math.Abs(m) > 0.005 || math.Abs(s-1) > 0.005 {
		t.Errorf("normalised train pixels: mean %.4f std %.4f, want ≈ 0 and 1", m, s)
	}
	// A raw 0 and a raw 255 must map to the documented values.
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range allImages(test) {
		lo, hi = min(lo, v), max(hi, v)
	}
	if want := float32(-0.1307 / 0.3081); math.Abs(float64(lo-want)) > 1e-5 || lo != test.BlackValue() {
		t.Errorf("min pixel %g, want %g = BlackValue %g", lo, want, test.BlackValue())
	}
	if want := float32((1 - 0.1307) / 0.3081); math.Abs(float64(hi-want)) > 1e-5 {
		t.Errorf("max pixel %g, want %g", hi, want)
	}
	// Image 0 of the training set is a 5 whose centre row is not all black.
	img := allImages(train.Limit(1))
	ink := 0
	for _, v := range img[14*28 : 15*28] {
		if v > 0 {
			ink++
		}
	}
	if ink == 0 {
		t.Error("train[0] has no ink on its centre row")
	}
}

// gunzipEmbedded writes an embedded MNIST file, decompressed, into dir.
func gunzipEmbedded(t *testing.T, dir, name string) {
	t.Helper()
	f, err := mnistFiles.Open("mnist/" + name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, z); err != nil {
		t.Fatal(err)
	}
}

// --data-dir overrides the embedded copy, and raw (un-gzipped) files work.
func TestMNISTFromDir(t *testing.T) {
	_, want := loadMNIST(t)
	dir := t.TempDir()
	gunzipEmbedded(t, dir, "t10k-images-idx3-ubyte")
	gunzipEmbedded(t, dir, "t10k-labels-idx1-ubyte")
	got, err := Load("MNIST", dir, Test)
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTShape(t, got, 10000, 7)
	gotImg, wantImg := allImages(got), allImages(want)
	for i := range gotImg {
		if gotImg[i] != wantImg[i] {
			t.Fatalf("pixel %d: %g from dir, %g embedded", i, gotImg[i], wantImg[i])
		}
	}
	// The train files are not in dir: a clear error, not the embedded copy.
	_, err = Load("mnist", dir, Train)
	if err == nil || !strings.Contains(err.Error(), "no data in "+dir) {
		t.Errorf("train split from a test-only dir: %v", err)
	}
}

// writeSet writes a small synthetic split (images n×h×w, labels m) to dir.
func writeSet(t *testing.T, dir string, split Split, n, h, w int, labels []byte, gzipped bool) {
	t.Helper()
	imgs, labs := fileNames(split)
	suffix := ""
	if gzipped {
		suffix = ".gz"
	}
	if err := WriteIDX(filepath.Join(dir, imgs[0]+suffix), &IDX{Dims: []int{n, h, w}, Data: seq(n * h * w)}); err != nil {
		t.Fatal(err)
	}
	if labels != nil {
		if err := WriteIDX(filepath.Join(dir, labs[0]+suffix), &IDX{Dims: []int{len(labels)}, Data: labels}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadSynthetic(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		dir := t.TempDir()
		writeSet(t, dir, Train, 3, 28, 28, []byte{1, 9, 0}, gzipped)
		ds, err := Load("fashion", dir, Train)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Name != "fashion-mnist" || ds.N != 3 || ds.Labels[1] != 9 || ds.ClassNames[9] != "Ankle boot" {
			t.Errorf("got %s N=%d labels %v", ds.Name, ds.N, ds.Labels)
		}
		raw := seq(3 * 784)
		for i, v := range allImages(ds) {
			want := (float32(raw[i])/255 - 0.2860) / 0.3530
			if v != want {
				t.Fatalf("pixel %d: %g, want %g", i, v, want)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"count-mismatch", func(t *testing.T, dir string) {
			writeSet(t, dir, Train, 3, 28, 28, []byte{1, 2}, true)
		}, []string{"has 3 images but", "has 2 labels"}},
		{"label-range", func(t *testing.T, dir string) {
			writeSet(t, dir, Train, 3, 28, 28, []byte{1, 10, 2}, false)
		}, []string{"train-labels-idx1-ubyte", "label 10 of item 1 is out of range"}},
		{"image-size", func(t *testing.T, dir string) {
			writeSet(t, dir, Train, 2, 32, 32, []byte{1, 2}, true)
		}, []string{"train-images-idx3-ubyte.gz", "images are 32×32, want 28×28"}},
		{"image-rank", func(t *testing.T, dir string) {
			writeFile(t, dir, "train-images-idx3-ubyte", idxBytes(8, []uint32{2, 784}, seq(2*784)))
			writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes(8, []uint32{2}, []byte{0, 1}))
		}, []string{"train-images-idx3-ubyte", "wrong rank 2 for images"}},
		{"label-rank", func(t *testing.T, dir string) {
			writeSet(t, dir, Train, 2, 28, 28, nil, false)
			writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes(8, []uint32{2, 1}, []byte{0, 1}))
		}, []string{"train-labels-idx1-ubyte", "wrong rank 2 for labels"}},
		{"labels-missing", func(t *testing.T, dir string) {
			writeSet(t, dir, Train, 2, 28, 28, nil, false)
		}, []string{"train-images-idx3-ubyte but no train-labels-idx1-ubyte[.gz]"}},
		{"truncated", func(t *testing.T, dir string) {
			writeSet(t, dir, Train, 2, 28, 28, []byte{0, 1}, false)
			writeFile(t, dir, "train-images-idx3-ubyte", idxBytes(8, []uint32{60000, 28, 28}, seq(1234)))
		}, []string{"train-images-idx3-ubyte: truncated: header says 60000×28×28 = 47040000 bytes, found 1234"}},
		{"empty-dir", func(t *testing.T, dir string) {}, []string{"mnist: no data in", "train-images-idx3-ubyte[.gz]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.setup(t, dir)
			_, err := Load("mnist", dir, Train)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q should contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "mnist: ") {
				t.Errorf("error %q should start with the data set name", err)
			}
		})
	}
}

func TestUnknownDataset(t *testing.T) {
	_, err := Load("cifar10", "", Train)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`"cifar10"`, "mnist", "fashion-mnist"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q should contain %q", err, w)
		}
	}
	for alias, want := range map[string]string{"fashion": "fashion-mnist", "Fashion-MNIST": "fashion-mnist", "mnist": "mnist"} {
		if got, err := Canonical(alias); err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v", alias, got, err)
		}
	}
}

// Not parallel: it changes a package variable that TestFashionMNIST reads.
func TestFashionMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	old := fashionDefaultDir
	fashionDefaultDir = missing
	defer func() { fashionDefaultDir = old }()

	_, err := Load("fashion-mnist", "", Train)
	want := "fashion-mnist: no data in " + missing + ": install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	// An explicit --data-dir that is empty says what files it wants.
	_, err = Load("fashion", t.TempDir(), Test)
	if err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte[.gz]") || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Errorf("explicit empty dir: %v", err)
	}
}

func TestFashionMNIST(t *testing.T) {
	t.Parallel()
	dir, _ := DefaultDir("fashion")
	if findFile(dir, "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte") == "" {
		t.Skipf("Fashion-MNIST is not installed in %s (apt-get install dataset-fashion-mnist)", dir)
	}
	test, err := Load("fashion", "", Test)
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTShape(t, test, 10000, 9)
	train, err := Load("fashion-mnist", "", Train)
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTShape(t, train, 60000, 9)
	m, s := meanStd(allImages(train))
	if math.Abs(m) > 0.005 || math.Abs(s-1) > 0.005 {
		t.Errorf("normalised train pixels: mean %.4f std %.4f, want ≈ 0 and 1", m, s)
	}
}

func TestLimit(t *testing.T) {
	train, _ := loadMNIST(t)
	sub := train.Limit(1000)
	if sub.N != 1000 || len(sub.Pixels) != 1000*784 || len(sub.Labels) != 1000 || sub.Labels[0] != 5 {
		t.Errorf("Limit(1000): N=%d, %d pixels, %d labels", sub.N, len(sub.Pixels), len(sub.Labels))
	}
	if &sub.Pixels[0] != &train.Pixels[0] {
		t.Error("Limit should share memory with the full set")
	}
	if train.N != 60000 {
		t.Error("Limit changed the original")
	}
	for _, n := range []int{0, -1, 60000, 1 << 20} {
		if train.Limit(n) != train {
			t.Errorf("Limit(%d) should return the set itself", n)
		}
	}
}

func TestFromBytesErrors(t *testing.T) {
	for _, c := range []struct {
		raw    []byte
		labels []uint8
		want   string
	}{
		{seq(8), []uint8{0, 1}, ""},
		{seq(7), []uint8{0, 1}, "need 8 bytes, have 7"},
		{seq(8), []uint8{0}, "2 images but 1 labels"},
		{seq(8), []uint8{0, 3}, "label 3 of image 1 is out of range"},
	} {
		_, err := FromBytes("toy", Train, c.raw, c.labels, 2, 1, 2, 2, 3, 0.5, 0.5)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// allImages decodes every image of ds, normalised, into one slice.
func allImages(ds *Dataset) []float32 {
	sz := ds.ImageSize()
	out := make([]float32, ds.N*sz)
	for i := 0; i < ds.N; i++ {
		ds.ImageInto(out[i*sz:(i+1)*sz], i)
	}
	return out
}

// Data sets built from floats (synthetic ones) slice and copy out like
// byte-backed ones.
func TestFloatImages(t *testing.T) {
	ds := &Dataset{Name: "floats", Images: []float32{1, 2, 3, 4, 5, 6}, Labels: []uint8{0, 1, 2}, N: 3, C: 1, H: 1, W: 2, Classes: 3}
	sub := ds.Slice(1, 3)
	got := allImages(sub)
	if sub.N != 2 || !slices.Equal(got, []float32{3, 4, 5, 6}) || !slices.Equal(sub.Labels, []uint8{1, 2}) {
		t.Errorf("Slice(1, 3): N=%d images %v labels %v", sub.N, got, sub.Labels)
	}
}
