package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune/recipe"
)

// Flags are parsed by the standard flag package with its printing turned
// off: a bad flag is one error line (usageError, exit status 2), and -h
// prints the command's help text to stdout.

// helpText is a command's -h: a usage line, examples, and the flags in
// groups (one group with an empty title when the command has few flags).
type helpText struct {
	usage    string // "shears eval MODEL [flags]"; more lines allowed
	examples []string
	notes    string // said after the examples
	groups   []flagGroup
}

type flagGroup struct {
	title string
	names []string
}

// newFlagSet returns a flag set that reports errors instead of printing.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parsed is the outcome of parseArgs: the positionals, and which flags the
// user typed. "Unset" is never a value the user can type: commands ask
// set, not the value.
type parsed struct {
	pos []string
	set map[string]bool
}

// parseArgs parses flags that may come before or after positional
// arguments (shears eval model.onnx --data mnist). -h prints help to
// s.out and returns flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string, s streams, help helpText) (parsed, error) {
	var p parsed
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help.print(s.out, fs)
				return p, err
			}
			return p, usageError{errors.New(flagMessage(err.Error()))}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		p.pos = append(p.pos, args[0])
		args = args[1:]
	}
	p.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { p.set[f.Name] = true })
	return p, nil
}

var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -+(\S+)$`)
	flagInvalid   = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+(\S+): (.*)$`)
	flagNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(\S+)$`)
)

// flagMessage rewrites the flag package's errors to name flags as users
// type them (--epochs) and to say what is wrong first.
func flagMessage(msg string) string {
	if m := flagUndefined.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown flag --%s", m[1])
	}
	if m := flagInvalid.FindStringSubmatch(msg); m != nil {
		why := m[3]
		if why == "parse error" {
			why = "not a number"
		}
		return fmt.Sprintf("--%s %s: %s", m[2], m[1], why)
	}
	if m := flagNeedsArg.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s needs a value", m[1])
	}
	return msg
}

// floatFlag is a float64 flag that refuses NaN and ±Inf as it parses:
// no hyper-parameter of shears is meaningfully infinite.
type floatFlag float64

func (f *floatFlag) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

func (f *floatFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("not a number")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("not a finite number")
	}
	*f = floatFlag(v)
	return nil
}

// floatVar defines a finite float64 flag stored in p.
func floatVar(fs *flag.FlagSet, p *float64, name string, value float64, usage string) {
	*p = value
	fs.Var((*floatFlag)(p), name, usage)
}

// atLeast checks an integer flag's lower bound.
func atLeast(name string, v, lo int) error {
	if v < lo {
		return usagef("--%s must be ≥ %d, have %d", name, lo, v)
	}
	return nil
}

// sizeFlag is a byte count typed as 8GiB, 512MiB, 300MB or a plain number.
type sizeFlag int64

func (f *sizeFlag) String() string { return formatBytes(int64(*f)) }

func (f *sizeFlag) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v <= 0 || v*float64(mult) > math.MaxInt64/2 {
		return errors.New("want a positive size such as 8GiB, 512MiB or 1000000")
	}
	*f = sizeFlag(v * float64(mult))
	return nil
}

// formatBytes prints a byte count in binary units.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			if n%u.size == 0 {
				return strconv.FormatInt(n/u.size, 10) + u.name
			}
			return strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// print writes the help text: usage, examples, then each group's flags
// with their default said once (by the flag's text or by "(default X)").
func (h helpText) print(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n", h.usage)
	if len(h.examples) > 0 {
		fmt.Fprintf(w, "\nexamples:\n")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if h.notes != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(h.notes))
	}
	groups := h.groups
	listed := map[string]bool{}
	for _, g := range groups {
		for _, n := range g.names {
			listed[n] = true
		}
	}
	var rest []string
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			rest = append(rest, f.Name)
		}
	})
	if len(rest) > 0 {
		title := "flags"
		if len(groups) > 0 {
			title = "other flags"
		}
		groups = append(groups, flagGroup{title, rest})
	}
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, n := range g.names {
			f := fs.Lookup(n)
			if f == nil {
				continue
			}
			kind, text := flag.UnquoteUsage(f)
			switch f.Value.(type) {
			case *floatFlag:
				kind = "float"
			case *sizeFlag:
				kind = "size"
			case *stringValue, *listFlag, *inputShapeFlag:
				kind = "string"
			case *intValue:
				kind = "int"
			case *uint64Value:
				kind = "uint"
			}
			line := "  --" + f.Name
			if kind != "" {
				line += " " + kind
			}
			if !strings.Contains(text, "default") && !zeroDefault(f) {
				text += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "%s\n      %s\n", line, text)
		}
	}
}

func zeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "[]":
		return true
	}
	return false
}

// inputShapeFlag collects --input-shape NAME=SHAPE (repeatable): the sizes
// of a model's symbolic input dimensions, such as x=1x3x48x320 (N first
// keeps the batch dynamic: x=Nx3x48x320).
type inputShapeFlag map[string][]int

func (f *inputShapeFlag) String() string { return recipe.InputShapes(*f).String() }

func (f *inputShapeFlag) Set(s string) error {
	name, shape, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want NAME=SHAPE such as x=1x3x48x320 (the input's name, =, sizes joined by x)")
	}
	dims, err := graph.ParseShape(shape)
	if err != nil {
		return err
	}
	if _, dup := (*f)[name]; dup {
		return fmt.Errorf("input %q is given twice", name)
	}
	if *f == nil {
		*f = inputShapeFlag{}
	}
	(*f)[name] = dims
	return nil
}

const inputShapeUsage = "NAME=SHAPE: sizes of a model file's symbolic input dims, such as x=1x3x48x320 (repeatable; N first, as in x=Nx3x48x320, keeps the batch dynamic)"

// inputShapesVar registers --input-shape, which every command that loads a
// model takes.
func inputShapesVar(fs *flag.FlagSet) *inputShapeFlag {
	f := &inputShapeFlag{}
	fs.Var(f, "input-shape", inputShapeUsage)
	return f
}
