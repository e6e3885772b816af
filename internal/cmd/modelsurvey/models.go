//go:build cgo

package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// model is one row of scripts/models.tsv.
type model struct {
	Name      string
	Package   string // npm name@version
	Path      string // in the package
	SHA256    string
	Ecosystem string
	Shapes    map[string][]int // input name → shape to bind (nil: none)
	Licence   string
	Origin    string
}

// readModels parses models.tsv (see its header).
func readModels(path string) ([]model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []model
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := strings.Split(l, "\t")
		if len(c) != 8 {
			return nil, fmt.Errorf("%s:%d: %d tab-separated columns, want 8", path, line, len(c))
		}
		m := model{Name: c[0], Package: c[1], Path: c[2], SHA256: c[3], Ecosystem: c[4], Licence: c[6], Origin: c[7]}
		if c[5] != "-" {
			if m.Shapes, err = parseShapes(c[5]); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
		}
		ms = append(ms, m)
	}
	return ms, sc.Err()
}

// parseShapes reads "x=1x3x48x320,h=2x1x64".
func parseShapes(s string) (map[string][]int, error) {
	shapes := map[string][]int{}
	for _, b := range strings.Split(s, ",") {
		name, dims, ok := strings.Cut(b, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("input shape %q: want NAME=1x3x48x320", b)
		}
		var shape []int
		for _, d := range strings.Split(dims, "x") {
			n, err := strconv.Atoi(d)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("input shape %q: dim %q is not a positive integer", b, d)
			}
			shape = append(shape, n)
		}
		shapes[name] = shape
	}
	return shapes, nil
}

func (m model) shapeString() string {
	if len(m.Shapes) == 0 {
		return ""
	}
	var s []string
	for name, shape := range m.Shapes {
		var d []string
		for _, n := range shape {
			d = append(d, strconv.Itoa(n))
		}
		s = append(s, name+"="+strings.Join(d, "x"))
	}
	return strings.Join(s, ", ")
}
