package onnx

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// SaveOptions are the choices of SaveWith and EncodeWith; the zero value
// writes what Save does.
type SaveOptions struct {
	// SparseInitializers writes every float param whose fraction of zeros
	// is at least SparseMinZeros as a sparse_initializer (ONNX
	// SparseTensorProto, COO): the non-zero values and their flat, sorted
	// linear indices as INT64, 12 bytes per non-zero instead of 4 per
	// element. A 98%-sparse weight is about 16× smaller. Runtimes that read
	// sparse initializers (ONNX Runtime does) turn them back into dense
	// tensors at load, so the outputs are the same.
	SparseInitializers bool
	// SparseMinZeros is the zero fraction from which a param is written
	// sparse (0: DefaultSparseMinZeros). Below 2/3 zeros the COO form is
	// larger than the dense one; the default leaves a margin for
	// the protobuf overhead.
	SparseMinZeros float64
}

// DefaultSparseMinZeros is SaveOptions.SparseMinZeros's default: a param
// with at least 70% zeros is written sparse. COO with INT64 indices takes
// 12 bytes per non-zero against 4 per element dense: it is smaller from
// 2/3 zeros on.
const DefaultSparseMinZeros = 0.7

// minSparseElements: tensors smaller than this stay dense whatever their
// zeros (a sparse tensor costs two tensor headers).
const minSparseElements = 64

// SaveWith is Save with options.
func SaveWith(path string, g *graph.Graph, o SaveOptions) error {
	b, err := encodeWith(g, o)
	if err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	return nil
}

// EncodeWith is Encode with options.
func EncodeWith(g *graph.Graph, o SaveOptions) ([]byte, error) {
	b, err := encodeWith(g, o)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return b, nil
}

// sparsify moves the dense FLOAT initializers of gp with enough zeros to
// sparse initializers.
func sparsify(gp *onnxpb.GraphProto, o SaveOptions) {
	minZeros := o.SparseMinZeros
	if minZeros <= 0 {
		minZeros = DefaultSparseMinZeros
	}
	dense := gp.Initializer[:0]
	for _, tp := range gp.Initializer {
		if tp.GetDataType() != int32(onnxpb.TensorProto_FLOAT) || len(tp.RawData)/4 < minSparseElements {
			dense = append(dense, tp)
			continue
		}
		n := len(tp.RawData) / 4
		nnz := 0
		for i := range n {
			if binary.LittleEndian.Uint32(tp.RawData[4*i:])&0x7fffffff != 0 { // −0 counts as zero
				nnz++
			}
		}
		if float64(n-nnz) < minZeros*float64(n) {
			dense = append(dense, tp)
			continue
		}
		values := make([]byte, 0, 4*nnz)
		indices := make([]byte, 0, 8*nnz)
		for i := range n {
			bits := binary.LittleEndian.Uint32(tp.RawData[4*i:])
			if bits&0x7fffffff != 0 {
				values = binary.LittleEndian.AppendUint32(values, bits)
				indices = binary.LittleEndian.AppendUint64(indices, uint64(i))
			}
		}
		gp.SparseInitializer = append(gp.SparseInitializer, &onnxpb.SparseTensorProto{
			Values:  &onnxpb.TensorProto{Name: tp.Name, Dims: []int64{int64(nnz)}, DataType: ptr(int32(onnxpb.TensorProto_FLOAT)), RawData: values},
			Indices: &onnxpb.TensorProto{Dims: []int64{int64(nnz)}, DataType: ptr(int32(onnxpb.TensorProto_INT64)), RawData: indices},
			Dims:    tp.Dims,
		})
	}
	gp.Initializer = dense
}

