// Package prune is shears' pruning core: which weights belong together
// (the dependency graph), how they are removed (surgery) or zeroed (masks),
// and what changed (Summary).
//
// # Channels and groups
//
// Removing one filter of a conv is never local: the BatchNorm after it
// loses that channel's γ, β and statistics, the next conv loses the input
// weights that read it, and when the channel runs through a residual Add
// every conv writing into that Add loses the same filter. DepGraph (Fang et
// al., "DepGraph: Towards Any Structural Pruning", CVPR 2023) calls such a
// set a group and finds groups by walking the graph; Analyze does the same
// over shears' IR (package graph), whose ops follow ONNX.
//
// The model is channel-level. A value's channel axis is axis 1 (C of
// N×C×H×W, F of N×F) unless a Transpose moved it (ConvNeXt and
// transformer blocks run their linear layers channels-last, on N×H×W×C).
// A graph input is never pruned, so its channel axis is whatever its
// consumers make of it: a TensorFlow model's N×H×W×C input transposed to
// N×C×H×W has its channels on axis 1 for the first Conv, and an N×T×F
// input read by a MatMul has them last; values holding only a graph
// input's channels take new, equally fixed channels on the axis an op
// wants, instead of making it opaque.
// Every channel of every value is an element of a union-find; a rule per
// op type (Rule, registered with RegisterRule: Torch-Pruning's per-layer
// pruner table) says which elements are the same channel:
//
//   - Conv, Gemm and MatMul with a 2-D param make new channels on their
//     output (W axis 0 and the bias; a Gemm's out axis follows transB; a
//     Conv's on axis 1 whatever its input's layout) and
//     read their input's channels through W's in axis; a MatMul does so
//     on the last axis of an N-d input whose channels are last. A MatMul
//     along another axis (x[N,C,H,W]·B[W,M]) passes the channels, and its
//     weight's M outputs, which are no channels, are refused;
//   - Transpose that keeps the batch first moves the channel axis with
//     it; elementwise ops, arithmetic, MatMul, ReduceMean/Sum/Max/Min,
//     Softmax and LayerNormalization follow it wherever it is, every
//     other op wants it on axis 1;
//   - BatchNormalization, elementwise activations (Relu, Clip, Sigmoid,
//     HardSwish, Erf, Dropout, Cast, …), pools, Pad that leaves the batch
//     and the channels alone (wherever they are: tf2onnx pads N×H×W×C),
//     Gather that leaves axes 0 and 1 in place, Reduce* over
//     other axes than the batch and the channels, and LayerNormalization
//     over axes after the channels pass channels through, with their
//     per-channel params attached (a LayerNorm's Scale and B there are
//     per position, not per channel, and are refused); so do Gelu, Mish,
//     the Reduce L1/L2/SumSquare/LogSum/LogSumExp family over other axes,
//     and a Tile that does not repeat the channel axis (one that does is
//     opaque);
//   - GroupNormalization ties the channels of each group together: a
//     unit is a whole group, and pruning shrinks num_groups (one group
//     is refused); an Einsum that is a linear layer over the last axis
//     ("bsd,df->bsf") owns its weight as a Gemm does, any other equation
//     is opaque with the equation in the reason; LSTM and GRU are opaque;
//   - Add, Sub, Mul, Div, Pow, PRelu and the variadic Sum, Mean, Max and
//     Min couple all operands whose axis aligned with the output's axis 1
//     has the full width (a residual add, a squeeze-excitation Mul by
//     N×C×1×1); a param operand such as a C×1×1 PReLU slope or layer scale
//     contributes its slice; scalars and size-1 axes broadcast and couple
//     nothing;
//   - Concat along the channel axis (axis 1, or the last axis of N×H×W×C
//     values) lays its inputs' channels side by side, so each consumer
//     prunes every producer's slice at its offset (DenseNet), a param
//     operand included (zeros padding a shortcut); Split and step-1 Slice
//     on axis 1 take sub-ranges;
//   - a constant Pad on the channel axis (a shortcut zero-padded to a
//     wider block; the import makes one of Concat(x, ConstantOfShape))
//     shifts its input's channels; the padded ones hold no weights and
//     are pruned with whatever they meet (the block's filters at the
//     residual Add), surgery padding as many as stay;
//   - Expand passes channels whose axis keeps its size, and makes C new
//     channels of one broadcast to C (a spatial gate expand_as'd to its
//     map), coupled with what they meet, as is a ConstantOfShape's
//     output;
//   - Flatten, Reshape, Squeeze and Unsqueeze keep each channel's flat
//     range of the sample: N×C×H×W → N×(C·H·W) gives each channel H·W
//     consecutive features of the next linear layer (Span in a Slice);
//     on channels-last values, views that keep the last axis keep the
//     channels there (Keras' global pooling squeezed to N×C, N×H×W×C
//     as N×H·W×C tokens);
//   - a grouped Conv with one input channel per group (depthwise, with or
//     without a channel multiplier) couples input channel k with the
//     output channels of group k, and pruning removes whole groups (the
//     group attribute shrinks); other grouped convs keep their group
//     count and couple channel p of every group with channel p of the
//     others, on the input and on the output side.
//
// The channels that one conv or linear layer creates, and every channel
// coupled with them, form a Group; its Owner is the first such layer in
// graph order. Group.String lists every coupled param slice, as
// Torch-Pruning's group.details() does:
//
//	conv2: 50 channels: conv2.weight[out 0:50] → conv2.bias[0:50] → fc1.weight[in 0:800, 16 per channel]
//
// What an op's params are (weight, bias, scale, statistic, constant),
// which of a weight's axes are its out and in channels, and whether they
// train is not pruning's business: package graph's op specs declare it
// (graph.OpSpec), and the rules, Summary, Reinit and the criteria ask
// them (graph.WeightOf, graph.ParamUses, Param.Axes) instead of matching
// op names.
//
// # A rule for a new op
//
// A custom op (registered with graph.RegisterOp) is opaque to pruning
// until it has a rule: the channels it reads and writes are then fixed,
// with the reason "no channel rule for op X". To prune through it,
// register a Rule for its type, in an init function or before Analyze:
//
//	prune.RegisterRule("ChannelGain", prune.Rule{
//		// y = x·g[c]: the output has the input's channels, and g's
//		// axis 0 goes with them.
//		Apply: func(a *prune.Analysis, n *graph.Node) {
//			a.Pass(n)
//			if l, ok := a.Layout(n.Outputs[0]); ok {
//				a.Bind(n.Inputs[1], 0, l)
//			}
//		},
//		// g holds one value per output channel: Analyze checks that
//		// it is grouped, never left out silently.
//		Features: func(a *prune.Analysis, n *graph.Node) []prune.ParamAxis {
//			return []prune.ParamAxis{{Param: n.Inputs[1], Axis: 0}}
//		},
//	})
//
// Apply sees the node and the Analysis: the values' shapes
// (Analysis.Shape) and channel axes (ChannelAxis), their channels
// (Layout, SetLayout), and the operations the built-in rules use — pass
// the input's channels through (Pass, PassTo), make new channels on an
// output (NewChannels, a conv's filters), tie a param axis to channels
// (Bind), make two sets of channels the same (Unite, a residual Add), give
// up with a reason (Opaque), or refuse param axes that hold no channels
// (Refuse). A rule that leaves an output's channels untraced, or a
// Features axis unbound, is reported as a bug in the rule. Unless
// Rule.AnyAxis is set, a node whose input has its channels off axis 1 (after
// a Transpose) is made opaque before Apply runs (Conv's rule is AnyAxis: a
// Conv reading such a value fixes what it reads, and its filters are new
// channels on axis 1 all the same). Surgery, masks and
// criteria need nothing more: they act on the bound param slices.
//
// # What cannot be pruned
//
// Graph inputs and outputs keep their width (the classifier's classes are
// fixed). An op that mixes channels or moves the batch axis — a channel
// shuffle (Reshape to N×g×C/g×H×W), Softmax, LayerNormalization or
// a Reduce* across channels (ConvNeXt's LayerNorm: removing a channel
// would change the others' mean and variance), Gather, strided Slice or
// reflecting Pad on the channel axis, a flatten of channels-last values
// (Keras' Flatten after N×H×W×C: each channel owns every C-th feature), Transpose of the batch axis, an op that wants
// channels on axis 1 reading them elsewhere, Shape, Constant, any op
// without a rule — makes the channels it reads and writes unprunable. Every group touched by such
// an op is left out of DepGraph.Groups and reported by
// DepGraph.Unprunable with the reason; nothing is skipped silently.
//
// The same holds for layers: every param axis that holds a layer's output
// features (a Conv's filters and bias, a Gemm's or MatMul's out axis,
// BatchNorm's and LayerNorm's per-feature params) is in a group, prunable
// or refused. An op made opaque owns its weight with the channels it
// makes; a weight whose outputs are no channels at all (a MatMul along a
// spatial axis, a LayerNorm's per-position scale) is refused on its own,
// as the layer's features, with the reason ("MatMul mm multiplies along
// axis 3, not the channel axis (axis 1 of N×8×6×6)"). Reason.Slices lists
// the refused slices, as Group.Slices does for prunable ones.
//
// # Masked and slimmed
//
// Two outputs, clearly named:
//
//   - MaskGroups zeros, in place, every trainable slice of the removed
//     channels — filters, biases, BatchNorm γ and β, the next layers'
//     input weights — and returns the Masks. Shapes do not change. A
//     removed channel is exactly zero after its BatchNorm (β − γ·μ/σ would
//     otherwise leave a constant), and whatever it holds, its consumers'
//     input weights for it are zero.
//   - Prune and PruneGroups remove the same slices, adjust what depends on
//     widths (a depthwise conv's group, Split sizes, Slice bounds, an
//     explicit Reshape width, Resize sizes, Expand and ConstantOfShape
//     shapes, channel pads; see "Shapes computed from widths") and check
//     the result with cpu.Compile; the graph changes only if it
//     compiles. The slimmed graph computes what
//     the masked one computes (the tests check every zoo model at random
//     30% per group) and saves and reloads with package onnx.
//
// One caveat: a masked model computes the slimmed one's outputs as long as
// removed channels stay finite; an op that turns a zeroed channel into
// NaN or Inf (Div by it, Log of it) poisons the masked model only, since
// 0·Inf is NaN.
//
// # Shapes computed from widths
//
// Exporters compute shapes from tensors: PyTorch's F.interpolate(x,
// size=t.shape[2:]) becomes Resize(x, sizes=Concat(Slice(Shape(x), 0:2),
// HW)), x.expand_as(y) Expand(x, Shape(y)), torch.full_like(x, v)
// ConstantOfShape(Shape(x)); tf2onnx pads shortcuts with
// ConstantOfShape(Concat(Shape(x)[0:1], [C, H, W])). Package onnx folds
// these subgraphs at import into params (a shape that follows the batch
// becomes 0, −1 or 1 entries, Resize scales, or a Pad), so that an entry
// of such a param may be the channel count of a value this package
// prunes. Surgery rewrites it: each op whose output shape a param gives
// records which entry is its output's channel count (Resize sizes at the
// channel axis, Reshape's axis 1, Expand's shape aligned to the output's
// channel axis, ConstantOfShape's axis 1, the channel entries of Pad's
// pads), and Prune writes the kept count there.
//
// This, rather than keeping the subgraphs symbolic, is the design, for
// three reasons. The IR's shape inference (cpu.Compile,
// Program.InferShapes) takes shape inputs from params only, which lets a
// program plan every buffer before it runs, at training and inference
// alike; a Shape → Slice → Concat chain kept as nodes would need every
// program to evaluate integer arithmetic for every batch, and the
// analysis to follow integers through it to find which entry is a channel
// count. A folded constant is read by one op whose meaning says which
// entry that is, whatever computed it. And a constant that several nodes
// read (one folded sizes param for two Resizes, or a shape also read as
// data) is copied for each node whose entry changes, so each reader gets
// its own width and the others keep theirs. A folded channel count used
// as data (x / C with C from Shape(x)) keeps its value: that is what the
// masked model computes. A Shape left in the graph (one the import could
// not fold) still makes the channels it reads unprunable.
//
// A DepGraph describes the graph as analysed; after Prune, analyse again
// (stale groups are refused). Keep lists hold channel indices of the group,
// at least one; a pruning that would leave a value with no channels (one
// output of a Split) is refused.
//
// # Masks in training
//
// Masks.Attach makes a train.Trainer keep masked weights at zero: it masks
// gradients before each optimiser step (Masks.MaskGrads, a
// train.AfterBackward callback) and zeros the weights after it (a
// train.AfterStep callback), since momentum and weight decay accumulated
// before the masks were made still move them. Masks.Sparsity reports pruned counts per param and for the
// whole model.
//
// # Methods: granularity, criterion, allocation, schedule, recovery
//
// The survey's axes are small types, one file per method family, each
// answering for itself so that a new method is one new type:
//
//   - Granularity (granularity.go) says what one decision removes:
//     Channels ("filter": scored by the coupled filters, Li et al.;
//     "channel": by every coupled weight slice and BatchNorm scale, as
//     Torch-Pruning) slims the model; Blocks (single weights, SSL's
//     kernel shapes, 1×4 blocks) and NM (2:4) only mask. A granularity
//     says whether it slims (Structured), what its units are (Units),
//     whether a layer keeps a fixed count per set of units (Sets: N of
//     every M) and whether it fixes the sparsity (FixedRatio, which rules
//     out gradual schedules). Layers lists the units: one Layer per
//     group or per conv/linear weight.
//   - Criterion (criterion.go, crit_*.go) scores units, higher is more
//     important, says what it Needs: nothing (random, l1, l2, bn,
//     fpgm, lamp), calibration images (apoz, mean-act, read at
//     DepGraph.ActivationValue; thinet, lasso, obs, wanda, read at the
//     inputs of conv and linear layers through fitLayer's patch model)
//     or labels (taylor, snip, obd), and which
//     granularities it can score (Fits). A channel's score from weight
//     scores sums each coupled slice and combines the slices with
//     Context.Reduction (sum, mean, max); Score then normalises each
//     layer (none, mean, max, sum, gaussian) so that layers compare in a
//     global ranking. A criterion that also implements Selector chooses
//     each layer's kept units itself (ThiNet, LASSO) once allocation has
//     decided how many stay. OBS is a Selector on weights that also
//     updates the kept weights (layer-wise OBC/SparseGPT); Reconstruct
//     (reconstruct.go) refits the kept weights of a pruned model by least
//     squares after any criterion, with BatchNorm statistics re-estimated
//     (the recipe's reconstruct recovery). Both solve with
//     internal/linalg.
//   - Allocator (allocate.go) turns scores into a Plan. Allocation is the
//     same ratio per layer, or a global ranking with a per-layer cap (a
//     layer always keeps one unit; caps that bind are warnings,
//     unreachable targets errors), ratios by regular expression over
//     layer names, kept channels rounded to a multiple. Sensitivity
//     (sensitivity.go) prunes one layer at a time and SensitivityBudget
//     (cost.go, with RatiosForBudget) derives per-layer ratios that meet
//     a budget in a Cost: MACsCost, ParamsCost, or LatencyCost with the
//     caller's clock. Cost and Evaluator (accuracy of a candidate) are
//     what a search loop (evolutionary, AMC) would need as one more
//     Allocator. Plan.Apply masks, Plan.Slim slims.
//   - Schedules: a Pruner (schedule.go) steps to growing ratios keeping
//     what it removed before; IterativeTargets (Han et al.) and AGP (Zhu
//     & Gupta, through the trainer's AfterStep) give the ratios. The
//     schedules themselves — one-shot, iterative, AGP, the lottery ticket
//     with rewinding — interleave pruning with training and evaluation
//     and live in package prune/recipe as types implementing
//     recipe.Schedule. The learned and reversible methods keep their
//     mechanics here: SoftFilter (sfp.go: filters zeroed every epoch but
//     trained on), Surgery (dns.go: masks pruned and spliced by two
//     thresholds per layer while every weight trains), SparseVD
//     (sparsevd.go: per-weight log-variances, the local
//     reparameterisation trick, the KL term, folding to the deterministic
//     model) and MorphNet (morphnet.go: a cost-weighted L1 on BatchNorm
//     scales, shrink, uniform expansion to a target cost).
//   - Recovery: the core holds masks held in training (Masks.Attach),
//     re-initialisation (Reinit) and regularisers that prepare a model
//     for pruning during training (regularize.go: L1, SSL's group lasso,
//     Network Slimming's L1 on BatchNorm scales); fine-tuning and
//     training from scratch are recipe.Recovery types.
//
// Measure reports ShrinkBench's metrics (params and non-zero params,
// compression, MACs and effective MACs, theoretical speedup) with
// per-layer rows, and Latencies times forward passes of several models
// taking turns.
//
// The experiment runner is not here: package prune/recipe holds a whole
// run — model, data, method, target, schedule, recovery, outputs — parsed
// strictly from YAML, executes it (recipe.Run) and writes its CSV and PNG
// outputs; `shears prune` is a thin layer over it. This package imports no
// YAML, image encoder or data set (TestCoreImports checks): criteria read
// calibration images through the Calibration interface, which
// *data.Dataset implements. Errors name settings as this package knows
// them (AllocationError names the Allocation field), never a command's
// flags.
//
// # Example
//
//	d, err := prune.Analyze(g)
//	for _, grp := range d.Groups() {
//		fmt.Println(grp) // every coupled slice
//	}
//	for _, r := range d.Unprunable() {
//		fmt.Println(r) // and why the rest cannot go
//	}
//	err = prune.Prune(g, d.Groups()[1], keep)
//	for _, line := range prune.Summary(before, g) {
//		fmt.Println(line) // conv2: 50 → 25 channels
//	}
package prune
