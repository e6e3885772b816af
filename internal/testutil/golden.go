package testutil

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Golden checks got against the golden file at path. With update set (the
// package's -update flag) it writes got to path instead, creating the
// folder, and logs that it did. A difference is reported with the first
// line that differs, both versions of it, and the command that rewrites
// the file.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("golden file %s is missing; go test -run '%s' -update writes it", path, t.Name())
	}
	if err != nil {
		t.Fatal(err)
	}
	if line, g, w, differ := firstDifference(got, want); differ {
		t.Errorf("output differs from %s at line %d:\n got: %q\nwant: %q\n(go test -run '%s' -update rewrites the file)", path, line, g, w, t.Name())
	}
}

// firstDifference returns the 1-based number of the first line where a and
// b differ, and that line of each ("" past the end), or differ false when
// a and b are equal.
func firstDifference(a, b []byte) (line int, la, lb string, differ bool) {
	if bytes.Equal(a, b) {
		return 0, "", "", false
	}
	as, bs := bytes.SplitAfter(a, []byte("\n")), bytes.SplitAfter(b, []byte("\n"))
	for i := 0; ; i++ {
		var x, y []byte
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if !bytes.Equal(x, y) {
			return i + 1, string(x), string(y), true
		}
	}
}
