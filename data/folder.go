package data

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FolderOptions says how LoadFolder reads an image folder.
type FolderOptions struct {
	Preprocess Preprocess
	// Max > 0 reads only Max files, evenly spaced in the sorted list of
	// files (so that every class of a class-sorted folder is represented);
	// 0 reads all.
	Max int
	// Warn receives one line about skipped files and conversions (nil:
	// dropped).
	Warn func(string)
	// Split is recorded in the data set.
	Split Split
}

// imageFile reports whether a file name has an extension LoadFolder reads.
func imageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// LoadFolder reads a folder of PNG and JPEG images (.png, .jpg, .jpeg, any
// case), in one of two layouts:
//
//   - torchvision's ImageFolder: one subfolder per class, the classes
//     sorted by name and numbered from 0, each searched recursively; files
//     directly in dir are then ignored;
//   - flat: images directly in dir and no subfolder: unlabelled images
//     (calibration data for criteria that need no labels).
//
// Files are read in sorted order. Each image is decoded (see decodeImage
// for how pixel formats become channels), converted, resized and cropped
// as opt.Preprocess says and stored as bytes, normalised with its Mean and
// Std when copied out. After preprocessing every image must have the same
// size; a folder mixing grey and colour images stores them all as colour
// (grey repeated on R, G, B) unless Preprocess.Channels says otherwise, and
// says so through opt.Warn. Files that cannot be decoded are skipped, and
// opt.Warn gets one line counting them; a folder without any readable
// image is an error naming it.
func LoadFolder(dir string, opt FolderOptions) (*Dataset, error) {
	if err := opt.Preprocess.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image folder: %v", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	type file struct {
		path  string
		label int
	}
	var files []file
	if len(classes) > 0 {
		if len(classes) > 256 {
			return nil, fmt.Errorf("%s: %d class folders: at most 256 classes are supported", dir, len(classes))
		}
		for label, c := range classes {
			err := filepath.WalkDir(filepath.Join(dir, c), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && imageFile(d.Name()) {
					files = append(files, file{p, label})
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("image folder: %v", err)
			}
		}
	} else {
		for _, e := range entries {
			if !e.IsDir() && imageFile(e.Name()) {
				files = append(files, file{filepath.Join(dir, e.Name()), -1})
			}
		}
	}
	if len(files) == 0 {
		layout := "directly in it (flat, unlabelled) or in class subfolders"
		if len(classes) > 0 {
			layout = fmt.Sprintf("in its %d class subfolders", len(classes))
		}
		return nil, fmt.Errorf("%s: no image files (.png, .jpg, .jpeg) %s", dir, layout)
	}
	if opt.Max > 0 && opt.Max < len(files) {
		picked := make([]file, opt.Max)
		for i := range picked {
			picked[i] = files[spread(i, opt.Max, len(files))]
		}
		files = picked
	}

	var images []planar
	var labels []uint8
	var names []string
	var skipped []string
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err == nil {
			var im planar
			if im, err = decodeImage(b); err == nil {
				images = append(images, im)
				names = append(names, f.path)
				if f.label >= 0 {
					labels = append(labels, uint8(f.label))
				}
				continue
			}
		}
		skipped = append(skipped, fmt.Sprintf("%s: %v", relName(dir, f.path), err))
	}
	if len(skipped) > 0 && opt.Warn != nil {
		const show = 3
		msg := strings.Join(skipped[:min(show, len(skipped))], "; ")
		if len(skipped) > show {
			msg += fmt.Sprintf("; and %d more", len(skipped)-show)
		}
		opt.Warn(fmt.Sprintf("warning: %s: skipped %d of %d files: %s", dir, len(skipped), len(files), msg))
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("%s: none of its %d image files could be read (first: %s)", dir, len(files), skipped[0])
	}

	p := opt.Preprocess
	if p.Channels == 0 {
		colour, grey := 0, 0
		for _, im := range images {
			if im.c == 3 {
				colour++
			} else {
				grey++
			}
		}
		if colour > 0 && grey > 0 {
			p.Channels = 3
			if opt.Warn != nil {
				opt.Warn(fmt.Sprintf("note: %s: %d grey images among %d colour ones are read as colour (grey repeated on R, G, B); --channels 1 reads all as grey", dir, grey, colour))
			}
		}
	}
	var pix []uint8
	var first planar
	for i, im := range images {
		im, err := p.apply(im)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", relName(dir, names[i]), err)
		}
		if i == 0 {
			first = im
			pix = make([]uint8, 0, len(images)*len(im.pix))
		} else if im.w != first.w || im.h != first.h {
			return nil, fmt.Errorf("%s: %s is %dx%d after preprocessing but %s is %dx%d: the images of a set must have one size: pass --resize and/or --crop (or --preprocess NAME)",
				dir, relName(dir, names[i]), im.w, im.h, relName(dir, names[0]), first.w, first.h)
		}
		pix = append(pix, im.pix...)
		images[i] = planar{} // let the decoded image go
	}
	ds := &Dataset{Name: dir, Split: opt.Split, Pixels: pix, N: len(names), C: first.c, H: first.h, W: first.w}
	if len(classes) > 0 {
		ds.Labels, ds.Classes, ds.ClassNames = labels, len(classes), classes
	}
	mean, std := p.norm()
	if err := ds.SetNormalization(mean, std); err != nil {
		return nil, err
	}
	return ds, nil
}

