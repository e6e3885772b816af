// Command shears trains, evaluates, inspects, runs, exports and prunes
// neural networks. It is a thin layer over the shears packages: every
// subcommand parses flags, calls the library and prints a report, with
// --json making the last line one JSON object for scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"train", "train a zoo model or model file on a data set", cmdTrain},
		{"eval", "evaluate a model file on a test set", cmdEval},
		{"info", "print per-layer shapes, params and MACs of a model", cmdInfo},
		{"run", "run a model once on tensor files (.npy, .pb) or time it on random input", cmdRun},
		{"export", "write a zoo model or model file as ONNX (optionally BatchNorm folded)", cmdExport},
		{"prune", "prune a model (criterion, granularity, allocation, schedule, fine-tuning) or run a YAML recipe", cmdPrune},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "shears: neural-network pruning in pure Go\n\nusage: shears COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'shears COMMAND -h' for a command's flags.\n")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := safeRun(func() error { return c.run(ctx, args[1:]) })
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "shears %s: %v\n", c.name, err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "shears %s: %s\n", c.name, oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(os.Stderr, "shears: unknown command %q (commands: %s)\n", args[0], commandNames())
	return 2
}

func commandNames() string {
	var s []string
	for _, c := range commands {
		s = append(s, c.name)
	}
	return strings.Join(s, ", ")
}

// safeRun turns a panic deep in the library into a one-line error: users
// get a message naming the problem, never a stack trace. SHEARS_DEBUG=1
// lets panics through for debugging.
func safeRun(f func() error) (err error) {
	if os.Getenv("SHEARS_DEBUG") == "" {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("internal error: %v (rerun with SHEARS_DEBUG=1 for a trace, and please report it)", r)
			}
		}()
	}
	return f()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// parseArgs parses flags that may come before or after positional
// arguments (shears eval model.onnx --data mnist) and returns the
// positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(os.Stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
