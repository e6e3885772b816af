// Package cpu is shears' CPU backend: it compiles a graph.Graph into a
// Program that runs it with the pure-Go kernels of internal/gemm,
// internal/kernels, internal/vec and internal/blocked, on all cores.
//
// # Programs
//
// Compile validates a graph (unknown ops, dangling inputs, cycles, shape
// errors all come back as errors naming the node) and returns a Program:
// one Op per node, built by the op type's kernel in topological order,
// with buffers reused across calls. Program.Forward runs in inference or
// training mode; Program.Backward accumulates parameter gradients for the
// last training forward. Shapes are re-inferred whenever the batch size
// changes, and a rewritten graph (pruned widths) is simply compiled again.
// Backend is the same behind the backend.Backend interface.
//
// CompileInference (inference only) folds BatchNormalization into the
// convolution before it (graph.FoldBatchNorm), fuses a Relu or Clip into
// the convolution or Add before it and a residual Add into the
// convolution before it, and, on machines with AVX-512, runs runs of
// convolutions and the ops between them on the NCHW16c layout of
// internal/blocked (blocked.go). Its values live in one arena planned by
// liveness at each batch size (memory.go), so a program needs the memory
// live at its busiest step rather than the sum of its values; Value then
// answers nil for shared intermediate values, and KeepValues(true) gives
// every value its own buffer again. ActivationBytes reports the planned
// figure. Program.ShareGradients keeps activation gradients in buffers
// shared by values whose gradients are never live at once (the trainer
// turns it on). ProfileOps times each node's Forward (OpTimes).
//
// # Kernels
//
// graph.RegisterOp says what an op type means; RegisterKernel says how the
// CPU runs it: a Builder that makes the node's Op (Infer, Forward,
// Backward) from its attributes, decoded by the op's exported graph parser
// (graph.ParseConv, ...). Each op's kernel is in op_NAME.go, next to the
// spec of the same name in package graph. Supported and SupportedOps name
// the op types with both a spec and a kernel; NewOp builds one node's Op
// and calls any other type "unsupported op type". Register is the short
// form for a custom op that needs only a builder: it registers a spec whose
// shapes come from building the Op and asking it, and the builder as the
// kernel.
//
// Every op with a spec and a kernel has a finite-difference gradient
// check in this package's tests, unless its spec says why it has no
// gradient (OpSpec.NoGradient); TestMain fails, naming the op, otherwise.
package cpu
