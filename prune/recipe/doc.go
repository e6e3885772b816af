// Package recipe is shears' pruning experiment runner, on top of the
// pruning core (package prune): a Recipe describes a whole run — model,
// data, method, target, schedule, recovery and outputs — and is parsed
// strictly from YAML (Parse: an unknown key or a bad value is an error
// naming its line and field path, a FieldError); Run executes it on a
// model and data sets the caller loaded and returns a Report; WriteCurves,
// PlotCurves and LotteryPlot write a run's CSV and PNG outputs.
//
// The core stays free of YAML, image encoders and data sets; everything a
// run needs beyond pruning itself (training, evaluation, hold-out splits,
// sweeps over ratios) lives here.
package recipe
