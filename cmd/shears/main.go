// Command shears trains, evaluates, inspects, runs, exports and prunes
// neural networks. It is a thin layer over the shears packages: every
// subcommand parses flags, checks every value and output path before any
// work, calls the library and prints a report, with --json making the
// last line one JSON object (package report) for scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// streams are a command's outputs: the report on out, progress, notes,
// warnings and errors on err. Commands never write to os.Stdout or
// os.Stderr directly, so that tests run them in-process.
type streams struct {
	out, err io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, s streams) error
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

func usage(w io.Writer) {
	fmt.Fprintf(w, "shears: neural-network pruning in pure Go\n\nusage: shears COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'shears COMMAND -h' for a command's flags.\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one command line and returns the exit status: 0 on success, 1
// when the work failed, 2 for a bad command line (or a bad value in it),
// 130 when interrupted by a signal.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s := streams{out: stdout, err: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			usage(stderr)
			return 2
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := safeRun(func() error { return c.run(ctx, args[1:], s) })
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		}
		msg := fmt.Sprintf("shears %s: %s", c.name, oneLine(err.Error()))
		var ue usageError
		switch {
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "%s (see 'shears %s -h')\n", msg, c.name)
			return 2
		case ctx.Err() != nil:
			fmt.Fprintln(stderr, msg)
			return 130
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "shears: flag %s before a command: usage: shears COMMAND [flags] (commands: %s)\n", args[0], commandNames())
		return 2
	}
	fmt.Fprintf(stderr, "shears: unknown command %q (commands: %s)\n", args[0], commandNames())
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

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
