package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// dataTypeName names an ONNX TensorProto data type for messages.
func dataTypeName(dt int32) string {
	if s, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return s
	}
	if s, ok := newerDataTypes[dt]; ok {
		return s
	}
	return "data type " + strconv.Itoa(int(dt))
}

// elemSize is the raw_data width of the numeric data types shears reads, 0
// for the others (strings, complex, unknown).
func elemSize(dt onnxpb.TensorProto_DataType) int {
	switch dt {
	case onnxpb.TensorProto_UINT8, onnxpb.TensorProto_INT8, onnxpb.TensorProto_BOOL:
		return 1
	case onnxpb.TensorProto_UINT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		return 2
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 4
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64, onnxpb.TensorProto_DOUBLE:
		return 8
	}
	return 0
}

// shapeFromDims converts ONNX dims to a shape, rejecting negative dims,
// ranks above MaxRank and element counts above tensor.MaxElems.
func shapeFromDims(dims []int64) ([]int, int, error) {
	if len(dims) > MaxRank {
		return nil, 0, fmt.Errorf("rank %d is above the limit of %d", len(dims), MaxRank)
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("negative dimension %d in dims %v", d, dims)
		}
		if d > tensor.MaxElems {
			return nil, 0, fmt.Errorf("dimension %d in dims %v is too large", d, dims)
		}
		shape[i] = int(d)
	}
	n, err := tensor.NumElems(shape)
	if err != nil {
		return nil, 0, fmt.Errorf("dims %v: %v", dims, err)
	}
	return shape, n, nil
}

// tensorFromProto converts an ONNX tensor of any numeric data type to a
// float32 tensor. Lengths are checked against the dims before anything of
// the tensor's size is allocated.
func tensorFromProto(tp *onnxpb.TensorProto) (*tensor.Tensor, error) {
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.ExternalData) > 0 {
		// Initializers of a model loaded from a file had theirs read
		// (resolveExternal); anything else cannot.
		loc := ""
		for _, e := range tp.ExternalData {
			if e.GetKey() == "location" {
				loc = e.GetValue()
			}
		}
		return nil, fmt.Errorf("data is stored in an external file (%q), which is only read for initializers of a model loaded from its file", loc)
	}
	if tp.Segment != nil {
		return nil, fmt.Errorf("segmented tensors are not supported")
	}
	if tp.DataType == nil {
		return nil, fmt.Errorf("no data type")
	}
	dt := onnxpb.TensorProto_DataType(tp.GetDataType())
	size := elemSize(dt)
	if size == 0 {
		return nil, fmt.Errorf("data type %s is not supported (shears computes in float32)", dataTypeName(int32(dt)))
	}
	shape, n, err := shapeFromDims(tp.Dims)
	if err != nil {
		return nil, err
	}
	typed := map[string]int{}
	for _, f := range []struct {
		name string
		n    int
	}{
		{"float_data", len(tp.FloatData)}, {"double_data", len(tp.DoubleData)}, {"int32_data", len(tp.Int32Data)},
		{"int64_data", len(tp.Int64Data)}, {"uint64_data", len(tp.Uint64Data)}, {"string_data", len(tp.StringData)},
	} {
		if f.n > 0 {
			typed[f.name] = f.n
		}
	}
	if tp.RawData != nil {
		if len(typed) > 0 {
			return nil, fmt.Errorf("has both raw_data and typed data")
		}
		if len(tp.RawData) != n*size {
			return nil, fmt.Errorf("raw_data holds %d bytes, shape %s of %s needs %d", len(tp.RawData), shapeStr(shape), dataTypeName(int32(dt)), n*size)
		}
		data := make([]float32, n)
		decodeRaw(dt, tp.RawData, data)
		return &tensor.Tensor{Shape: shape, Data: data}, nil
	}
	var field string
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		field = "float_data"
	case onnxpb.TensorProto_DOUBLE:
		field = "double_data"
	case onnxpb.TensorProto_INT64:
		field = "int64_data"
	case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		field = "uint64_data"
	default:
		field = "int32_data"
	}
	for _, name := range []string{"float_data", "double_data", "int32_data", "int64_data", "uint64_data", "string_data"} {
		if typed[name] > 0 && name != field {
			return nil, fmt.Errorf("data type %s stored in %s (want %s or raw_data)", dataTypeName(int32(dt)), name, field)
		}
	}
	if typed[field] != n {
		return nil, fmt.Errorf("%s holds %d values, shape %s needs %d", field, typed[field], shapeStr(shape), n)
	}
	data := make([]float32, n)
	switch field {
	case "float_data":
		copy(data, tp.FloatData)
	case "double_data":
		for i, v := range tp.DoubleData {
			data[i] = float32(v)
		}
	case "int64_data":
		for i, v := range tp.Int64Data {
			data[i] = float32(v)
		}
	case "uint64_data":
		for i, v := range tp.Uint64Data {
			if dt == onnxpb.TensorProto_UINT32 {
				v = uint64(uint32(v))
			}
			data[i] = float32(v)
		}
	default:
		for i, v := range tp.Int32Data {
			switch dt {
			case onnxpb.TensorProto_FLOAT16:
				data[i] = halfToFloat(uint16(v))
			case onnxpb.TensorProto_BFLOAT16:
				data[i] = math.Float32frombits(uint32(uint16(v)) << 16)
			case onnxpb.TensorProto_BOOL:
				if v != 0 {
					data[i] = 1
				}
			case onnxpb.TensorProto_UINT8:
				data[i] = float32(uint8(v))
			case onnxpb.TensorProto_INT8:
				data[i] = float32(int8(v))
			case onnxpb.TensorProto_UINT16:
				data[i] = float32(uint16(v))
			case onnxpb.TensorProto_INT16:
				data[i] = float32(int16(v))
			default:
				data[i] = float32(v)
			}
		}
	}
	return &tensor.Tensor{Shape: shape, Data: data}, nil
}

