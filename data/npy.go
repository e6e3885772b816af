package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// ReadNPY reads a NumPy .npy file of images, shape N×C×H×W in C order, as
// an unlabelled data set. The values are used as they are: the file holds
// preprocessed model inputs. The dtypes and how they are stored:
//
//   - float32 ('<f4'): as they are;
//   - float64 ('<f8'): rounded to float32;
//   - uint8 ('|u1'): kept as bytes and normalised as x/255, then with the
//     --mean/--std given (SetNormalization), like an image folder.
//
// Big-endian data, other dtypes, Fortran order, a rank other than 4,
// non-finite values and a file shorter or longer than its shape says are
// errors naming the file.
func ReadNPY(path string) (*Dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	descr, shape, body, err := parseNPYHeader(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(shape) != 4 {
		return nil, fmt.Errorf("%s: shape %s, want 4 dimensions N×C×H×W", path, shapeString(shape))
	}
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%s: shape %s has an empty image dimension", path, shapeString(shape))
	}
	count := uint64(1)
	for _, d := range shape {
		count *= uint64(d)
		if count > MaxIDXBytes {
			return nil, fmt.Errorf("%s: shape %s is larger than %d values", path, shapeString(shape), uint64(MaxIDXBytes))
		}
	}
	var size uint64
	switch descr {
	case "<f4":
		size = 4
	case "<f8":
		size = 8
	case "|u1", "<u1", "u1":
		size = 1
	default:
		return nil, fmt.Errorf("%s: dtype %q not supported: want float32 ('<f4'), float64 ('<f8') or uint8 ('|u1'), little-endian", path, descr)
	}
	if want := count * size; uint64(len(body)) != want {
		what := "truncated"
		if uint64(len(body)) > want {
			what = "has trailing bytes"
		}
		return nil, fmt.Errorf("%s: %s: shape %s of %s needs %d bytes of data, have %d", path, what, shapeString(shape), descr, want, len(body))
	}
	ds := &Dataset{Name: path, N: n, C: c, H: h, W: w, Mean: 0, Std: 1}
	switch size {
	case 1:
		ds.Pixels = body
		for i := range ds.lut {
			ds.lut[i] = float32(i) / 255
		}
		return ds, nil
	case 4:
		ds.Images = make([]float32, count)
		for i := range ds.Images {
			ds.Images[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
		}
	case 8:
		ds.Images = make([]float32, count)
		for i := range ds.Images {
			ds.Images[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:])))
		}
	}
	for i, v := range ds.Images {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s: value %d (image %d) is %g: want finite values", path, i, i/ds.ImageSize(), v)
		}
	}
	return ds, nil
}

var (
	npyDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// parseNPYHeader reads the magic, version and header dictionary of a
// .npy file (format versions 1, 2 and 3) and returns the dtype, shape and
// data bytes.
func parseNPYHeader(b []byte) (descr string, shape []int, body []byte, err error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return "", nil, nil, fmt.Errorf("not a .npy file (bad magic)")
	}
	var hlen, start int
	switch b[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:])), 10
	case 2, 3:
		if len(b) < 12 {
			return "", nil, nil, fmt.Errorf("truncated header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(b[8:])), 12
	default:
		return "", nil, nil, fmt.Errorf("unknown .npy format version %d.%d", b[6], b[7])
	}
	if hlen < 0 || start+hlen > len(b) {
		return "", nil, nil, fmt.Errorf("truncated header (%d bytes announced, %d in the file)", hlen, len(b)-start)
	}
	header := string(b[start : start+hlen])
	d := npyDescr.FindStringSubmatch(header)
	f := npyFortran.FindStringSubmatch(header)
	s := npyShape.FindStringSubmatch(header)
	if d == nil || f == nil || s == nil {
		return "", nil, nil, fmt.Errorf("header %q lacks descr, fortran_order or shape", strings.TrimSpace(header))
	}
	for _, part := range strings.Split(s[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return "", nil, nil, fmt.Errorf("bad shape (%s) in header", s[1])
		}
		shape = append(shape, v)
	}
	if f[1] == "True" {
		return "", nil, nil, fmt.Errorf("column-major (Fortran) order is not supported: save the array with numpy.ascontiguousarray first")
	}
	return d[1], shape, b[start+hlen:], nil
}

func shapeString(shape []int) string {
	p := make([]string, len(shape))
	for i, d := range shape {
		p[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(p, ", ") + ")"
}

// WriteNPY writes images (N×C×H×W float32) as a version 1.0 .npy file: the
// format ReadNPY reads, for tests and for exporting calibration sets.
func WriteNPY(path string, x []float32, n, c, h, w int) error {
	if len(x) != n*c*h*w {
		return fmt.Errorf("WriteNPY: %d values for shape %d×%d×%d×%d", len(x), n, c, h, w)
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }", n, c, h, w)
	// Pad with spaces and a newline so that the data start at a multiple of 64.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	b := make([]byte, 0, 10+len(header)+4*len(x))
	b = append(b, "\x93NUMPY\x01\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	b = append(b, header...)
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return os.WriteFile(path, b, 0o644)
}
