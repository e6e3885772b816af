package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// IDX is a decoded IDX file of unsigned bytes (type code 0x08), the only
// element type the MNIST family uses.
type IDX struct {
	Dims []int  // sizes of the dimensions, outermost first (e.g. 60000, 28, 28)
	Data []byte // row-major payload, len(Data) = product of Dims
}

// MaxIDXBytes bounds the payload that DecodeIDX accepts. It is checked
// against the header before anything is allocated, so a corrupt or hostile
// header cannot make shears try to allocate terabytes. The largest file in
// the MNIST family is 47 MB.
const MaxIDXBytes = 1 << 30

// maxIDXRank bounds the rank a header may claim. The format allows 255, but
// no real data set has more than a handful of dimensions, and a big rank in a
// header is a sign of a file that is not IDX at all.
const maxIDXRank = 8

const typeUbyte = 0x08

// idxTypeNames names the element types of the IDX format, for error messages.
var idxTypeNames = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// ReadIDX reads an IDX file, gzipped or not: the two are told apart by the
// gzip magic bytes rather than the file name, so a raw file called .gz (or a
// gzipped one without the suffix) still reads.
func ReadIDX(path string) (*IDX, error) {
	// A FIFO would block Open for ever and a device never ends: only
	// regular files are read.
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("idx file %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		// The *PathError would repeat the path; keep its cause, which still
		// satisfies errors.Is(err, fs.ErrNotExist).
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("idx file %s: %w", path, err)
	}
	defer f.Close()
	return DecodeIDX(f, path)
}

// WriteIDX writes idx to path, gzipped when path ends in ".gz". It exists
// for tests and tools that need small data sets in the MNIST format.
func WriteIDX(path string, idx *IDX) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("idx: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("idx: %w", cerr)
		}
	}()
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw = gzip.NewWriter(f)
		w = zw
	}
	if err := EncodeIDX(w, idx); err != nil {
		return fmt.Errorf("idx file %s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("idx file %s: %w", path, err)
		}
	}
	return nil
}

// EncodeIDX writes idx in the IDX format (type 0x08, big-endian dimensions).
func EncodeIDX(w io.Writer, idx *IDX) error {
	if len(idx.Dims) == 0 || len(idx.Dims) > maxIDXRank {
		return fmt.Errorf("cannot encode rank %d (want 1 to %d)", len(idx.Dims), maxIDXRank)
	}
	n, err := payloadSize(idx.Dims)
	if err != nil {
		return err
	}
	if n != len(idx.Data) {
		return fmt.Errorf("dims %s need %d bytes, have %d", dimString(idx.Dims), n, len(idx.Data))
	}
	hdr := make([]byte, 4+4*len(idx.Dims))
	hdr[2], hdr[3] = typeUbyte, byte(len(idx.Dims))
	for i, d := range idx.Dims {
		binary.BigEndian.PutUint32(hdr[4+4*i:], uint32(d))
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err = w.Write(idx.Data)
	return err
}

// gzipError marks an error that came out of the gzip decompressor, so that a
// damaged .gz is reported as such and not as a truncated IDX payload (both
// surface as io.ErrUnexpectedEOF otherwise).
type gzipError struct{ err error }

func (e gzipError) Error() string { return e.err.Error() }
func (e gzipError) Unwrap() error { return e.err }

type gzipReader struct{ z *gzip.Reader }

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.z.Read(p)
	if err != nil && err != io.EOF {
		err = gzipError{err}
	}
	return n, err
}

