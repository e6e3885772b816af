// Package backend is the seam between shears' model IR (package graph) and
// what executes it: a Backend compiles a graph, for training or for
// inference only, into a Program, and the trainer, the pruning criteria
// and the CLI run Programs through the method set declared here. This is
// GoMLX's split of its graph from its backends (backends.Backend), at
// shears' scale: one interface to compile, one to run.
//
// The CPU backend (package backend/cpu) is today's executor. Its
// implementation still lives in package graph; callers name it through
// backend/cpu (cpu.Compile, cpu.CompileInference, *cpu.Program), so that
// moving the kernels, the fusion passes and the blocked lowering out of
// graph changes no caller. scripts/rename_backend.sh rewrites code that
// calls cpu.Compile and friends to that form.
package backend
