package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Split selects the training or the test part of a data set.
type Split int

const (
	Train Split = iota
	Test
)

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// Dataset is an image set held in memory, N×C×H×W, labelled or not;
// ImageInto copies an image out as float32, normalised as (x/255 − Mean)/Std
// (per channel when ChannelMean is set).
type Dataset struct {
	Name  string // canonical name: "mnist", "fashion-mnist", "cifar10", "cifar100", or the caller's
	Split Split  // which split the images come from
	// The images, N×C×H×W: either raw 0–255 Pixels, normalised as they are
	// copied out (data sets read from files: a quarter of the memory of a
	// float32 copy, 47 MB instead of 188 MB for MNIST's training set), or
	// normalised float32 Images (data sets built from floats). Read them
	// with ImageInto.
	Pixels  []uint8
	Images  []float32
	Labels  []uint8 // N labels, each < Classes; nil for unlabelled images (see Labelled)
	N       int     // number of images
	C, H, W int     // channels, height, width of one image
	Classes int     // number of classes (10 for the MNIST family; 0 when unlabelled)

	// Mean and Std are the normalisation constants applied to x/255. The
	// loader needs them to pad augmented images with black: a raw 0 pixel
	// becomes (0 − Mean)/Std.
	Mean, Std float32
	// ChannelMean and ChannelStd, when set (C values each, by
	// SetNormalization), replace Mean and Std channel by channel: image
	// folders and CIFAR are normalised per channel.
	ChannelMean, ChannelStd []float32

	// ClassNames names the classes, index = label; nil when unknown.
	ClassNames []string

	lut  [256]float32   // normalised value of each pixel value
	luts [][256]float32 // per channel, when ChannelMean is set
}

// Labelled reports whether the images have labels. Unlabelled images
// (a flat image folder, a .npy file) serve as calibration data for
// criteria that need no labels.
func (d *Dataset) Labelled() bool { return d.Labels != nil }

// ImageSize is the number of float32 values in one image (C·H·W).
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// ImageInto writes image i, normalised, into dst (ImageSize() values).
func (d *Dataset) ImageInto(dst []float32, i int) {
	sz := d.ImageSize()
	dst = dst[:sz]
	if d.Pixels == nil {
		copy(dst, d.Images[i*sz:(i+1)*sz])
		return
	}
	src := d.Pixels[i*sz : (i+1)*sz]
	if d.luts == nil {
		lut := &d.lut
		for k, b := range src {
			dst[k] = lut[b]
		}
		return
	}
	plane := d.H * d.W
	for c := range d.C {
		lut := &d.luts[c]
		for k, b := range src[c*plane : (c+1)*plane] {
			dst[c*plane+k] = lut[b]
		}
	}
}

// SetNormalization sets per-channel normalisation constants, applied to
// x/255 as (x/255 − mean[c])/std[c]: one value each (every channel alike)
// or C values. Only data sets of raw Pixels can be renormalised; float
// Images are used as they are.
func (d *Dataset) SetNormalization(mean, std []float32) error {
	if d.Pixels == nil {
		return fmt.Errorf("%s: the images are already float values (preprocessed); --mean and --std apply only to 8-bit images", d.Name)
	}
	if len(mean) != len(std) || (len(mean) != 1 && len(mean) != d.C) {
		return fmt.Errorf("%s: %d mean and %d std values for %d-channel images: give 1 or %d of each", d.Name, len(mean), len(std), d.C, d.C)
	}
	for c := range std {
		if !(std[c] > 0) {
			return fmt.Errorf("%s: std must be positive, got %g", d.Name, std[c])
		}
	}
	m, s := make([]float32, d.C), make([]float32, d.C)
	for c := range d.C {
		m[c], s[c] = mean[min(c, len(mean)-1)], std[min(c, len(std)-1)]
	}
	d.ChannelMean, d.ChannelStd = m, s
	d.Mean, d.Std = m[0], s[0]
	d.luts = make([][256]float32, d.C)
	for c := range d.C {
		for i := range d.luts[c] {
			d.luts[c][i] = (float32(i)/255 - m[c]) / s[c]
		}
	}
	for i := range d.lut {
		d.lut[i] = d.luts[0][i]
	}
	return nil
}

// Slice returns images [lo, hi) as a data set that shares d's memory.
func (d *Dataset) Slice(lo, hi int) *Dataset {
	sz := d.ImageSize()
	c := *d
	c.N = hi - lo
	if d.Pixels != nil {
		c.Pixels = d.Pixels[lo*sz : hi*sz : hi*sz]
	} else {
		c.Images = d.Images[lo*sz : hi*sz : hi*sz]
	}
	if d.Labels != nil {
		c.Labels = d.Labels[lo:hi:hi]
	}
	return &c
}

