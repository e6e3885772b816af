package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// output is a file a command will write, with the flag (or recipe key)
// that named it, for errors.
type output struct {
	flag, path string
}

// checkOutputs refuses, before any work, every output that would fail or
// destroy something at the end: two outputs naming one file, a directory,
// a device or FIFO (shears writes by temp file and rename, which would
// replace /dev/null by a regular file), and a folder that is missing
// (unless mkdir says to create it, as recipes' out/ folders are) or not
// writable. Empty paths are outputs not asked for.
func checkOutputs(outs []output, mkdir bool) error {
	type seen struct {
		output
		abs string
		st  os.FileInfo
	}
	var done []seen
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		abs, err := filepath.Abs(o.path)
		if err != nil {
			return usagef("%s %s: %v", o.flag, o.path, err)
		}
		st, err := os.Stat(abs)
		switch {
		case err == nil && st.IsDir():
			return usagef("%s %s: is a directory; give a file name", o.flag, o.path)
		case err == nil && !st.Mode().IsRegular():
			return usagef("%s %s: not a regular file (%s); shears writes regular files only", o.flag, o.path, fileKind(st.Mode()))
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			// A parent that is a file gives ENOTDIR: say so plainly.
			if derr := writableDir(filepath.Dir(abs), false); derr != nil {
				return usagef("%s %s: %v", o.flag, o.path, derr)
			}
			return usagef("%s %s: %v", o.flag, o.path, unwrapPathErr(err))
		case err != nil:
			st = nil
		}
		for _, d := range done {
			if d.abs == abs || (st != nil && d.st != nil && os.SameFile(st, d.st)) {
				return usagef("%s and %s name the same file %s: one would overwrite the other", d.flag, o.flag, o.path)
			}
		}
		if err := writableDir(filepath.Dir(abs), mkdir); err != nil {
			return usagef("%s %s: %v", o.flag, o.path, err)
		}
		done = append(done, seen{o, abs, st})
	}
	return nil
}

// writableDir checks that dir exists (or, with mkdir, creates it) and that
// a file can be created in it, by creating and removing one.
func writableDir(dir string, mkdir bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) && mkdir {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create its folder: %v", unwrapPathErr(err))
		}
		st, err = os.Stat(dir)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("folder %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("folder %s: %v", dir, unwrapPathErr(err))
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".shears-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable: %v", dir, unwrapPathErr(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// fileKind names what a non-regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// readBounded reads a whole input file of at most limit bytes. It refuses
// anything but a regular file first, so that a FIFO or a device such as
// /dev/zero neither blocks for ever nor grows without end; what names the
// file's role in errors ("recipe").
func readBounded(what, path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, unwrapPathErr(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s %s: is a directory", what, path)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: not a regular file (%s)", what, path, fileKind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s %s: %d bytes is more than the %s a %s may have", what, path, st.Size(), formatBytes(limit), what)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, unwrapPathErr(err))
	}
	defer f.Close()
	// The file may grow between Stat and the read: read one byte past the
	// limit to tell.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, unwrapPathErr(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s: more than the %s a %s may have", what, path, formatBytes(limit), what)
	}
	return b, nil
}

// checkNotInputs refuses an output that is one of the command's inputs
// (shears prune m.onnx --out m.onnx would replace the model it reads, and
// a failed run could leave neither). Inputs that do not exist as files
// (zoo names, empty paths) cannot be overwritten and pass.
func checkNotInputs(outs []output, inputs ...output) error {
	for _, in := range inputs {
		if in.path == "" {
			continue
		}
		for _, o := range outs {
			if o.path != "" && sameFile(in.path, o.path) {
				return usagef("%s %s is %s %s: an output must not replace an input; write it elsewhere", o.flag, o.path, in.flag, in.path)
			}
		}
	}
	return nil
}

// checkStaleCheckpoint refuses to start a fresh run whose checkpoint file
// already exists: it holds an interrupted run that this one would
// silently overwrite at its first checkpoint. A resumed run rewrites the
// checkpoint it continues (resume names it; "" for a fresh run).
func checkStaleCheckpoint(ckpt, resume, command string) error {
	// Anything but a regular file is checkOutputs' to refuse.
	if st, err := os.Stat(ckpt); err != nil || !st.Mode().IsRegular() || (resume != "" && sameFile(ckpt, resume)) {
		return nil
	}
	return usagef("checkpoint %s exists (an interrupted run?): continue it with shears %s --resume %s, or choose another file with --checkpoint, or delete it", ckpt, command, ckpt)
}
