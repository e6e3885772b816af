package cpu

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/shearsml/shears/graph"
)

// TestMain runs the tests, then, when none was left out by -run or -skip,
// checks that every registered op type has had a finite-difference
// gradient check (checkGrad), unless its spec says it has no gradient
// (OpSpec.NoGradient). A new op without one fails the package, by name.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && allTestsRan() {
		if msg := gradCheckCoverage(); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
			code = 1
		}
	}
	os.Exit(code)
}

// allTestsRan reports whether the run selected every test.
func allTestsRan() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

// gradCheckCoverage returns a message naming the registered ops that no
// checkGrad call covered, or "" when there are none.
func gradCheckCoverage() string {
	var missing, exempt []string
	for _, op := range SupportedOps() {
		spec, _ := graph.Spec(op)
		if spec.NoGradient != "" {
			exempt = append(exempt, fmt.Sprintf("%s (%s)", op, spec.NoGradient))
			continue
		}
		if _, ok := gradChecked.Load(op); !ok {
			missing = append(missing, op)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	msg := fmt.Sprintf("FAIL: ops with no gradient check: %s\n"+
		"  add a checkGrad case for each (graph/*_test.go), or, for an op without a gradient by nature, set OpSpec.NoGradient",
		strings.Join(missing, ", "))
	if len(exempt) > 0 {
		msg += "\n  ops declared without a gradient: " + strings.Join(exempt, "; ")
	}
	return msg
}

func TestGradCheckCoverageMessage(t *testing.T) {
	const op = "TestNoGradCheckOp"
	Register(op, func(*graph.Node) (Op, error) { return nil, fmt.Errorf("not runnable") })
	defer Unregister(op)
	if msg := gradCheckCoverage(); !strings.Contains(msg, op) {
		t.Errorf("an op without a gradient check is not named: %q", msg)
	}
	spec, _ := graph.Spec(op)
	spec.NoGradient = "a test op"
	graph.RegisterOp(spec)
	if first := strings.SplitN(gradCheckCoverage(), "\n", 2)[0]; strings.Contains(first, op) {
		t.Errorf("an op declared without a gradient is reported missing: %q", first)
	}
}
