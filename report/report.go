package report

import (
	"runtime"
	"runtime/debug"

	"github.com/shearsml/shears/internal/cpu"
)

// Version is the schema version of every result (the "version" field).
const Version = 1

// Provenance says what produced a result.
type Provenance struct {
	Module      string   `json:"module"`
	Version     string   `json:"module_version"`     // "(devel)" for a build from a checkout
	Commit      string   `json:"commit,omitempty"`   // vcs.revision, when built from a checkout
	Modified    bool     `json:"modified,omitempty"` // the checkout had uncommitted changes
	Go          string   `json:"go"`
	OS          string   `json:"os"`
	Arch        string   `json:"arch"`
	CPUFeatures []string `json:"cpu_features"` // the SIMD kernels this machine may use
	Threads     int      `json:"threads"`
}

// NewProvenance describes this binary and machine, running with threads
// worker threads.
func NewProvenance(threads int) Provenance {
	p := Provenance{Module: "github.com/shearsml/shears", Version: "unknown", Go: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUFeatures: []string{}, Threads: threads}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path != "" {
			p.Module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			p.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				p.Commit = s.Value
			case "vcs.modified":
				p.Modified = s.Value == "true"
			}
		}
	}
	if cpu.AVX2FMA {
		p.CPUFeatures = append(p.CPUFeatures, "avx2", "fma")
	}
	if cpu.AVX512 {
		p.CPUFeatures = append(p.CPUFeatures, "avx512f", "avx512vl", "avx512bw", "avx512dq")
	}
	return p
}

// Header starts every result: which command, which schema, what ran it.
type Header struct {
	Command    string     `json:"command"`
	Version    int        `json:"version"`
	Provenance Provenance `json:"provenance"`
}

// NewHeader returns the header of a command's result.
func NewHeader(command string, threads int) Header {
	return Header{Command: command, Version: Version, Provenance: NewProvenance(threads)}
}

// Train is the result of shears train.
type Train struct {
	Header
	Model           string   `json:"model"`
	Data            string   `json:"data"`
	TrainImages     int      `json:"train_images"`
	Limit           int      `json:"limit"` // --limit (0: all)
	Epochs          int      `json:"epochs"`
	Batch           int      `json:"batch"`
	LR              float32  `json:"lr"`
	Seed            uint64   `json:"seed"`
	Threads         int      `json:"threads"`
	TestAccuracy    float64  `json:"test_accuracy"`
	TrainLoss       float64  `json:"train_loss"`
	TrainAccuracy   float64  `json:"train_accuracy"`
	ImagesPerSecond float64  `json:"images_per_second"`
	Seconds         float64  `json:"seconds"`
	Params          int      `json:"params"`
	MACs            int      `json:"macs"`
	Out             string   `json:"out"`
	Resumed         string   `json:"resumed,omitempty"` // the checkpoint the run resumed from
	Notes           []string `json:"notes,omitempty"`   // settings shears adjusted (a batch capped by the data)
}

// Eval is the result of shears eval.
type Eval struct {
	Header
	Model           string   `json:"model"`
	Data            string   `json:"data"`
	TestImages      int      `json:"test_images"`
	TestAccuracy    float64  `json:"test_accuracy"`
	ImagesPerSecond float64  `json:"images_per_second"`
	Seconds         float64  `json:"seconds"`
	Notes           []string `json:"notes,omitempty"`
}

// Layer is one row of Info: a node's output shape (at batch 1), params
// and multiply-accumulates.
type Layer struct {
	Name   string `json:"name"`
	Op     string `json:"op"`
	Output []int  `json:"output"`
	Params int    `json:"params"`
	MACs   int    `json:"macs"`
}

// Info is the result of shears info.
type Info struct {
	Header
	Model         string  `json:"model"`
	Params        int     `json:"params"`
	NonzeroParams int     `json:"nonzero_params"`
	MACs          int     `json:"macs"`
	Layers        []Layer `json:"layers"`
	// With --groups: the dependency groups and what cannot be pruned.
	Groups     []string `json:"groups,omitempty"`
	Unprunable []string `json:"unprunable,omitempty"`
}

// Output is one output of a run: its name, shape and the file it went to.
type Output struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file,omitempty"`
}

// NodeTime is one row of a run's --profile: a node's mean time per run.
type NodeTime struct {
	Node  string  `json:"node"`
	Op    string  `json:"op"`
	Ms    float64 `json:"ms"`
	Fused bool    `json:"fused,omitempty"`
}

// Run is the result of shears run.
type Run struct {
	Header
	Model     string     `json:"model"`
	Batch     int        `json:"batch"`
	Threads   int        `json:"threads"`
	Runs      int        `json:"runs"`
	Warmup    int        `json:"warmup"`
	LatencyMs float64    `json:"latency_ms"`
	P90Ms     float64    `json:"p90_ms"`
	Outputs   []Output   `json:"outputs"`
	Profile   []NodeTime `json:"profile,omitempty"`
}

// Export is the result of shears export.
type Export struct {
	Header
	Model           string `json:"model"`
	Out             string `json:"out"`
	Nodes           int    `json:"nodes"`
	Params          int    `json:"params"`
	Bytes           int64  `json:"bytes"`
	FoldedBatchNorm int    `json:"folded_batchnorm"`
}