// decodeRaw converts little-endian raw_data to float32; len(raw) is
// len(data)*elemSize(dt).
func decodeRaw(dt onnxpb.TensorProto_DataType, raw []byte, data []float32) {
	le := binary.LittleEndian
	if dt == onnxpb.TensorProto_FLOAT { // the common case, without the switch
		for i := range data {
			data[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return
	}
	for i := range data {
		switch dt {
		case onnxpb.TensorProto_FLOAT:
			data[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		case onnxpb.TensorProto_DOUBLE:
			data[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		case onnxpb.TensorProto_FLOAT16:
			data[i] = halfToFloat(le.Uint16(raw[2*i:]))
		case onnxpb.TensorProto_BFLOAT16:
			data[i] = math.Float32frombits(uint32(le.Uint16(raw[2*i:])) << 16)
		case onnxpb.TensorProto_UINT8:
			data[i] = float32(raw[i])
		case onnxpb.TensorProto_INT8:
			data[i] = float32(int8(raw[i]))
		case onnxpb.TensorProto_BOOL:
			if raw[i] != 0 {
				data[i] = 1
			}
		case onnxpb.TensorProto_UINT16:
			data[i] = float32(le.Uint16(raw[2*i:]))
		case onnxpb.TensorProto_INT16:
			data[i] = float32(int16(le.Uint16(raw[2*i:])))
		case onnxpb.TensorProto_INT32:
			data[i] = float32(int32(le.Uint32(raw[4*i:])))
		case onnxpb.TensorProto_UINT32:
			data[i] = float32(le.Uint32(raw[4*i:]))
		case onnxpb.TensorProto_INT64:
			data[i] = float32(int64(le.Uint64(raw[8*i:])))
		case onnxpb.TensorProto_UINT64:
			data[i] = float32(le.Uint64(raw[8*i:]))
		}
	}
}

// halfToFloat converts IEEE 754 binary16 bits to float32 (exactly: every
// half is a float32).
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: mant × 2^-24.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// floatToHalf converts a float32 to IEEE 754 binary16 bits, rounding to
// the nearest half (ties to even; beyond 65504 to ±Inf). A value read from
// a float16 file comes back to its bits exactly; a value changed by
// training is rounded.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // inf, NaN (kept quiet)
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127+15 >= 0x1f: // overflow
		return sign | 0x7c00
	case exp-127+15 <= 0: // subnormal half or zero: mant × 2^-24
		a := math.Abs(float64(f))
		q := math.RoundToEven(a * (1 << 24))
		return sign | uint16(q) // q ≤ 1024: 1024 is the smallest normal, exactly
	}
	e := uint32(exp - 127 + 15)
	// Round the 23-bit mantissa to 10 bits, ties to even.
	m := mant >> 13
	rest := mant & 0x1fff
	if rest > 0x1000 || (rest == 0x1000 && m&1 == 1) {
		m++
		if m == 0x400 {
			m = 0
			e++
			if e >= 0x1f {
				return sign | 0x7c00
			}
		}
	}
	return sign | uint16(e<<10) | uint16(m)
}

// floatTensorProto writes t as a FLOAT tensor in little-endian raw_data.
func floatTensorProto(name string, t *tensor.Tensor) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	tp := &onnxpb.TensorProto{
		Dims:     dimsOf(t.Shape),
		DataType: ptr(int32(onnxpb.TensorProto_FLOAT)),
		RawData:  raw,
	}
	if name != "" {
		tp.Name = ptr(name)
	}
	return tp
}

// typedTensorProto writes t as a tensor of data type dt in little-endian
// raw_data. Integer and bool types need integer values in range (bool: 0
// or 1); INT64 and UINT64 saturate, because float32 cannot hold INT64_MAX,
// which Slice uses for "to the end", and its nearest value 2^63 comes back
// to it.
func typedTensorProto(name string, t *tensor.Tensor, dt onnxpb.TensorProto_DataType) (*onnxpb.TensorProto, error) {
	if dt == onnxpb.TensorProto_FLOAT {
		return floatTensorProto(name, t), nil
	}
	if dt == onnxpb.TensorProto_FLOAT16 {
		raw := make([]byte, 2*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint16(raw[2*i:], floatToHalf(v))
		}
		return &onnxpb.TensorProto{Name: ptr(name), Dims: dimsOf(t.Shape), DataType: ptr(int32(dt)), RawData: raw}, nil
	}
	var lo, hi float64
	switch dt {
	case onnxpb.TensorProto_DOUBLE:
	case onnxpb.TensorProto_BOOL:
		lo, hi = 0, 1
	case onnxpb.TensorProto_INT8:
		lo, hi = math.MinInt8, math.MaxInt8
	case onnxpb.TensorProto_UINT8:
		lo, hi = 0, math.MaxUint8
	case onnxpb.TensorProto_INT16:
		lo, hi = math.MinInt16, math.MaxInt16
	case onnxpb.TensorProto_UINT16:
		lo, hi = 0, math.MaxUint16
	case onnxpb.TensorProto_INT32:
		lo, hi = math.MinInt32, math.MaxInt32
	case onnxpb.TensorProto_UINT32:
		lo, hi = 0, math.MaxUint32
	case onnxpb.TensorProto_INT64:
		lo, hi = math.MinInt64, math.MaxInt64
	case onnxpb.TensorProto_UINT64:
		lo, hi = 0, math.MaxUint64
	default:
		return nil, fmt.Errorf("cannot write %s tensors", dataTypeName(int32(dt)))
	}
	size := elemSize(dt)
	raw := make([]byte, size*len(t.Data))
	le := binary.LittleEndian
	for i, v := range t.Data {
		f := float64(v)
		if dt == onnxpb.TensorProto_DOUBLE {
			le.PutUint64(raw[8*i:], math.Float64bits(f))
			continue
		}
		if math.IsNaN(f) || f != math.Trunc(f) {
			return nil, fmt.Errorf("value %v is not an integer, as %s needs", v, dataTypeName(int32(dt)))
		}
		saturates := dt == onnxpb.TensorProto_INT64 || dt == onnxpb.TensorProto_UINT64
		if (f < lo || f > hi) && !saturates {
			return nil, fmt.Errorf("value %v is out of range for %s", v, dataTypeName(int32(dt)))
		}
		var u uint64
		switch {
		case f < lo:
			u = uint64(int64(lo)) // INT64 below MinInt64 (only -2^63 itself, exactly)
		case f >= hi && dt == onnxpb.TensorProto_INT64:
			u = math.MaxInt64
		case f >= hi && dt == onnxpb.TensorProto_UINT64:
			u = math.MaxUint64
		case f >= 1<<63:
			u = uint64(f)
		default:
			u = uint64(int64(f))
		}
		switch size {
		case 1:
			raw[i] = byte(u)
		case 2:
			le.PutUint16(raw[2*i:], uint16(u))
		case 4:
			le.PutUint32(raw[4*i:], uint32(u))
		case 8:
			le.PutUint64(raw[8*i:], u)
		}
	}
	return &onnxpb.TensorProto{Name: ptr(name), Dims: dimsOf(t.Shape), DataType: ptr(int32(dt)), RawData: raw}, nil
}

func dimsOf(shape []int) []int64 {
	d := make([]int64, len(shape))
	for i, v := range shape {
		d[i] = int64(v)
	}
	return d
}

func shapeStr(shape []int) string {
	if len(shape) == 0 {
		return "scalar"
	}
	return tensor.ShapeString(shape)
}

func ptr[T any](v T) *T { return &v }