// sparseToDense reads a sparse initializer: values [NNZ] of any numeric
// type, indices INT64 either [NNZ] (linear) or [NNZ, rank] (coordinates),
// strictly increasing in row-major order, each in range.
func sparseToDense(sp *onnxpb.SparseTensorProto) (string, *tensor.Tensor, error) {
	vp := sp.GetValues()
	if vp == nil {
		return "", nil, fmt.Errorf("a sparse initializer has no values")
	}
	name := vp.GetName()
	fail := func(format string, args ...any) (string, *tensor.Tensor, error) {
		return name, nil, fmt.Errorf("sparse initializer %q: %s", name, fmt.Sprintf(format, args...))
	}
	if name == "" {
		return "", nil, fmt.Errorf("a sparse initializer's values have no name")
	}
	shape := make([]int, len(sp.Dims))
	total := int64(1)
	for i, d := range sp.Dims {
		if d < 0 || (d > 0 && total > int64(MaxModelBytes)/d) {
			return fail("bad dims %v", sp.Dims)
		}
		shape[i] = int(d)
		total *= d
	}
	if len(vp.Dims) != 1 {
		return fail("values have dims %v, want one dimension [NNZ]", vp.Dims)
	}
	values, err := tensorFromProto(vp)
	if err != nil {
		return fail("values: %v", err)
	}
	nnz := len(values.Data)
	ip := sp.GetIndices()
	if ip == nil {
		if nnz != 0 {
			return fail("%d values but no indices", nnz)
		}
		return name, tensor.New(shape...), nil
	}
	if ip.GetDataType() != int32(onnxpb.TensorProto_INT64) {
		return fail("indices are %s, want INT64", dataTypeName(ip.GetDataType()))
	}
	idx, err := int64Data(ip)
	if err != nil {
		return fail("indices: %v", err)
	}
	rank := len(shape)
	switch {
	case len(ip.Dims) == 1 && ip.Dims[0] == int64(nnz) && len(idx) == nnz:
	case len(ip.Dims) == 2 && ip.Dims[0] == int64(nnz) && ip.Dims[1] == int64(rank) && len(idx) == nnz*rank:
		// Coordinates: turn them into linear indices, each in its dim's range.
		lin := make([]int64, nnz)
		for k := range nnz {
			var l int64
			for a := range rank {
				c := idx[k*rank+a]
				if c < 0 || c >= sp.Dims[a] {
					return fail("index %d: coordinate %d on axis %d is out of range [0, %d)", k, c, a, sp.Dims[a])
				}
				l = l*sp.Dims[a] + c
			}
			lin[k] = l
		}
		idx = lin
	default:
		return fail("%d values but indices of dims %v holding %d numbers: want [%d] (linear) or [%d, %d] (coordinates)", nnz, ip.Dims, len(idx), nnz, nnz, rank)
	}
	out := tensor.New(shape...)
	prev := int64(-1)
	for k, l := range idx {
		switch {
		case l < 0 || l >= total:
			return fail("index %d (position %d) is out of range [0, %d)", l, k, total)
		case l == prev:
			return fail("index %d is given twice (positions %d and %d)", l, k-1, k)
		case l < prev:
			return fail("indices are not sorted: %d at position %d follows %d", l, k, prev)
		}
		out.Data[l] = values.Data[k]
		prev = l
	}
	return name, out, nil
}

// int64Data reads an INT64 tensor's numbers from int64_data or raw_data.
func int64Data(tp *onnxpb.TensorProto) ([]int64, error) {
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.ExternalData) > 0 {
		return nil, fmt.Errorf("stored in an external file, which is not supported for sparse indices")
	}
	if raw := tp.GetRawData(); len(raw) > 0 {
		if len(raw)%8 != 0 {
			return nil, fmt.Errorf("%d raw bytes, not a whole number of int64", len(raw))
		}
		v := make([]int64, len(raw)/8)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return v, nil
	}
	return tp.GetInt64Data(), nil
}

// densify replaces the graph's sparse initializers by dense ones of their
// values' data type, which the rest of the decoder reads as any other.
func (d *decoder) densify(gp *onnxpb.GraphProto) error {
	inits := slices.Clone(gp.Initializer)
	for _, sp := range gp.SparseInitializer {
		if vp := sp.GetValues(); vp != nil {
			if err := resolveExternal(vp, d.dir); err != nil {
				return d.errf("sparse initializer %q: %v", vp.GetName(), err)
			}
		}
		name, t, err := sparseToDense(sp)
		if err != nil {
			return d.errf("%v", err)
		}
		dt := onnxpb.TensorProto_DataType(sp.GetValues().GetDataType())
		switch dt {
		case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
			dt = onnxpb.TensorProto_FLOAT
		}
		tp, err := typedTensorProto(name, t, dt)
		if err != nil {
			return d.errf("sparse initializer %q: %v", name, err)
		}
		inits = append(inits, tp)
	}
	gp.Initializer, gp.SparseInitializer = inits, nil
	return nil
}
