// Package onnxpb holds the Go types generated from the ONNX protobuf schema
// (onnx.proto, ONNX 1.12, IR version 8), used by package onnx to read and
// write model files. Nothing outside package onnx should need it.
//
// onnx.proto is an unmodified copy of the schema shipped by Debian's
// libonnx-dev (/usr/include/onnx/onnx.proto); the Go import path is set on
// the protoc command line (the M flag) rather than by editing the file.
//
// To regenerate onnx.pb.go, install protoc (Debian protobuf-compiler) and
// the matching protoc-gen-go:
//
//	apt-get install -y protobuf-compiler libonnx-dev
//	cp /usr/include/onnx/onnx.proto internal/onnxpb/   # only when updating the schema
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go generate ./internal/onnxpb/
//
// protoc-gen-go must be on PATH ($(go env GOPATH)/bin). The generated code
// depends only on google.golang.org/protobuf at run time.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/shearsml/shears/internal/onnxpb onnx.proto
