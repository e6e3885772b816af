package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// DecodeTensor reads a serialised ONNX TensorProto (the .pb files of ONNX's
// test data sets), converting any numeric element type to float32. It
// returns the tensor's name (possibly empty). Like Decode it treats its
// input as hostile: data lengths are checked against the dims before
// anything is allocated.
func DecodeTensor(b []byte) (string, *tensor.Tensor, error) {
	if len(b) == 0 {
		return "", nil, errors.New("not an ONNX tensor: the file is empty")
	}
	if what := sniff(b); what != "" {
		return "", nil, fmt.Errorf("not an ONNX tensor: this is %s", what)
	}
	if len(b) > MaxModelBytes {
		return "", nil, fmt.Errorf("not an ONNX tensor: %d bytes is more than a protobuf message can hold", len(b))
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(b, &tp); err != nil {
		return "", nil, fmt.Errorf("not an ONNX tensor: %v", err)
	}
	if len(tp.Dims) == 0 && tp.DataType == nil {
		return "", nil, errors.New("not an ONNX tensor: no dims and no data type")
	}
	t, err := tensorFromProto(&tp)
	if err != nil {
		return "", nil, err
	}
	return tp.GetName(), t, nil
}

// EncodeTensor serialises t as a FLOAT ONNX TensorProto (raw_data).
func EncodeTensor(name string, t *tensor.Tensor) ([]byte, error) {
	if t == nil || len(t.Data) != shapeLen(t.Shape) {
		return nil, errors.New("tensor data does not match its shape")
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(floatTensorProto(name, t))
}

func shapeLen(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
