//go:build cgo

// Package ortref runs ONNX models in ONNX Runtime (CPU), the reference
// runtime that shears' tests and inference benchmark compare with.
//
// It loads libonnxruntime.so through github.com/yalue/onnxruntime_go, which
// uses cgo; only tests and internal/cmd/benchinfer import this package, so
// the shears binary stays pure Go. The library comes from npm:
//
//	npm install --prefix .cache/ort --ignore-scripts onnxruntime-node@1.30.0
//
// (.ci/run does this). onnxruntime_go v1.27.0 asks the library for C API
// version 24 (ORT 1.24); ORT's C API is backward compatible, and
// OrtGetApiBase()->GetApi(24) of ORT 1.30 returns the version-24 function
// table, which Init checks by loading the library and reporting its version.
package ortref

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/shearsml/shears/tensor"
)

// EnvLib names the environment variable that points at libonnxruntime.
const EnvLib = "SHEARS_ORT_LIB"

// ErrNoLibrary is returned (wrapped) by Init when no library is found.
var ErrNoLibrary = errors.New("ONNX Runtime library not found")

// Version is the pinned onnxruntime-node release .ci/run installs.
const Version = "1.30.0"

// LibPath returns the ONNX Runtime shared library: $SHEARS_ORT_LIB, else
// the npm package under .cache/ort or node_modules of the module root (or
// of any parent of the working directory).
func LibPath() (string, error) {
	if p := os.Getenv(EnvLib); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoLibrary, EnvLib, p, err)
		}
		return p, nil
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	rel := filepath.Join("onnxruntime-node", "bin", "napi-v6", "linux", arch, "libonnxruntime.so.1")
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	var tried []string
	for {
		for _, base := range []string{filepath.Join(dir, ".cache", "ort", "node_modules"), filepath.Join(dir, "node_modules")} {
			p := filepath.Join(base, rel)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("%w: set %s or run: npm install --prefix .cache/ort --ignore-scripts onnxruntime-node@%s (looked in %d places, e.g. %s)",
		ErrNoLibrary, EnvLib, Version, len(tried), tried[0])
}

var (
	initOnce sync.Once
	initErr  error
)

// Init loads the library once per process; later calls return the first
// result.
func Init() error {
	initOnce.Do(func() {
		p, err := LibPath()
		if err != nil {
			initErr = err
			return
		}
		ort.SetSharedLibraryPath(p)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("ONNX Runtime %s: %w", p, err)
		}
	})
	return initErr
}

// RuntimeVersion is the loaded library's version string.
func RuntimeVersion() string { return ort.GetVersion() }

// Session is a loaded model.
type Session struct {
	s       *ort.DynamicAdvancedSession
	inputs  []ort.InputOutputInfo
	outputs []ort.InputOutputInfo
}

// Options configure a session.
type Options struct {
	// Threads is the intra-op thread count (0: ORT's default); inter-op
	// parallelism is off.
	Threads int
	// ProfilePrefix, when set, makes ORT write a JSON trace of every node's
	// time to a file of that prefix when the session closes.
	ProfilePrefix string
}

// Open loads an ONNX model from bytes.
func Open(model []byte, o Options) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if o.Threads > 0 {
		if err := opts.SetIntraOpNumThreads(o.Threads); err != nil {
			return nil, err
		}
	}
	if o.ProfilePrefix != "" {
		if err := opts.EnableProfiling(o.ProfilePrefix); err != nil {
			return nil, err
		}
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	if err := opts.SetExecutionMode(ort.ExecutionModeSequential); err != nil {
		return nil, err
	}
	var inNames, outNames []string
	for _, i := range ins {
		inNames = append(inNames, i.Name)
	}
	for _, i := range outs {
		outNames = append(outNames, i.Name)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inNames, outNames, opts)
	if err != nil {
		return nil, err
	}
	return &Session{s: s, inputs: ins, outputs: outs}, nil
}

// OpenFile loads an ONNX model file.
func OpenFile(path string, o Options) (*Session, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Open(b, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// InputNames lists the model's inputs in order.
func (s *Session) InputNames() []string {
	var n []string
	for _, i := range s.inputs {
		n = append(n, i.Name)
	}
	return n
}

// Run runs the model on float32 inputs (in model order) and returns the
// outputs as float32 (integer outputs converted).
func (s *Session) Run(inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("model takes %d inputs, have %d", len(s.inputs), len(inputs))
	}
	ins := make([]ort.Value, len(inputs))
	for i, x := range inputs {
		shape := make([]int64, len(x.Shape))
		for k, d := range x.Shape {
			shape[k] = int64(d)
		}
		t, err := ort.NewTensor(ort.NewShape(shape...), x.Data)
		if err != nil {
			return nil, err
		}
		defer t.Destroy()
		ins[i] = t
	}
	outs := make([]ort.Value, len(s.outputs))
	if err := s.s.Run(ins, outs); err != nil {
		return nil, err
	}
	res := make([]*tensor.Tensor, len(outs))
	for i, v := range outs {
		defer v.Destroy()
		dims := v.GetShape()
		shape := make([]int, len(dims))
		for k, d := range dims {
			shape[k] = int(d)
		}
		t := tensor.New(shape...)
		switch v := v.(type) {
		case *ort.Tensor[float32]:
			copy(t.Data, v.GetData())
		case *ort.Tensor[float64]:
			for k, x := range v.GetData() {
				t.Data[k] = float32(x)
			}
		case *ort.Tensor[int64]:
			for k, x := range v.GetData() {
				t.Data[k] = float32(x)
			}
		case *ort.Tensor[int32]:
			for k, x := range v.GetData() {
				t.Data[k] = float32(x)
			}
		default:
			return nil, fmt.Errorf("output %q: unsupported ORT value %T", s.outputs[i].Name, v)
		}
		res[i] = t
	}
	return res, nil
}

// Close frees the session.
func (s *Session) Close() error { return s.s.Destroy() }
