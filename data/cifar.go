package data

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cifarFiles lists the binary files of a split and the folder the
// official archives unpack into.
func cifarFiles(name string, split Split) (files []string, sub string) {
	if name == "cifar10" {
		if split == Test {
			return []string{"test_batch.bin"}, "cifar-10-batches-bin"
		}
		return []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, "cifar-10-batches-bin"
	}
	if split == Test {
		return []string{"test.bin"}, "cifar-100-binary"
	}
	return []string{"train.bin"}, "cifar-100-binary"
}

// LoadCIFAR reads one split of CIFAR-10 or CIFAR-100 from the binary
// versions' files: CIFAR-10's data_batch_1.bin … data_batch_5.bin (train)
// and test_batch.bin, records of 1 label byte and 3072 pixel bytes;
// CIFAR-100's train.bin and test.bin, records of a coarse and a fine label
// byte and 3072 pixel bytes (the fine label, 100 classes, unless coarse:
// 20 superclasses). dir may also be the folder the official archive
// unpacks into (it holds cifar-10-batches-bin/ or cifar-100-binary/).
// Class names come from batches.meta.txt, fine_label_names.txt or
// coarse_label_names.txt when present. Images are 3×32×32, normalised with
// the cifar10 or cifar100 preset's per-channel constants.
func LoadCIFAR(name, dir string, split Split, coarse bool) (*Dataset, error) {
	if name != "cifar10" && name != "cifar100" {
		return nil, fmt.Errorf("data: LoadCIFAR: unknown name %q (cifar10, cifar100)", name)
	}
	files, sub := cifarFiles(name, split)
	if _, err := os.Stat(filepath.Join(dir, files[0])); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, sub, files[0])); err2 == nil {
			dir = filepath.Join(dir, sub)
		} else {
			return nil, fmt.Errorf("%s: no %s in %s (nor in %s/%s): want the binary version's files %s", name, files[0], dir, dir, sub, strings.Join(files, ", "))
		}
	}
	const pixels = 3 * 32 * 32
	labelBytes, classes := 1, 10
	if name == "cifar100" {
		labelBytes, classes = 2, 100
		if coarse {
			classes = 20
		}
	}
	record := labelBytes + pixels
	var pix, labels []uint8
	for _, f := range files {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if len(b) == 0 || len(b)%record != 0 {
			return nil, fmt.Errorf("%s: %s has %d bytes, not a whole number of %d-byte records (truncated or not the binary version?)", name, p, len(b), record)
		}
		for off := 0; off < len(b); off += record {
			l := b[off+labelBytes-1] // CIFAR-100: coarse then fine
			if coarse {
				l = b[off]
			}
			if int(l) >= classes {
				return nil, fmt.Errorf("%s: %s: record %d has label %d, want < %d", name, p, off/record, l, classes)
			}
			labels = append(labels, l)
			pix = append(pix, b[off+labelBytes:off+record]...)
		}
	}
	ds := &Dataset{Name: name, Split: split, Pixels: pix, Labels: labels, N: len(labels), C: 3, H: 32, W: 32, Classes: classes}
	pre := Presets[name]
	if err := ds.SetNormalization(pre.Mean, pre.Std); err != nil {
		return nil, err
	}
	meta := "batches.meta.txt"
	if name == "cifar100" {
		meta = "fine_label_names.txt"
		if coarse {
			meta = "coarse_label_names.txt"
		}
	}
	if names := readNames(filepath.Join(dir, meta)); len(names) >= classes {
		ds.ClassNames = names[:classes]
	}
	return ds, nil
}

// readNames reads the non-empty lines of a class-name file (nil when it
// cannot be read).
func readNames(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			names = append(names, s)
		}
	}
	return names
}
