package main

// Tensor files for shears run: NumPy .npy and ONNX TensorProto .pb.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
)

// maxTensorFile bounds the size of a tensor file read whole.
const maxTensorFile = 4 << 30

// readTensorFile reads a .npy or ONNX .pb tensor (chosen by content, so a
// misnamed file still reads); errors name the file.
func readTensorFile(path string) (*tensor.Tensor, error) {
	b, err := readBounded("tensor file", path, maxTensorFile)
	if err != nil {
		return nil, err
	}
	var t *tensor.Tensor
	if bytes.HasPrefix(b, []byte(npyMagic)) {
		t, err = decodeNpy(b)
	} else {
		_, t, err = onnx.DecodeTensor(b)
	}
	if err != nil {
		return nil, fmt.Errorf("tensor file %s: %w", path, err)
	}
	return t, nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// tensorFormat returns "npy" or "pb" for an output file name.
func tensorFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return "npy", nil
	case ".pb":
		return "pb", nil
	}
	return "", fmt.Errorf("output file %s: unknown format; use a .npy (NumPy) or .pb (ONNX TensorProto) name", path)
}

// writeTensorFile writes t atomically (temp file + rename) as .npy or .pb
// by the file's extension; name goes into a .pb's TensorProto.
func writeTensorFile(path, name string, t *tensor.Tensor) (err error) {
	format, err := tensorFormat(path)
	if err != nil {
		return err
	}
	var b []byte
	if format == "npy" {
		b = encodeNpy(t)
	} else if b, err = onnx.EncodeTensor(name, t); err != nil {
		return fmt.Errorf("output file %s: %w", path, err)
	}
	return writeAtomic(path, b)
}

// writeAtomic writes an output file atomically (internal/atomicfile).
func writeAtomic(path string, b []byte) error {
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("output file %s: %w", path, unwrapPathErr(err))
	}
	return nil
}

const npyMagic = "\x93NUMPY"

