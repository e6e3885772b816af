package data

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// encodePNG writes img as a PNG file under dir.
func encodePNG(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return writeIn(t, dir, name, b.Bytes())
}

// writeIn is writeFile creating dir first.
func writeIn(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b)
}

// greyImage is a w×h grey image whose pixel (x, y) is base + x + w·y.
func greyImage(w, h int, base uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = base + uint8(i)
	}
	return m
}

func TestDecodePixelFormats(t *testing.T) {
	dir := t.TempDir()
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1))
	rgba.Set(0, 0, color.RGBA{10, 20, 30, 255})
	rgba.Set(1, 0, color.NRGBA{200, 100, 50, 128}) // half transparent: over black
	g16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	g16.SetGray16(0, 0, color.Gray16{0x1234})
	g16.SetGray16(1, 0, color.Gray16{0xff00})
	greyPal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.Gray{7}, color.Gray{99}})
	greyPal.Pix = []uint8{1, 0}
	colPal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{4, 5, 6, 255}})
	colPal.Pix = []uint8{1, 0}
	for _, tc := range []struct {
		name string
		img  image.Image
		want planar
	}{
		{"grey.png", greyImage(2, 1, 5), planar{1, 1, 2, []uint8{5, 6}}},
		{"grey16.png", g16, planar{1, 1, 2, []uint8{0x12, 0xff}}},
		{"rgba.png", rgba, planar{3, 1, 2, []uint8{10, 100, 20, 50, 30, 25}}},
		{"greypal.png", greyPal, planar{1, 1, 2, []uint8{99, 7}}},
		{"colpal.png", colPal, planar{3, 1, 2, []uint8{4, 1, 5, 2, 6, 3}}},
	} {
		b, err := os.ReadFile(encodePNG(t, dir, tc.name, tc.img))
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeImage(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.c != tc.want.c || got.h != tc.want.h || got.w != tc.want.w {
			t.Fatalf("%s: %d×%d×%d, want %d×%d×%d", tc.name, got.c, got.h, got.w, tc.want.c, tc.want.h, tc.want.w)
		}
		for i := range got.pix { // the alpha-composited value may round either way
			if d := int(got.pix[i]) - int(tc.want.pix[i]); d < -1 || d > 1 {
				t.Errorf("%s: pixels %v, want %v", tc.name, got.pix, tc.want.pix)
				break
			}
		}
	}
	// A JPEG: lossy, so only the layout and rough values are checked.
	m := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = 200, 40, 40, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	got, err := decodeImage(b.Bytes())
	if err != nil || got.c != 3 || got.w != 16 || got.h != 16 {
		t.Fatalf("jpeg: %v %d×%d×%d", err, got.c, got.h, got.w)
	}
	if r, g := got.pix[0], got.pix[256]; r < 190 || g > 55 {
		t.Errorf("jpeg: pixel (R %d, G %d), want about (200, 40)", r, g)
	}
}

// resizeReference is resizeBilinear computed directly in two dimensions,
// each output pixel summing its whole input window with the triangle
// filter's weights.
func resizeReference(src []float64, h, w, oh, ow int) []float64 {
	weight := func(in, out, o, i int) float64 {
		scale := float64(in) / float64(out)
		support := math.Max(scale, 1)
		centre := (float64(o) + 0.5) * scale
		return math.Max(0, 1-math.Abs((float64(i)+0.5-centre)/support))
	}
	out := make([]float64, oh*ow)
	for y := range oh {
		for x := range ow {
			s, n := 0.0, 0.0
			for i := range h {
				for j := range w {
					wt := weight(h, oh, y, i) * weight(w, ow, x, j)
					s += wt * src[i*w+j]
					n += wt
				}
			}
			out[y*ow+x] = s / n
		}
	}
	return out
}