// spread is the index of the i-th of k items picked evenly from n: the
// middle of the i-th of k equal runs.
func spread(i, k, n int) int { return int((2*int64(i) + 1) * int64(n) / (2 * int64(k))) }

// relName shortens p to its path inside dir, for messages.
func relName(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// Spread returns n images evenly spaced over d (all of d when n ≤ 0 or
// n ≥ d.N), copied: a calibration subset that samples every part of a
// data set sorted by class.
func (d *Dataset) Spread(n int) *Dataset {
	if n <= 0 || n >= d.N {
		return d
	}
	sz := d.ImageSize()
	c := *d
	c.N = n
	c.Pixels, c.Images, c.Labels = nil, nil, nil
	for i := range n {
		j := spread(i, n, d.N)
		if d.Pixels != nil {
			c.Pixels = append(c.Pixels, d.Pixels[j*sz:(j+1)*sz]...)
		} else {
			c.Images = append(c.Images, d.Images[j*sz:(j+1)*sz]...)
		}
		if d.Labels != nil {
			c.Labels = append(c.Labels, d.Labels[j])
		}
	}
	return &c
}

// LoadFolderSplit reads one split of an image folder data set: dir/train
// for Train, dir/test (or else dir/val) for Test, each an ImageFolder with
// class subfolders. Both splits must name the same classes.
func LoadFolderSplit(dir string, split Split, opt FolderOptions) (*Dataset, error) {
	sub := []string{"train"}
	if split == Test {
		sub = []string{"test", "val"}
	}
	var path string
	for _, s := range sub {
		if st, err := os.Stat(filepath.Join(dir, s)); err == nil && st.IsDir() {
			path = filepath.Join(dir, s)
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("imagefolder %s: no %s subfolder (want %s/train and %s/test or %s/val, each with one subfolder per class)",
			dir, strings.Join(sub, " or "), dir, dir, dir)
	}
	opt.Split = split
	ds, err := LoadFolder(path, opt)
	if err != nil {
		return nil, err
	}
	if !ds.Labelled() {
		return nil, fmt.Errorf("imagefolder %s: no class subfolders: training and evaluation need labelled images (one subfolder per class)", path)
	}
	if split == Test {
		trainClasses, err := folderClasses(filepath.Join(dir, "train"))
		if err == nil && !slices.Equal(trainClasses, ds.ClassNames) {
			return nil, fmt.Errorf("imagefolder %s: the classes of %s (%d) differ from those of %s/train (%d)", dir, path, len(ds.ClassNames), dir, len(trainClasses))
		}
	}
	return ds, nil
}

// folderClasses lists the class subfolders of dir, sorted.
func folderClasses(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	return classes, nil
}