// Limit returns the first n images as a data set that shares d's memory, for
// quick runs (--limit). n ≤ 0 or n ≥ d.N returns d itself.
func (d *Dataset) Limit(n int) *Dataset {
	if n <= 0 || n >= d.N {
		return d
	}
	return d.Slice(0, n)
}

// BlackValue is the normalised value of a raw 0 pixel, (0 − Mean)/Std: the
// value padding must have to match PyTorch's RandomCrop(padding=…) applied
// before Normalize.
// With per-channel constants it is channel 0's (see BlackValues).
func (d *Dataset) BlackValue() float32 { return (0 - d.Mean) / d.Std }

// BlackValues is BlackValue for every channel.
func (d *Dataset) BlackValues() []float32 {
	v := make([]float32, d.C)
	for c := range v {
		if d.ChannelMean != nil {
			v[c] = (0 - d.ChannelMean[c]) / d.ChannelStd[c]
		} else {
			v[c] = d.BlackValue()
		}
	}
	return v
}

// FromBytes builds a data set from raw pixels (N×C×H×W bytes, 0–255) and
// labels, normalising them with mean and std. It is how Load builds its data
// sets, and lets tests make tiny synthetic ones.
func FromBytes(name string, split Split, raw []byte, labels []uint8, n, c, h, w, classes int, mean, std float32) (*Dataset, error) {
	if n < 0 || c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%s: bad shape %d×%d×%d×%d", name, n, c, h, w)
	}
	if classes <= 0 || classes > 256 {
		return nil, fmt.Errorf("%s: bad class count %d", name, classes)
	}
	if std <= 0 {
		return nil, fmt.Errorf("%s: std must be positive, got %g", name, std)
	}
	if len(raw) != n*c*h*w {
		return nil, fmt.Errorf("%s: %d images of %d×%d×%d need %d bytes, have %d", name, n, c, h, w, n*c*h*w, len(raw))
	}
	if len(labels) != n {
		return nil, fmt.Errorf("%s: %d images but %d labels", name, n, len(labels))
	}
	for i, l := range labels {
		if int(l) >= classes {
			return nil, fmt.Errorf("%s: label %d of image %d is out of range (want < %d)", name, l, i, classes)
		}
	}
	d := &Dataset{
		Name: name, Split: split, Pixels: append([]uint8(nil), raw...), Labels: append([]uint8(nil), labels...),
		N: n, C: c, H: h, W: w, Classes: classes, Mean: mean, Std: std,
	}
	// A 256-entry table: the same float32 arithmetic as PyTorch's ToTensor
	// then Normalize, and far cheaper than converting each pixel.
	for i := range d.lut {
		d.lut[i] = (float32(i)/255 - mean) / std
	}
	return d, nil
}

// spec describes one of the data sets Load knows.
type spec struct {
	name       string
	mean, std  float32
	defaultDir func() string // "" means the embedded copy
	classNames []string
}

// fashionDefaultDir is where the Debian package dataset-fashion-mnist puts
// the four .gz files. A variable so tests can point it at an empty place.
var fashionDefaultDir = "/usr/share/datasets/fashion-mnist"

var specs = []spec{
	{
		name: "mnist", mean: 0.1307, std: 0.3081,
		defaultDir: func() string { return "" },
		classNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
	},
	{
		name: "fashion-mnist", mean: 0.2860, std: 0.3530,
		defaultDir: func() string { return fashionDefaultDir },
		classNames: []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
			"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
	},
}

// aliases maps accepted alternative names to canonical ones.
var aliases = map[string]string{"fashion": "fashion-mnist", "fashion_mnist": "fashion-mnist", "fmnist": "fashion-mnist"}

// Names lists the canonical names Load accepts.
func Names() []string {
	n := make([]string, len(specs))
	for i, s := range specs {
		n[i] = s.name
	}
	return n
}

// Canonical returns the canonical name of a data set name or alias
// ("fashion" → "fashion-mnist"), or an error listing the valid names.
func Canonical(name string) (string, error) {
	s, err := lookup(name)
	if err != nil {
		return "", err
	}
	return s.name, nil
}

func lookup(name string) (*spec, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	for i := range specs {
		if specs[i].name == n {
			return &specs[i], nil
		}
	}
	return nil, fmt.Errorf("data: unknown dataset %q: valid names are %s (or fashion for fashion-mnist)", name, strings.Join(Names(), ", "))
}

// DefaultDir is where Load looks for a data set when dir is "": "" for
// MNIST, which is embedded in the binary, and the Debian package's folder for
// Fashion-MNIST.
func DefaultDir(name string) (string, error) {
	s, err := lookup(name)
	if err != nil {
		return "", err
	}
	return s.defaultDir(), nil
}

