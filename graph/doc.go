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
// alone (OpSpec.Infer), without building an Op or allocating a buffer:
// what pruning's dependency analysis and Stats need. Its errors are
// Compile's. Graph.Sort orders the nodes topologically in O((n+e) log n),
// leaving a sorted graph as it is.
//
// # Execution
//
// Compile validates a graph (unknown ops, dangling inputs, cycles, shape
// errors all come back as errors naming the node) and returns a Program: ops
// instantiated from the registry in topological order, with buffers reused
// across calls. Program.Forward runs in inference or training mode;
// Program.Backward accumulates parameter gradients for the last training
// forward. Shapes are re-inferred whenever the batch size changes, and a
// rewritten graph (pruned widths) is simply compiled again.
//
// Two variants trade generality for speed or memory. CompileInference
// (inference only) folds BatchNormalization into the convolution before
// it, fuses a Relu or Clip into the convolution or Add before it and a
// residual Add into the convolution before it, and, on machines with
// AVX-512, runs runs of convolutions and the ops between them on the
// NCHW16c layout of internal/blocked (blocked.go). Its values live in one
// arena planned by liveness at each batch size (memory.go: a value holds
// its place from its producer to its last reader; graph outputs keep
// buffers of their own), so a program needs the memory live at its
// busiest step rather than the sum of its values; Value then answers nil
// for shared intermediate values, and KeepValues(true) gives every value
// its own buffer again. ActivationBytes reports the planned figure.
// Program.ShareGradients keeps activation gradients in buffers shared by
// values whose gradients are never live at once, as training needs only
// parameter gradients in the end (the trainer turns it on).
//
// # Ops
//
// Each op lives in its own file (op_conv.go, op_pool.go, ...) with Forward
// and Backward, and registers itself once, in an init function, with
// RegisterOp and an OpSpec that holds everything shears knows about it:
//
//   - Build makes the Op (its kernels);
//   - Infer is its shape inference, from the node's attributes (parsed by
//     the same function the builder uses) and its input shapes; the Op's
//     own Infer method runs the same code, then plans its kernels for the
//     shapes;
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
//     from the rule that every op has a finite-difference gradient check;
//     the package's TestMain fails, naming the op, when one has none.
//
// Register(type, builder) is the short form for an op with nothing but a
// builder (its shapes then come from building the Op and asking it).
// Outside the op files, the ONNX codec, the model builders and the
// rewrite passes (fold.go, blocked.go, program.go), no code switches on op
// names to learn what an op means; TestNoOpNameSwitches keeps it so.
package graph