// decodeNpy reads a NumPy .npy array (format 1.0–3.0, C order) of float32,
// float64, float16, signed or unsigned integers or bool, converted to
// float32.
func decodeNpy(b []byte) (*tensor.Tensor, error) {
	if len(b) < 10 {
		return nil, errors.New("truncated .npy header")
	}
	major := b[6]
	var hlen, off int
	switch major {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, errors.New("truncated .npy header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, fmt.Errorf(".npy format version %d.%d is not supported", major, b[7])
	}
	if hlen > len(b)-off {
		return nil, fmt.Errorf("truncated .npy header (%d bytes announced, %d present)", hlen, len(b)-off)
	}
	header := string(b[off : off+hlen])
	data := b[off+hlen:]
	descr, err := npyField(header, "descr")
	if err != nil {
		return nil, err
	}
	fortran, err := npyField(header, "fortran_order")
	if err != nil {
		return nil, err
	}
	shapeStr, err := npyField(header, "shape")
	if err != nil {
		return nil, err
	}
	if fortran != "False" {
		return nil, errors.New(".npy array is in Fortran order; save a C-ordered array (numpy.ascontiguousarray)")
	}
	descr = strings.Trim(descr, `'"`)
	shape, err := npyShape(shapeStr)
	if err != nil {
		return nil, err
	}
	n, err := tensor.NumElems(shape)
	if err != nil {
		return nil, err
	}
	if len(descr) < 3 {
		return nil, fmt.Errorf(".npy dtype %q is not supported", descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch descr[0] {
	case '<', '|', '=':
	case '>':
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf(".npy dtype %q is not supported", descr)
	}
	kind := descr[1]
	size, err := strconv.Atoi(descr[2:])
	if err != nil || size < 1 || size > 8 {
		return nil, fmt.Errorf(".npy dtype %q is not supported", descr)
	}
	var conv func(p []byte) float32
	switch {
	case kind == 'f' && size == 4:
		conv = func(p []byte) float32 { return math.Float32frombits(order.Uint32(p)) }
	case kind == 'f' && size == 8:
		conv = func(p []byte) float32 { return float32(math.Float64frombits(order.Uint64(p))) }
	case kind == 'f' && size == 2:
		conv = func(p []byte) float32 { return halfBits(order.Uint16(p)) }
	case kind == 'i' && size == 1:
		conv = func(p []byte) float32 { return float32(int8(p[0])) }
	case kind == 'i' && size == 2:
		conv = func(p []byte) float32 { return float32(int16(order.Uint16(p))) }
	case kind == 'i' && size == 4:
		conv = func(p []byte) float32 { return float32(int32(order.Uint32(p))) }
	case kind == 'i' && size == 8:
		conv = func(p []byte) float32 { return float32(int64(order.Uint64(p))) }
	case kind == 'u' && size == 1, kind == 'b' && size == 1:
		conv = func(p []byte) float32 { return float32(p[0]) }
	case kind == 'u' && size == 2:
		conv = func(p []byte) float32 { return float32(order.Uint16(p)) }
	case kind == 'u' && size == 4:
		conv = func(p []byte) float32 { return float32(order.Uint32(p)) }
	case kind == 'u' && size == 8:
		conv = func(p []byte) float32 { return float32(order.Uint64(p)) }
	default:
		return nil, fmt.Errorf(".npy dtype %q is not supported (want float32, float64, float16, integers or bool)", descr)
	}
	if len(data) != n*size {
		what := "truncated"
		if len(data) > n*size {
			what = "too long"
		}
		return nil, fmt.Errorf(".npy data is %s: shape %s of %s needs %d bytes, the file has %d", what, tensor.ShapeString(shape), descr, n*size, len(data))
	}
	t := &tensor.Tensor{Shape: shape, Data: make([]float32, n)}
	for i := range t.Data {
		t.Data[i] = conv(data[i*size : (i+1)*size])
	}
	return t, nil
}

// npyField extracts a value from the header dict, e.g. 'descr': '<f4'.
func npyField(header, key string) (string, error) {
	i := strings.Index(header, "'"+key+"'")
	if i < 0 {
		i = strings.Index(header, `"`+key+`"`)
	}
	if i < 0 {
		return "", fmt.Errorf(".npy header has no %s", key)
	}
	rest := strings.TrimSpace(header[i+len(key)+2:])
	if !strings.HasPrefix(rest, ":") {
		return "", fmt.Errorf(".npy header: bad %s", key)
	}
	rest = strings.TrimSpace(rest[1:])
	if strings.HasPrefix(rest, "(") {
		j := strings.Index(rest, ")")
		if j < 0 {
			return "", fmt.Errorf(".npy header: bad %s", key)
		}
		return rest[:j+1], nil
	}
	j := strings.IndexAny(rest, ",}")
	if j < 0 {
		return "", fmt.Errorf(".npy header: bad %s", key)
	}
	return strings.TrimSpace(rest[:j]), nil
}

// npyShape parses a shape tuple such as (2, 3) or (5,) or ().
func npyShape(s string) ([]int, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "("), ")"))
	shape := []int{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(f, "L"))
		if err != nil || d < 0 {
			return nil, fmt.Errorf(".npy header: bad shape %q", s)
		}
		shape = append(shape, d)
	}
	if len(shape) > 8 {
		return nil, fmt.Errorf(".npy shape has rank %d, more than 8", len(shape))
	}
	return shape, nil
}

// encodeNpy writes a float32 C-ordered .npy (format 1.0).
func encodeNpy(t *tensor.Tensor) []byte {
	var dims []string
	for _, d := range t.Shape {
		dims = append(dims, strconv.Itoa(d))
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape)
	// Pad so that magic + version + length + header ends on a 64-byte boundary.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString(npyMagic)
	buf.Write([]byte{1, 0})
	binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	buf.Write(raw)
	return buf.Bytes()
}

// halfBits converts IEEE half-precision bits to float32.
func halfBits(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | uint32(exp+127-15)<<23 | mant<<13)
}