// fileNames lists the accepted names of a split's files, in order of
// preference: the raw file (faster to read) before the gzipped one, and the
// dotted variant some mirrors use after the standard one.
func fileNames(split Split) (images, labels []string) {
	prefix := "train"
	if split == Test {
		prefix = "t10k"
	}
	for _, kind := range []struct {
		dst  *[]string
		base string
	}{{&images, "images-idx3-ubyte"}, {&labels, "labels-idx1-ubyte"}} {
		for _, sep := range []string{"-", "."} {
			b := prefix + "-" + strings.Replace(kind.base, "-", sep, 1)
			*kind.dst = append(*kind.dst, b, b+".gz")
		}
	}
	return images, labels
}

// Load reads one split of a data set. name is "mnist" or "fashion-mnist"
// (alias "fashion"). dir holds the four standard IDX files
// (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each raw or .gz); "" means the default place: the
// copy of MNIST embedded in the binary, or /usr/share/datasets/fashion-mnist.
func Load(name, dir string, split Split) (*Dataset, error) {
	s, err := lookup(name)
	if err != nil {
		return nil, err
	}
	if split != Train && split != Test {
		return nil, fmt.Errorf("%s: unknown split %v", s.name, split)
	}
	explicit := dir != ""
	if !explicit {
		dir = s.defaultDir()
	}
	var img, lab *IDX
	var imgName, labName string
	if dir == "" {
		img, lab, imgName, labName, err = readEmbedded(split)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	} else {
		imgNames, labNames := fileNames(split)
		imgName, labName = findFile(dir, imgNames...), findFile(dir, labNames...)
		if imgName == "" && labName == "" {
			return nil, missingError(s, dir, explicit)
		}
		if imgName == "" {
			return nil, fmt.Errorf("%s: %s has %s but no %s[.gz]", s.name, dir, labName, imgNames[0])
		}
		if labName == "" {
			return nil, fmt.Errorf("%s: %s has %s but no %s[.gz]", s.name, dir, imgName, labNames[0])
		}
		if img, err = ReadIDX(imgName); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if lab, err = ReadIDX(labName); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return fromIDX(s, split, img, lab, imgName, labName)
}

// missingError explains how to get a data set that is not where Load looked.
func missingError(s *spec, dir string, explicit bool) error {
	if _, err := os.Stat(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no data in %s: %v", s.name, dir, err)
	}
	imgs, labs := fileNames(Train)
	want := fmt.Sprintf("want %s[.gz], %s[.gz] and the t10k- pair", imgs[0], labs[0])
	if s.name == "fashion-mnist" {
		if !explicit {
			return fmt.Errorf("fashion-mnist: no data in %s: install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir", dir)
		}
		return fmt.Errorf("fashion-mnist: no data in %s: %s (the Debian package dataset-fashion-mnist installs them in %s)", dir, want, fashionDefaultDir)
	}
	return fmt.Errorf("%s: no data in %s: %s (or leave --data-dir empty to use the copy built into shears)", s.name, dir, want)
}

// fromIDX checks that an images file and a labels file belong together and
// turns them into a normalised Dataset.
func fromIDX(s *spec, split Split, img, lab *IDX, imgName, labName string) (*Dataset, error) {
	if len(img.Dims) != 3 {
		return nil, fmt.Errorf("%s: idx file %s: wrong rank %d for images (want 3: N×H×W)", s.name, imgName, len(img.Dims))
	}
	if len(lab.Dims) != 1 {
		return nil, fmt.Errorf("%s: idx file %s: wrong rank %d for labels (want 1: N)", s.name, labName, len(lab.Dims))
	}
	n, h, w := img.Dims[0], img.Dims[1], img.Dims[2]
	// Every model in the zoo is built for 28×28 inputs; a file of another
	// size is a wrong file, better refused here than as a shape error deep
	// inside training.
	if h != 28 || w != 28 {
		return nil, fmt.Errorf("%s: idx file %s: images are %d×%d, want 28×28", s.name, imgName, h, w)
	}
	if lab.Dims[0] != n {
		return nil, fmt.Errorf("%s: %s has %d images but %s has %d labels", s.name, imgName, n, labName, lab.Dims[0])
	}
	for i, l := range lab.Data {
		if l >= 10 {
			return nil, fmt.Errorf("%s: idx file %s: label %d of item %d is out of range (want 0–9)", s.name, labName, l, i)
		}
	}
	ds, err := FromBytes(s.name, split, img.Data, lab.Data, n, 1, h, w, 10, s.mean, s.std)
	if err != nil {
		return nil, err
	}
	ds.ClassNames = s.classNames
	return ds, nil
}
