package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/shearsml/shears/internal/onnxpb"
)

// Limits on what a model file may ask the reader to build. They are far
// above any real model and are checked on the wire bytes before the file is
// unmarshalled, so that a small hostile file cannot make the reader
// allocate gigabytes (a protobuf message of 2 bytes decodes to a Go struct
// of about 150).
const (
	// MaxModelBytes is the largest model file accepted: protobuf cannot
	// encode a message of 2 GiB or more.
	MaxModelBytes = 1<<31 - 1
	// MaxNodes bounds the nodes of the graph (and of all subgraphs).
	MaxNodes = 1 << 18
	// MaxItems bounds the protobuf messages plus repeated string elements
	// (node input and output names, ...) in the file: each becomes a Go
	// value of up to a few hundred bytes.
	MaxItems = 1 << 21
	// MaxRepeatedInts bounds the elements of repeated integer fields (dims,
	// INTS attributes, int32_data, int64_data, ...), which decode to 8 bytes
	// each however short their encoding.
	MaxRepeatedInts = 1 << 27
	// MaxDepth bounds the nesting of protobuf messages (subgraphs in
	// attributes, nested types).
	MaxDepth = 64
	// MaxRank bounds the rank of tensors, inputs and outputs.
	MaxRank = 32
)

// limits are the limits prescan applies: the constants above (tests lower
// them to exercise the checks cheaply).
var limits = struct{ nodes, items, ints, depth int }{MaxNodes, MaxItems, MaxRepeatedInts, MaxDepth}

// wireStats is what prescan counts.
type wireStats struct {
	items, nodes, ints int
}

var errLimit = errors.New("limit exceeded")

// prescan walks the wire encoding of a ModelProto, guided by the schema,
// and checks the limits above without allocating anything. It also reports
// wire-format errors (truncation, bad tags) early.
func prescan(b []byte) error {
	var st wireStats
	md := (&onnxpb.ModelProto{}).ProtoReflect().Descriptor()
	return st.message(b, md, 0)
}

func (st *wireStats) message(b []byte, md protoreflect.MessageDescriptor, depth int) error {
	if depth > limits.depth {
		return fmt.Errorf("%w: messages nested more than %d deep", errLimit, limits.depth)
	}
	st.items++
	if st.items > limits.items {
		return fmt.Errorf("%w: more than %d protobuf messages and strings", errLimit, limits.items)
	}
	isGraph := md.FullName() == "onnx.GraphProto"
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		if fd != nil && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			switch {
			case fd.Kind() == protoreflect.MessageKind:
				if isGraph && num == 1 { // GraphProto.node
					st.nodes++
					if st.nodes > limits.nodes {
						return fmt.Errorf("%w: more than %d nodes", errLimit, limits.nodes)
					}
				}
				if err := st.message(v, fd.Message(), depth+1); err != nil {
					return err
				}
			case fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind:
				if fd.IsList() {
					st.items++
					if st.items > limits.items {
						return fmt.Errorf("%w: more than %d protobuf messages and strings", errLimit, limits.items)
					}
				}
			case fd.IsList() && isVarintKind(fd.Kind()):
				// Packed varints: one element per byte without the
				// continuation bit.
				for _, c := range v {
					if c < 0x80 {
						st.ints++
					}
				}
				if st.ints > limits.ints {
					return fmt.Errorf("%w: more than %d repeated integers", errLimit, limits.ints)
				}
			}
			b = b[m:]
			continue
		}
		if fd != nil && fd.IsList() && typ == protowire.VarintType {
			st.ints++
			if st.ints > limits.ints {
				return fmt.Errorf("%w: more than %d repeated integers", errLimit, limits.ints)
			}
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[m:]
	}
	return nil
}

func isVarintKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.EnumKind, protoreflect.BoolKind:
		return true
	}
	return false
}