// DecodeIDX decodes an IDX stream, gzipped or raw. name is used only in
// error messages (a file name, or a description for embedded data). Every
// malformed input gives a one-line error naming the input and the problem,
// never a panic.
func DecodeIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	gz := false
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx file %s: corrupt gzip: %s", name, strings.TrimPrefix(err.Error(), "gzip: "))
		}
		defer z.Close()
		src, gz = gzipReader{z}, true
	}
	fail := func(format string, args ...any) (*IDX, error) {
		return nil, fmt.Errorf("idx file %s: "+format, append([]any{name}, args...)...)
	}
	readErr := func(err error) (*IDX, error) {
		if ge, ok := errors.AsType[gzipError](err); ok {
			if errors.Is(ge.err, io.ErrUnexpectedEOF) {
				return fail("corrupt gzip: compressed stream ends early (truncated download?)")
			}
			return fail("corrupt gzip: %s", strings.TrimPrefix(ge.err.Error(), "gzip: "))
		}
		return fail("read: %v", err)
	}

	var hdr [4]byte
	if n, err := io.ReadFull(src, hdr[:]); err != nil {
		if err == io.EOF {
			return fail("empty file (not an IDX file)")
		}
		if err == io.ErrUnexpectedEOF {
			return fail("truncated header: %d of 4 magic bytes", n)
		}
		return readErr(err)
	}
	magic := binary.BigEndian.Uint32(hdr[:])
	if hdr[0] != 0 || hdr[1] != 0 {
		return fail("bad magic 0x%08x: not an IDX file (want 0x0000TTRR: type, rank)", magic)
	}
	if hdr[2] != typeUbyte {
		tn, ok := idxTypeNames[hdr[2]]
		if !ok {
			return fail("unknown element type 0x%02x in magic 0x%08x", hdr[2], magic)
		}
		return fail("element type 0x%02x (%s) is not supported: only 0x08 (unsigned byte) is", hdr[2], tn)
	}
	rank := int(hdr[3])
	if rank == 0 || rank > maxIDXRank {
		return fail("wrong rank %d in magic 0x%08x (want 1 to %d)", rank, magic, maxIDXRank)
	}
	dimBytes := make([]byte, 4*rank)
	if n, err := io.ReadFull(src, dimBytes); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fail("truncated header: rank %d needs %d bytes of dimensions, found %d", rank, 4*rank, n)
		}
		return readErr(err)
	}
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(dimBytes[4*i:]))
	}
	size, err := payloadSize(dims)
	if err != nil {
		return fail("%v", err)
	}

	// Grow the buffer as data arrive instead of trusting the header with one
	// big allocation: a truncated file then costs memory in proportion to
	// what it holds, not to what it claims.
	buf := make([]byte, 0, min(size, 1<<24))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), size-len(buf)))
		}
		n, err := src.Read(buf[len(buf):min(cap(buf), size)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if len(buf) < size {
				return fail("truncated: header says %s = %d bytes, found %d", dimString(dims), size, len(buf))
			}
			break
		}
		if err != nil {
			return readErr(err)
		}
	}

	// Anything after the payload means the header and the data disagree,
	// which usually means a wrong or damaged file: refuse rather than guess.
	extra, err := io.CopyN(io.Discard, src, 1<<20)
	if err != nil && err != io.EOF {
		return readErr(err)
	}
	if extra > 0 {
		more := ""
		if extra == 1<<20 {
			more = "at least "
		}
		what := "bytes"
		if gz {
			what = "decompressed bytes"
		}
		return fail("trailing garbage: %s%d %s after the %s payload", more, extra, what, dimString(dims))
	}
	return &IDX{Dims: dims, Data: buf}, nil
}

// payloadSize is the product of dims, refused above MaxIDXBytes. The check
// is done step by step so the product cannot overflow.
func payloadSize(dims []int) (int, error) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %s", dimString(dims))
		}
		if d != 0 && n > MaxIDXBytes/d {
			return 0, fmt.Errorf("absurd dimensions %s: more than %d bytes", dimString(dims), MaxIDXBytes)
		}
		n *= d
	}
	return n, nil
}

func dimString(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, "×")
}

// findFile returns the first of names that exists in dir, or "" if none do.
func findFile(dir string, names ...string) string {
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