func TestResizeAgainstReference(t *testing.T) {
	// Known values: half-pixel-centred bilinear doubling, and a halving
	// that averages a triangle window (PIL's BILINEAR gives the same).
	up := resizeBilinear(planar{1, 1, 2, []uint8{0, 100}}, 4, 1)
	if !slices.Equal(up.pix, []uint8{0, 25, 75, 100}) {
		t.Errorf("upscale 2→4: %v, want [0 25 75 100]", up.pix)
	}
	down := resizeBilinear(planar{1, 1, 4, []uint8{0, 40, 80, 120}}, 2, 1)
	if !slices.Equal(down.pix, []uint8{29, 91}) {
		t.Errorf("downscale 4→2: %v, want [29 91]", down.pix)
	}
	for _, sz := range [][4]int{{5, 7, 3, 4}, {4, 4, 9, 6}, {8, 3, 5, 5}, {6, 6, 6, 2}} {
		h, w, oh, ow := sz[0], sz[1], sz[2], sz[3]
		src := make([]uint8, 2*h*w)
		f := make([]float64, len(src))
		for i := range src {
			src[i] = uint8((i*37 + 11) % 256)
			f[i] = float64(src[i])
		}
		got := resizeBilinear(planar{2, h, w, src}, ow, oh)
		for c := range 2 {
			want := resizeReference(f[c*h*w:(c+1)*h*w], h, w, oh, ow)
			for k, v := range want {
				if g := got.pix[c*oh*ow+k]; math.Abs(float64(g)-v) > 0.5+1e-9 {
					t.Fatalf("%dx%d→%dx%d channel %d pixel %d: %d, want %.3f", w, h, ow, oh, c, k, g, v)
				}
			}
		}
	}
}

func TestPreprocessResizeCrop(t *testing.T) {
	// 6 wide, 4 high: shorter side 2 makes it 3×2; a centre crop of 2×2
	// of the 6×4 original starts at (2, 1).
	pix := make([]uint8, 24)
	for i := range pix {
		pix[i] = uint8(i)
	}
	im := planar{1, 4, 6, pix}
	got, err := Preprocess{Resize: Size{Short: 2}}.apply(im)
	if err != nil || got.w != 3 || got.h != 2 {
		t.Fatalf("resize short 2: %dx%d, %v", got.w, got.h, err)
	}
	got, err = Preprocess{Crop: Size{W: 2, H: 2}}.apply(im)
	if err != nil || !slices.Equal(got.pix, []uint8{8, 9, 14, 15}) {
		t.Fatalf("crop: %v %v, want [8 9 14 15]", got.pix, err)
	}
	if _, err := (Preprocess{Crop: Size{W: 8, H: 8}}).apply(im); err == nil || !strings.Contains(err.Error(), "smaller than --crop") {
		t.Fatalf("crop larger than the image: %v", err)
	}
	rgb := planar{3, 1, 1, []uint8{100, 150, 200}}
	grey, _ := Preprocess{Channels: 1}.apply(rgb)
	if want := uint8((100*299 + 150*587 + 200*114 + 500) / 1000); !slices.Equal(grey.pix, []uint8{want}) {
		t.Errorf("rgb→grey: %v, want [%d]", grey.pix, want)
	}
	bgr, _ := Preprocess{BGR: true}.apply(planar{3, 1, 1, []uint8{1, 2, 3}})
	if !slices.Equal(bgr.pix, []uint8{3, 2, 1}) {
		t.Errorf("bgr: %v", bgr.pix)
	}
	for _, s := range []string{"0", "x", "3x", "-2", "2x0"} {
		if _, err := ParseSize(s, false); err == nil {
			t.Errorf("ParseSize(%q) accepted", s)
		}
	}
	if s, err := ParseSize("32x24", false); err != nil || s.W != 32 || s.H != 24 {
		t.Errorf("ParseSize 32x24: %v %v", s, err)
	}
	if _, err := LookupPreset("imagenet"); err != nil {
		t.Error(err)
	}
	if _, err := LookupPreset("coco"); err == nil || !strings.Contains(err.Error(), "imagenet") {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestPerChannelNormalization(t *testing.T) {
	ds := &Dataset{Name: "t", Pixels: []uint8{0, 255, 51, 102}, N: 1, C: 2, H: 1, W: 2}
	if err := ds.SetNormalization([]float32{0.5, 0.2}, []float32{0.5, 0.1}); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 4)
	ds.ImageInto(got, 0)
	want := []float32{-1, 1, 0, 2}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("ImageInto %v, want %v", got, want)
		}
	}
	if b := ds.BlackValues(); math.Abs(float64(b[0]+1)) > 1e-6 || math.Abs(float64(b[1]+2)) > 1e-6 {
		t.Errorf("BlackValues %v, want [-1 -2]", b)
	}
	if err := ds.SetNormalization([]float32{0, 0, 0}, []float32{1, 1, 1}); err == nil {
		t.Error("3 constants for 2 channels accepted")
	}
	if err := ds.SetNormalization([]float32{0}, []float32{0}); err == nil {
		t.Error("std 0 accepted")
	}
}

