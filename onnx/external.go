package onnx

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// External data: models past protobuf's 2 GB limit, and many exported with
// onnx.save_model(..., save_as_external_data=True), keep initializer bytes
// in files beside the model, named by each tensor's external_data
// (location, offset, length). Load reads them into raw_data before the
// tensor is converted; the location must stay inside the model's folder.

// maxExternalBytes bounds one tensor's external bytes: the most elements a
// tensor may have, at the widest element size.
const maxExternalBytes = int64(tensor.MaxElems) * 8

// resolveExternal replaces tp's external reference by the bytes it names.
// dir is the model's folder ("" when the model came from bytes).
func resolveExternal(tp *onnxpb.TensorProto, dir string) error {
	if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL && len(tp.ExternalData) == 0 {
		return nil
	}
	var loc string
	offset, length := int64(0), int64(-1)
	for _, e := range tp.ExternalData {
		v := e.GetValue()
		var err error
		switch e.GetKey() {
		case "location":
			loc = v
		case "offset":
			offset, err = strconv.ParseInt(v, 10, 64)
		case "length":
			length, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return fmt.Errorf("external data %s %q is not an integer", e.GetKey(), v)
		}
	}
	if loc == "" {
		return fmt.Errorf("external data without a location")
	}
	if dir == "" {
		return fmt.Errorf("data is in an external file (%q), which needs the model's folder: load the model from its file", loc)
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("external data location %q leaves the model's folder", loc)
	}
	if offset < 0 || length < -1 {
		return fmt.Errorf("external data %q: negative offset %d or length %d", loc, offset, length)
	}
	path := filepath.Join(dir, clean)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("external data: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("external data: %v", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("external data %s is not a regular file", path)
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if offset > st.Size() || length > st.Size()-offset {
		return fmt.Errorf("external data %s: bytes %d to %d are past its end (%d bytes)", path, offset, offset+length, st.Size())
	}
	if length > maxExternalBytes {
		return fmt.Errorf("external data %s: %d bytes is more than a tensor can hold", path, length)
	}
	// The dims decide how many bytes the tensor needs: check before reading.
	if _, n, err := shapeFromDims(tp.Dims); err != nil {
		return err
	} else if size := elemSize(onnxpb.TensorProto_DataType(tp.GetDataType())); size > 0 && int64(n)*int64(size) != length {
		return fmt.Errorf("external data %s holds %d bytes, shape %v needs %d", path, length, tp.Dims, int64(n)*int64(size))
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && err != io.EOF {
		return fmt.Errorf("external data %s: %v", path, err)
	}
	tp.RawData = buf
	tp.ExternalData = nil
	tp.DataLocation = nil
	return nil
}
