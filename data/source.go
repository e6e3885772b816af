package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Source says where a data set comes from and how its images are
// prepared: what `--data NAME[:DIR]` and the preprocessing flags select.
type Source struct {
	// Kind is mnist, fashion-mnist, cifar10, cifar100 or imagefolder.
	Kind string
	// Dir holds the files ("" for the default place of the MNIST family;
	// required otherwise).
	Dir string
	// Coarse selects CIFAR-100's 20 superclass labels.
	Coarse     bool
	Preprocess Preprocess
	// Warn receives notes and warnings, one line each (nil: dropped).
	Warn func(string)
}

// SourceKinds lists the kinds ParseSource accepts.
var SourceKinds = []string{"mnist", "fashion-mnist", "cifar10", "cifar100", "cifar100-coarse", "imagefolder"}

// ParseSource reads a data set name as --data takes it: "mnist",
// "fashion-mnist" (alias "fashion"), or "cifar10:DIR", "cifar100:DIR"
// (fine labels), "cifar100-coarse:DIR", "imagefolder:DIR". dir is
// --data-dir; the folder may be given either way, not both differently.
func ParseSource(name, dir string) (Source, error) {
	kind, inline, hasDir := strings.Cut(strings.TrimSpace(name), ":")
	kind = strings.ToLower(kind)
	if hasDir {
		if inline == "" {
			return Source{}, fmt.Errorf("data: %q names no folder after the colon", name)
		}
		if dir != "" && filepath.Clean(dir) != filepath.Clean(inline) {
			return Source{}, fmt.Errorf("data: %q and data directory %q name two folders: give one", name, dir)
		}
		dir = inline
	}
	switch kind {
	case "cifar10", "cifar100", "cifar100-coarse", "imagefolder":
		if dir == "" {
			return Source{}, fmt.Errorf("data: %s needs its folder: --data %s:DIR", kind, kind)
		}
		s := Source{Kind: kind, Dir: dir}
		if kind == "cifar100-coarse" {
			s.Kind, s.Coarse = "cifar100", true
		}
		return s, nil
	}
	c, err := Canonical(kind)
	if err != nil {
		return Source{}, fmt.Errorf("data: unknown dataset %q: valid names are mnist, fashion-mnist (or fashion), cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, imagefolder:DIR", name)
	}
	return Source{Kind: c, Dir: dir}, nil
}

func (s Source) String() string {
	k := s.Kind
	if s.Coarse {
		k += "-coarse"
	}
	if s.Dir != "" {
		return k + ":" + s.Dir
	}
	return k
}

// Load reads one split and applies the preprocessing.
func (s Source) Load(split Split) (*Dataset, error) {
	if err := s.Preprocess.Validate(); err != nil {
		return nil, err
	}
	var ds *Dataset
	var err error
	switch s.Kind {
	case "imagefolder":
		// Everything is done image by image while reading.
		return LoadFolderSplit(s.Dir, split, FolderOptions{Preprocess: s.Preprocess, Warn: s.Warn})
	case "cifar10", "cifar100":
		ds, err = LoadCIFAR(s.Kind, s.Dir, split, s.Coarse)
	default:
		ds, err = Load(s.Kind, s.Dir, split)
	}
	if err != nil {
		return nil, err
	}
	return Preprocessed(ds, s.Preprocess)
}

// geometric reports whether p changes the images themselves (not only
// their normalisation).
func (p Preprocess) geometric() bool {
	return !p.Resize.IsZero() || !p.Crop.IsZero() || p.BGR || p.Channels != 0
}

// Preprocessed applies p to a data set of raw pixels read whole (MNIST,
// CIFAR): its conversion, resize, crop and channel order image by image,
// and its Mean and Std when given (else ds keeps its own constants).
// ds itself is returned when p changes nothing.
func Preprocessed(ds *Dataset, p Preprocess) (*Dataset, error) {
	if !p.geometric() && p.Mean == nil && p.Std == nil {
		return ds, nil
	}
	if ds.Pixels == nil {
		return nil, fmt.Errorf("%s: the images are already float values (preprocessed): --preprocess, --resize, --crop, --mean, --std, --channels and --channel-order do not apply", ds.Name)
	}
	out := *ds
	if p.geometric() {
		sz := ds.ImageSize()
		var pix []uint8
		for i := range ds.N {
			im, err := p.apply(planar{ds.C, ds.H, ds.W, ds.Pixels[i*sz : (i+1)*sz : (i+1)*sz]})
			if err != nil {
				return nil, fmt.Errorf("%s: image %d: %v", ds.Name, i, err)
			}
			if i == 0 {
				pix = make([]uint8, 0, ds.N*len(im.pix))
				out.C, out.H, out.W = im.c, im.h, im.w
			}
			pix = append(pix, im.pix...)
		}
		out.Pixels = pix
	}
	mean, std := ds.ChannelMean, ds.ChannelStd
	if mean == nil {
		mean, std = []float32{ds.Mean}, []float32{ds.Std}
	}
	if p.Mean != nil || p.Std != nil {
		mean, std = p.norm()
	} else if len(mean) != 1 && len(mean) != out.C {
		// Channels changed (CIFAR read as grey): the data set's constants
		// no longer fit; a grey image of colour constants takes their mean.
		m, s := float32(0), float32(0)
		for c := range mean {
			m, s = m+mean[c], s+std[c]
		}
		mean, std = []float32{m / float32(len(mean))}, []float32{s / float32(len(std))}
	}
	if err := out.SetNormalization(mean, std); err != nil {
		return nil, err
	}
	return &out, nil
}

// LoadCalibration reads calibration images from path: a folder of images
// (LoadFolder: labelled with class subfolders, unlabelled when flat) or a
// .npy file (ReadNPY, unlabelled, used as it is; only a uint8 .npy takes
// --mean and --std). max > 0 keeps max images evenly spaced over the set.
func LoadCalibration(path string, p Preprocess, max int, warn func(string)) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("calibration data: %v", err)
	}
	if st.IsDir() {
		return LoadFolder(path, FolderOptions{Preprocess: p, Max: max, Warn: warn, Split: Train})
	}
	if !strings.EqualFold(filepath.Ext(path), ".npy") {
		return nil, fmt.Errorf("calibration data %s: want a folder of PNG/JPEG images or a .npy file", path)
	}
	ds, err := ReadNPY(path)
	if err != nil {
		return nil, err
	}
	if p.geometric() {
		return nil, fmt.Errorf("%s: a .npy file holds model inputs and is used as it is: --preprocess, --resize, --crop, --channels and --channel-order do not apply", path)
	}
	if p.Mean != nil || p.Std != nil {
		if ds.Pixels == nil {
			return nil, fmt.Errorf("%s: a float .npy file is used as it is: --mean and --std apply only to a uint8 one", path)
		}
		mean, std := p.norm()
		if err := ds.SetNormalization(mean, std); err != nil {
			return nil, err
		}
	}
	return ds.Spread(max), nil
}