func TestLoadFolderClasses(t *testing.T) {
	dir := t.TempDir()
	for ci, class := range []string{"cat", "ant", "bee"} {
		sub := filepath.Join(dir, class, "nested")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for k := range 2 {
			encodePNG(t, sub, fmt.Sprintf("%d.png", k), greyImage(3, 2, uint8(10*ci+k)))
		}
	}
	writeFile(t, dir, "README.txt", []byte("not an image, at the top: ignored"))
	writeFile(t, filepath.Join(dir, "bee"), "broken.png", []byte("\x89PNG garbage"))
	writeFile(t, filepath.Join(dir, "bee"), "notes.txt", []byte("not an image extension: ignored"))
	var warnings []string
	ds, err := LoadFolder(dir, FolderOptions{Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.ClassNames, []string{"ant", "bee", "cat"}) || ds.Classes != 3 {
		t.Fatalf("classes %v", ds.ClassNames)
	}
	if ds.N != 6 || ds.C != 1 || ds.H != 2 || ds.W != 3 {
		t.Fatalf("shape %d×%d×%d×%d, want 6×1×2×3", ds.N, ds.C, ds.H, ds.W)
	}
	if !slices.Equal(ds.Labels, []uint8{0, 0, 1, 1, 2, 2}) {
		t.Errorf("labels %v", ds.Labels)
	}
	// ant is class 0 and was written with base 10 (its index in the list).
	if ds.Pixels[0] != 10 || ds.Pixels[6] != 11 {
		t.Errorf("first pixels %d, %d, want 10, 11", ds.Pixels[0], ds.Pixels[6])
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "skipped 1 of 7 files: "+filepath.Join("bee", "broken.png")) {
		t.Errorf("warnings %q", warnings)
	}
	picked, err := LoadFolder(dir, FolderOptions{Max: 3})
	if err != nil || !slices.Equal(picked.Labels, []uint8{0, 1, 2}) {
		t.Errorf("Max 3 picks labels %v (%v), want one of each class", picked.Labels, err)
	}
}

func TestLoadFolderFlatAndErrors(t *testing.T) {
	flat := t.TempDir()
	encodePNG(t, flat, "a.png", greyImage(4, 4, 0))
	rgb := image.NewRGBA(image.Rect(0, 0, 4, 4))
	encodePNG(t, flat, "b.PNG", rgb)
	var warnings []string
	ds, err := LoadFolder(flat, FolderOptions{Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Labelled() || ds.N != 2 || ds.C != 3 {
		t.Fatalf("flat: labelled %v, N %d, C %d; want unlabelled 2 colour images", ds.Labelled(), ds.N, ds.C)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "1 grey images among 1 colour") {
		t.Errorf("warnings %q", warnings)
	}
	l, err := NewLoader(ds, 2, false, Augment{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := l.Batch(0, 0); !slices.Equal(b.Labels, []int{-1, -1}) {
		t.Errorf("unlabelled batch labels %v, want -1s", b.Labels)
	}

	empty := t.TempDir()
	writeFile(t, empty, "x.txt", []byte("x"))
	if _, err := LoadFolder(empty, FolderOptions{}); err == nil || !strings.Contains(err.Error(), empty+": no image files") {
		t.Errorf("empty folder: %v", err)
	}
	broken := t.TempDir()
	writeFile(t, broken, "a.jpg", []byte("not a jpeg"))
	if _, err := LoadFolder(broken, FolderOptions{}); err == nil || !strings.Contains(err.Error(), broken+": none of its 1 image files could be read") {
		t.Errorf("all broken: %v", err)
	}
	sizes := t.TempDir()
	encodePNG(t, sizes, "a.png", greyImage(4, 4, 0))
	encodePNG(t, sizes, "b.png", greyImage(5, 4, 0))
	if _, err := LoadFolder(sizes, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "--resize") {
		t.Errorf("mixed sizes: %v", err)
	}
	ds, err = LoadFolder(sizes, FolderOptions{Preprocess: Preprocess{Resize: Size{W: 2, H: 2}}})
	if err != nil || ds.W != 2 || ds.H != 2 {
		t.Errorf("mixed sizes resized: %v", err)
	}
}

// cifarRecord is one CIFAR record: label bytes, then 3072 pixels of value
// fill.
func cifarRecord(labels []byte, fill byte) []byte {
	return append(append([]byte(nil), labels...), bytes.Repeat([]byte{fill}, 3072)...)
}

func TestLoadCIFAR(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cifar-10-batches-bin")
	for i := 1; i <= 5; i++ {
		writeIn(t, sub, fmt.Sprintf("data_batch_%d.bin", i), append(cifarRecord([]byte{byte(i)}, byte(i)), cifarRecord([]byte{9}, 0)...))
	}
	writeFile(t, sub, "test_batch.bin", cifarRecord([]byte{3}, 7))
	writeFile(t, sub, "batches.meta.txt", []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"))
	tr, err := LoadCIFAR("cifar10", dir, Train, false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 10 || tr.C != 3 || tr.H != 32 || tr.Classes != 10 || tr.Labels[2] != 2 || tr.Labels[3] != 9 || tr.ClassNames[3] != "cat" {
		t.Fatalf("cifar10 train: N %d C %d labels %v names %v", tr.N, tr.C, tr.Labels, tr.ClassNames)
	}
	img := make([]float32, tr.ImageSize())
	tr.ImageInto(img, 0)
	if want := (1.0/255 - 0.4822) / 0.2435; math.Abs(float64(img[1024])-want) > 1e-5 {
		t.Errorf("green channel normalised to %g, want %g", img[1024], want)
	}
	writeFile(t, sub, "test_batch.bin", cifarRecord([]byte{3}, 7)[:3000])
	if _, err := LoadCIFAR("cifar10", dir, Test, false); err == nil || !strings.Contains(err.Error(), "3073-byte records") {
		t.Errorf("truncated: %v", err)
	}
	writeFile(t, sub, "test_batch.bin", cifarRecord([]byte{12}, 7))
	if _, err := LoadCIFAR("cifar10", dir, Test, false); err == nil || !strings.Contains(err.Error(), "label 12") {
		t.Errorf("bad label: %v", err)
	}

	c100 := t.TempDir()
	writeFile(t, c100, "train.bin", append(cifarRecord([]byte{4, 44}, 1), cifarRecord([]byte{19, 99}, 2)...))
	fine, err := LoadCIFAR("cifar100", c100, Train, false)
	if err != nil || !slices.Equal(fine.Labels, []uint8{44, 99}) || fine.Classes != 100 {
		t.Fatalf("cifar100 fine: %v %v", fine, err)
	}
	coarse, err := LoadCIFAR("cifar100", c100, Train, true)
	if err != nil || !slices.Equal(coarse.Labels, []uint8{4, 19}) || coarse.Classes != 20 {
		t.Fatalf("cifar100 coarse: %v %v", coarse, err)
	}
	if _, err := LoadCIFAR("cifar100", c100, Test, false); err == nil || !strings.Contains(err.Error(), "no test.bin") {
		t.Errorf("missing test.bin: %v", err)
	}
	src, err := ParseSource("cifar100-coarse:"+c100, "")
	if err != nil || !src.Coarse || src.Kind != "cifar100" {
		t.Fatalf("ParseSource: %+v %v", src, err)
	}
	src.Preprocess = Preprocess{Channels: 1, Resize: Size{W: 8, H: 8}}
	small, err := src.Load(Train)
	if err != nil || small.C != 1 || small.H != 8 || small.ChannelMean == nil {
		t.Fatalf("preprocessed CIFAR: %+v %v", small, err)
	}
}

// npyFile builds a .npy file by hand: header dictionary and data.
func npyFile(header string, data []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	return append(append(b, header...), data...)
}

func TestNPY(t *testing.T) {
	dir := t.TempDir()
	x := []float32{1, -2, 3.5, 0, 1e-3, 7, 8, 9, 10, 11, 12, 13}
	p := filepath.Join(dir, "x.npy")
	if err := WriteNPY(p, x, 2, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	ds, err := ReadNPY(p)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 2 || ds.C != 1 || ds.H != 2 || ds.W != 3 || ds.Labelled() || !slices.Equal(ds.Images, x) {
		t.Fatalf("round trip: %+v", ds)
	}
	f64 := make([]byte, 0, 8*4)
	for _, v := range []float64{0.5, -1, 2, 3} {
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(v))
	}
	writeFile(t, dir, "f64.npy", npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2, 2), }\n", f64))
	if ds, err := ReadNPY(filepath.Join(dir, "f64.npy")); err != nil || !slices.Equal(ds.Images, []float32{0.5, -1, 2, 3}) {
		t.Errorf("float64: %v %v", ds, err)
	}
	writeFile(t, dir, "u8.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 2), }\n", []byte{0, 255}))
	u8, err := LoadCalibration(filepath.Join(dir, "u8.npy"), Preprocess{Mean: []float32{0.5}, Std: []float32{0.5}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 2)
	u8.ImageInto(got, 0)
	if got[0] != -1 || got[1] != 1 {
		t.Errorf("uint8 normalised to %v, want [-1 1]", got)
	}
	for _, tc := range []struct{ name, header, want string }{
		{"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1, 1, 2), }", "column-major (Fortran) order"},
		{"rank.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", "shape (2, 4), want 4 dimensions N×C×H×W"},
		{"trunc.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 1, 2), }", "truncated: shape (3, 1, 1, 2) of <f4 needs 24 bytes of data, have 8"},
		{"big.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1, 1, 2), }", "dtype \">f4\" not supported"},
		{"int.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1, 1, 1), }", "dtype \"<i8\" not supported"},
	} {
		p := writeFile(t, dir, tc.name, npyFile(tc.header, make([]byte, 8)))
		_, err := ReadNPY(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	writeFile(t, dir, "bad.npy", []byte("PK\x03\x04 a zip, not a npy"))
	if _, err := ReadNPY(filepath.Join(dir, "bad.npy")); err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Errorf("bad magic: %v", err)
	}
	if _, err := LoadCalibration(p, Preprocess{Crop: Size{W: 1, H: 1}}, 0, nil); err == nil || !strings.Contains(err.Error(), "used as it is") {
		t.Errorf("--crop on a .npy: %v", err)
	}
	if _, err := LoadCalibration(writeFile(t, dir, "x.txt", []byte("x")), Preprocess{}, 0, nil); err == nil || !strings.Contains(err.Error(), "want a folder of PNG/JPEG images or a .npy file") {
		t.Errorf("text file: %v", err)
	}
	if sp := ds.Spread(1); sp.N != 1 {
		t.Errorf("Spread(1): N %d", sp.N)
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct{ name, dir, want string }{
		{"mnist", "", "mnist"},
		{"fashion", "/d", "fashion-mnist:/d"},
		{"imagefolder:/x", "", "imagefolder:/x"},
		{"cifar10:/x", "/x/", "cifar10:/x"},
	} {
		s, err := ParseSource(tc.name, tc.dir)
		if err != nil || s.String() != tc.want {
			t.Errorf("ParseSource(%q, %q) = %v, %v; want %s", tc.name, tc.dir, s, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"cifar10", "", "needs its folder"},
		{"imagefolder:", "", "no folder after the colon"},
		{"cifar10:/a", "/b", "two folders"},
		{"coco:/x", "", "valid names are"},
	} {
		if _, err := ParseSource(tc.name, tc.dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSource(%q, %q): %v, want %q", tc.name, tc.dir, err, tc.want)
		}
	}
}

func TestLoadFolderSplit(t *testing.T) {
	dir := t.TempDir()
	for _, split := range []string{"train", "val"} {
		for _, class := range []string{"a", "b"} {
			encodePNG(t, filepath.Join(dir, split, class), "0.png", greyImage(2, 2, 0))
		}
	}
	src := Source{Kind: "imagefolder", Dir: dir}
	te, err := src.Load(Test)
	if err != nil || te.N != 2 || te.Classes != 2 || te.Split != Test {
		t.Fatalf("val split: %v %v", te, err)
	}
	encodePNG(t, filepath.Join(dir, "val", "c"), "0.png", greyImage(2, 2, 0))
	if _, err := src.Load(Test); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("class mismatch: %v", err)
	}
	if _, err := (Source{Kind: "imagefolder", Dir: t.TempDir()}).Load(Train); err == nil || !strings.Contains(err.Error(), "no train subfolder") {
		t.Errorf("no train: %v", err)
	}
}
