package recipe

import (
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune"
)

// ReportVersion is the version of the Report's JSON form. It goes up when
// a field changes meaning or goes away; new fields keep it.
const ReportVersion = 1

// Report is the outcome of Run, typed and versioned so that a caller
// prints it as JSON as it is (`shears prune --json`). Outputs and Seconds
// are the caller's to fill in when it writes files or times more than Run.
type Report struct {
	Version        int            `json:"version"` // ReportVersion
	Command        string         `json:"command"` // "prune"
	Model          string         `json:"model"`
	Criterion      string         `json:"criterion"`
	Granularity    string         `json:"granularity"`
	Schedule       string         `json:"schedule"`
	Recovery       string         `json:"recovery"` // a Recoveries name: none, finetune or from_scratch
	Target         float64        `json:"target_ratio"`
	Achieved       float64        `json:"achieved_ratio"` // of the granularity's units (channels, weights, blocks)
	Global         bool           `json:"global"`
	FinetuneEpochs int            `json:"finetune_epochs"`
	Seed           uint64         `json:"seed"`
	LayerRatios    []float64      `json:"layer_ratios,omitempty"` // from a sensitivity analysis
	Metrics        *prune.Metrics `json:"metrics"`
	Summary        []string       `json:"summary"`
	Warnings       []string       `json:"warnings"` // a list, empty when there were none
	// Lottery ticket: every training, with test accuracy per epoch.
	Lottery []TrainingRun `json:"lottery,omitempty"`
	// Outputs names the files written, by kind (slim, masked, plot): set
	// by the caller that writes them.
	Outputs map[string]string `json:"outputs,omitempty"`
	Seconds float64           `json:"seconds"` // wall time of Run, or of the caller's whole run

	// Sensitivity analysis, when run (WriteCurves and PlotCurves write it).
	BaseAccuracy float64       `json:"-"`
	Curves       []prune.Curve `json:"-"`

	Masked *graph.Graph `json:"-"` // nil when trained from scratch after slimming
	Slim   *graph.Graph `json:"-"` // nil for granularities that only mask
}

// SweepReport is the outcome of a sweep over target ratios (Recipe.Sweep):
// one Report per ratio.
type SweepReport struct {
	Version int       `json:"version"` // ReportVersion
	Command string    `json:"command"` // "prune"
	Runs    []*Report `json:"runs"`
}

// NewSweepReport wraps the reports of a sweep.
func NewSweepReport(runs []*Report) *SweepReport {
	return &SweepReport{Version: ReportVersion, Command: "prune", Runs: runs}
}
