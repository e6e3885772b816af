// Package recipe is shears' pruning experiment runner, on top of the
// pruning core (package prune), which stays free of YAML, image encoders
// and data sets.
//
// A Recipe describes a whole run — model, data, method, target, schedule,
// recovery and outputs — and is parsed strictly from YAML (Parse: an
// unknown key, a bad or non-finite value is an error naming its line).
// Run executes it on a model and data sets the caller loaded (LoadData
// loads the recipe's) and returns a Report, typed and versioned
// (ReportVersion) so that a command prints it as JSON as it is.
// WriteCurves, WriteLayers, PlotCurves and LotteryPlot write a run's CSV
// and PNG outputs.
//
// # Errors
//
// Every error about a recipe value is a *FieldError naming the field by
// its YAML path (target.ratio, target.layer_ratios.1, schedule.kind), at
// parse time and at run time (a layer ratio that matches no layer of the
// model, a global ratio the model cannot meet); a command maps paths to
// its flags. A step that needs data not given is a *DataError listing the
// fields that would fix it.
//
// # Schedules and recoveries
//
// Schedule and Recovery are interfaces here rather than in the core
// because they interleave pruning with training and evaluation: they run
// on a Session (the recipe, the data, the fine-tuning configuration, the
// report), and the core keeps their building blocks (prune.Pruner.Step,
// prune.IterativeTargets, prune.AGP, prune.Masks.Attach, prune.Reinit).
//
// OneShot, Iterative, AGP and Lottery implement Schedule, and so do the
// methods that learn their sparsity while training (learned.go): SFP
// (soft filter pruning), DNS (dynamic network surgery), SparseVD (sparse
// variational dropout) and MorphNet; each says in its Validate which
// granularity it needs. NoRecovery, FineTune, FromScratch and Distill
// (knowledge distillation from the dense model, distill.go) implement
// Recovery; Distill also sets the loss of every training of the run, so
// that it acts in schedules that train themselves. Each is registered once, by
// name, in Schedules or Recoveries (name → constructor from the recipe);
// the recipe parser and the command read those tables, so a new schedule
// (or a new recovery: least-squares reconstruction, distillation) is one
// type and one table entry. A schedule calls Recovery.Step after each
// pruning step it wants recovered (one-shot once, iterative every round;
// AGP and the lottery ticket train as part of the schedule); Run calls
// Recovery.Finish once the result is slimmed, which is where training from
// scratch starts over. The recipe selects the recovery with its finetune
// section (Recipe.RecoveryName): from_scratch, distill, finetune with
// epochs, none without.
//
// # Checkpoints and resuming
//
// With Env.Checkpoint set, a run that trains or runs a sensitivity
// analysis (Recipe.Checkpoints) writes a Checkpoint atomically at every
// round boundary (before the schedule, after each iterative or lottery
// round, after every sensitivity point) and inside the regularised
// training, AGP's training, a one-shot or iterative fine-tuning and the
// lottery's trainings (after every epoch, and at the batch where an
// interrupt stops it). It holds the recipe, the starting model, the masked
// weights, the plan, the lottery's rewind weights, the curves so far and
// the training's state. Run with Env.Resume (and Env.Model from
// Checkpoint.Graph, the recipe from Checkpoint.Recipe) continues it:
// inside the training where there is one, from the start of the
// interrupted step otherwise (the lottery's control, a fine-tuning after a
// sensitivity analysis). Either way the result is bit-identical to an
// uninterrupted run's, since each round depends only on the state at its
// start and the seed.
package recipe
