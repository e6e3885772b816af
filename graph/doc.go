// Package graph is shears' model IR: a graph of named nodes over named values
// and parameters, with op semantics aligned to ONNX so that import and export
// map 1:1, and with enough structure for pruning to read and rewrite it.
//
// # Structure
//
// A Graph has inputs (ValueInfo with a dynamic batch dimension −1), a list
// of Nodes and a list of Params (ONNX initializers). A Node names its op
// type ("Conv", "Gemm", "BatchNormalization", ... exactly as in ONNX), its
// input and output value names and its attributes. Every Param carries an
// axis role per dimension (AxisOut, AxisIn, AxisSpatial) and a Trainable
// flag, derived from how the param is used (LabelAxes, from the op specs):
// this is what pruning asks when it needs to know which slice of a tensor
// belongs to which channel, and what the trainer updates. A user can
// override trainability per param (Graph.SetTrainable: train a learned
// gate, freeze a layer); overrides survive Clone, LabelAxes and ONNX save
// and load.
//
// # Shapes
//
// InferShapes gives every value's shape at a batch size from the op specs
// alone (OpSpec.Infer): what pruning's dependency analysis and Stats need.
// Its errors are the executor's. Graph.Sort orders the nodes topologically
// in O((n+e) log n), leaving a sorted graph as it is.
//
// # What graph does not do
//
// graph says what a model means, not how it is computed: it imports no
// kernel package (internal/gemm, internal/kernels, internal/vec,
// internal/blocked, internal/parallel; TestGraphImportsNoKernel checks
// it). Running a graph is a backend's business: backend/cpu compiles it
// into a Program with a kernel per node. The IR rewrite passes that need
// no kernels live here (FoldBatchNorm in fold.go).
//
// # Ops
//
// Each op has its own file (op_conv.go, op_pool.go, ...) holding its
// meaning, registered once, in an init function, with RegisterOp and an
// OpSpec:
//
//   - Infer is its shape inference, from the node's attributes and its
//     input shapes. The attributes are decoded by one exported function
//     per op (ParseConv, ParsePool, ...) returning the decoded form
//     (ConvAttrs, PoolAttrs, ...) with an Infer method: a backend's kernel
//     builds from exactly that, so that no attribute is decoded twice;
//   - Params says what each param input is (ParamKind: weight, bias,
//     scale, shift, running mean or variance; anything undeclared is a
//     constant), its axis roles, and whether it trains. Weights, biases,
//     norm scales and shifts, PReLU slopes, layer-scale Mul params (a
//     Mul of an activation by a param with one value per channel, as
//     ConvNeXt's γ) and bias Adds (an Add of an activation and such a
//     param: a MatMul's bias, TensorFlow's BiasAdd) train; statistics
//     and constants do not;
//   - Weight locates a conv or linear weight and its out and in axes
//     (WeightOf asks it): Gemm's transB is read there and nowhere else;
//   - MACs counts multiply-accumulates (Stats);
//   - Init re-initialises the params the zoo's way (prune.Reinit);
//   - NoGradient exempts an op without a gradient by nature (Constant)
//     from the rule that every op has a finite-difference gradient check
//     (backend/cpu's TestMain fails, naming the op, when one has none).
//
// The kernels that run an op are registered by the backend
// (backend/cpu.RegisterKernel); an op type the CPU runs has both.
// Outside the op files, the ONNX codec, the model builders and the
// rewrite passes (fold.go, backend/cpu's blocked.go and program.go), no
// code switches on op names to learn what an op means;
// TestNoOpNameSwitches keeps it so.
package graph
