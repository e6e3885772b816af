// Package onnx reads and writes ONNX model files, mapping them 1:1 to and
// from shears' graph IR (package graph).
//
// shears' model files are ONNX files: one file holds the architecture and
// the weights, so a model whose layer widths changed by pruning reloads as
// it is, and a pruned model runs in any ONNX runtime.
//
// # Import
//
// Decode and Load turn an ONNX ModelProto (IR version 3 to 10,
// default-domain opset 6 to 21) into a *graph.Graph; LoadOptions sets
// how (the sizes of symbolic input dimensions):
//
//   - every node becomes a graph.Node with the same op type, inputs and
//     outputs; nodes without a name, or with a name already used, are named
//     OpType_k;
//   - attributes become Go values: INT→int, FLOAT→float32, STRING→string,
//     INTS→[]int, FLOATS→[]float32, TENSOR→*tensor.Tensor;
//   - initializers become params, converted to float32 from any numeric data
//     type (float, double, float16, bfloat16, signed and unsigned integers,
//     bool); Constant nodes become params too, and graph inputs that are
//     initializers are not graph inputs. Load also reads initializers kept
//     as external data (onnx.save_model(..., save_as_external_data=True)),
//     from files that must lie inside the model's folder. Sparse
//     initializers (SparseTensorProto, COO) become dense params too: indices
//     INT64, either linear [NNZ] or coordinates [NNZ, rank], strictly
//     increasing in row-major order; an index out of range, out of order or
//     given twice, or values and indices of different lengths, is an error
//     naming the initializer (sparse.go). SaveWith/EncodeWith with
//     SaveOptions.SparseInitializers write the params with at least 70%
//     zeros that way (linear indices);
//   - input and output shapes come from the graph's inputs and outputs,
//     with −1 for a symbolic (dim_param) or missing dimension;
//   - graph inputs follow the IR's conventions, or the model is refused
//     with an error naming the input: they are FLOAT, an integer type or
//     BOOL (graph.ValueInfo.Type keeps which; the IR holds every value as
//     float32, integers exactly up to 2^24 and booleans as 0 and 1, so
//     token ids, a sample rate or a mask come in as they are, while a
//     Reshape's shape or a Gather's indices fed at run time are refused at
//     compile time: they must be initializers or computed from shapes),
//     and only dimension 0 may be symbolic. That dimension is the batch:
//     cpu.Program replaces every −1 input dimension by the batch size,
//     so a symbolic height or sequence length would silently take the
//     batch's value. Other symbolic dimensions are bound to sizes by
//     LoadOptions.InputShapes (shears --input-shape x=Nx3x48x320), one size
//     per dim_param across the inputs, before folding (see bind.go); a
//     model left with one is refused with an error naming the input, its
//     symbolic shape and the flag. Concrete dimensions are kept as they are;
//   - opset differences are normalised to the opset-13 form the IR uses:
//     the axes/split/k/pads/starts… attributes of older Squeeze, Unsqueeze,
//     ReduceSum, Split, TopK, Pad, Slice and Clip become constant inputs;
//     pre-13 Softmax/LogSoftmax/Hardmax get an explicit axis (an error when
//     their old flatten-to-2-D meaning differs from the opset-13 one for the
//     node's input shape); BatchNormalization's legacy spatial=1 is dropped;
//     Dropout keeps (or gets back from a constant input) its ratio
//     attribute, the IR's form for Dropout; opset 6's broadcast/axis
//     attributes of binary ops become numpy broadcasting (the second
//     input reshaped or unsqueezed to align at axis; a 1-D PRelu slope
//     aligns with the channels), and its is_test attributes go
//     (BatchNormalization is_test=0 becomes training_mode=1); Upsample
//     (opsets 7–9) becomes the equivalent Resize; the opset-18 axes of
//     Resize and Pad become scales, sizes or pads for every axis (the
//     changes of opsets 18 to 21 are listed in opset18.go); an opset-18
//     GroupNormalization's per-group scale and bias become per-channel
//     ones (opset 21's form, which the IR holds); an LSTM or GRU with
//     layout=1 becomes layout 0 between Transposes; a Range over
//     constants folds;
//   - every node's op is built once (cpu.NewOp), so that attributes an
//     op refuses (a 3-D convolution, a Cast to STRING) fail the import,
//     naming the node;
//   - an integer Div (its element type inferred from initializers,
//     Constant nodes, Shape, Cast ...) is followed by a Cast to its own
//     integer type, which truncates as integer division does: the IR's Div
//     is a float division;
//   - a float16 model computes in float32 between the casts the file has,
//     as ONNX Runtime's CPU provider runs most float16 nodes;
//     LoadOptions.Float16Round instead follows every node whose output is
//     FLOAT16 and whose op can make values float16 cannot hold (a Conv, an
//     Add, a Sigmoid, a bilinear Resize; not a Relu, MaxPool or Concat) by
//     a Cast to FLOAT16, which rounds as a float16 runtime does. The export
//     drops these casts (a FLOAT16 to FLOAT16 cast does nothing in ONNX);
//   - constant subgraphs are folded, by running the graph's own ops (see
//     fold.go): a node whose inputs are all params, or that computes only
//     from params and the shapes of activations (Shape → Gather →
//     Unsqueeze → Concat, the way PyTorch exports x.view(x.size(0), -1)),
//     becomes a param when it gives the same value at two batch sizes; a
//     Reshape (Expand) whose shape follows the batch gets a constant shape
//     with 0 ("copy the input's dimension"; 1 for Expand) or −1 in the
//     entries that follow the batch, and a Resize whose sizes follow the
//     batch (F.interpolate(x, size=...)) gets constant scales instead. A
//     ConstantOfShape whose shape follows the batch (torch.full_like,
//     tf2onnx's zero-padded shortcuts) goes: a broadcasting reader (Add,
//     Mul, ...) reads a param of the fill with 1 for the batch, and a
//     Concat of an activation with it becomes a constant Pad of the
//     activation; each rewrite is checked to give the same shapes at both
//     batches. Nodes and params that only fed what was folded are
//     dropped; graph outputs are never folded. A folded constant may hold
//     the channel count of a value that package prune later slims (Resize
//     sizes, a Reshape or Expand shape, channel pads): prune's surgery
//     rewrites that entry (see "Shapes computed from widths" in package
//     prune for why shapes are folded rather than kept symbolic);
//   - metadata_props become Graph.Meta, except "shears.trainable"
//     (TrainableKey), which becomes Graph.TrainOverrides (a param it names
//     is not folded, and a name the graph lacks is an error); then
//     graph.LabelAxes labels params.
//
// A model using op types that the graph package does not implement (see
// cpu.SupportedOps), or ops of another domain, is refused with one error
// listing them all, e.g.
//
//	onnx: model.onnx: 3 unsupported nodes: LSTM (lstm_1), GRU (gru_0, gru_3)
//
// The reader treats its input as hostile: malformed, truncated or foreign
// files, absurd shapes, inconsistent tensor data, cycles and dangling
// references are errors, never panics; the wire bytes are checked against
// the limits (MaxNodes, MaxItems, MaxRepeatedInts, MaxDepth, MaxRank) before
// they are unmarshalled, and tensor data lengths against dims before any
// tensor is allocated.
//
// # Export
//
// Encode and Save write IR version 8, opset 13 (default domain; raised to
// at most 17 only when the graph uses an op or attribute newer than 13,
// such as HardSwish or Reshape's allowzero), producer "shears"
// (ProducerVersion), and metadata_props from Graph.Meta plus
// "shears.format" = FormatVersion, so that later readers can tell which
// conventions a file follows (files without it, foreign ONNX, load too),
// and "shears.trainable" with the trainability overrides of the params the
// graph still has (Graph.SetTrainable), as a JSON object.
//
// The IR holds every tensor as float32; ONNX types some inputs as integers
// or booleans. Params are written as FLOAT initializers in raw_data, except
// those read by such inputs, which are written with the type ONNX wants:
//
//	op               input (index)                       written as
//	Reshape          shape (1)                           INT64
//	Slice            starts, ends, axes, steps (1-4)     INT64
//	Squeeze          axes (1)                            INT64
//	Unsqueeze        axes (1)                            INT64
//	Pad              pads (1), axes (3)                  INT64
//	Split            split (1)                           INT64
//	Gather           indices (1); also GatherElements,   INT64
//	                 GatherND, ScatterElements, ScatterND
//	ReduceSum        axes (1); also the other Reduce*    INT64
//	                 ops' opset-18 axes input
//	Tile             repeats (1)                         INT64
//	Expand           shape (1)                           INT64
//	TopK             k (1)                               INT64
//	ConstantOfShape  input (0)                           INT64
//	Resize           sizes (3)                           INT64
//	CumSum           axis (1)                            INT64
//	Trilu            k (1)                               INT64
//	OneHot           depth (1)                           INT64
//	Dropout          training_mode (2)                   BOOL
//	Where            condition (0)                       BOOL
//
// Beyond this table, element types follow the data through the graph the
// way ONNX does (Shape and ArgMax give INT64, Equal BOOL, Cast its "to",
// most ops the type of their data input), and a param feeding an op whose
// data is, say, INT64 is written as INT64. Integer values must be integers
// (INT64_MAX, which float32 cannot hold, saturates and comes back). A param
// read with two types is written twice, the copy named <name>_int64 (or
// _bool, ...). Graph inputs are FLOAT unless only read as one of the typed
// inputs above.
//
// Legacy attribute forms that the IR's ops accept but opset 13 does not
// (Squeeze/Unsqueeze axes, Split split or num_outputs, Slice starts/ends/
// axes, Pad pads/value, Clip min/max, Dropout ratio) are written as
// constant inputs; an opset-18 axes input of ReduceMean and the like is
// written as the attribute.
//
// Output shapes come from shape inference (cpu.Compile, InferShapes at
// batch 1 and 2): a dimension that follows the batch is written as
// dim_param "N", as are the −1 dimensions of inputs. Save replaces a file
// atomically.
//
// # Round trip
//
// Decode(Encode(g)) equals g — nodes, attributes, params bit for bit,
// inputs, outputs, metadata — for a topologically sorted graph whose params
// are labelled by graph.LabelAxes, whose output shapes are the inferred
// ones, which has a name (an empty one is written as "graph", since ONNX
// requires one) and which uses the opset-13 forms (the legacy attribute
// forms above come back as inputs, except Dropout's ratio).
//
// # Tensor files
//
// DecodeTensor and EncodeTensor read and write serialised TensorProtos,
// the .pb files of ONNX's test data sets (shears run reads and writes
// them, and NumPy .npy files).
//
// # Errors
//
// Errors are lower-case, prefixed "onnx: <file>: " and name the node they
// concern, as in `onnx: model.onnx: node "conv1" (Conv): attribute "pads":
// ...`.
package onnx
