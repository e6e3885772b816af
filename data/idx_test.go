package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes a header (type code, dims) followed by payload verbatim,
// so tests can build inconsistent files on purpose.
func idxBytes(typ byte, dims []uint32, payload []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestIDXRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, dims := range [][]int{{5}, {3, 4, 5}, {2, 1, 3, 2}, {0, 28, 28}} {
		n := 1
		for _, d := range dims {
			n *= d
		}
		in := &IDX{Dims: dims, Data: seq(n)}
		for _, name := range []string{"x-idx", "x-idx.gz"} {
			p := filepath.Join(dir, name)
			if err := WriteIDX(p, in); err != nil {
				t.Fatal(err)
			}
			out, err := ReadIDX(p)
			if err != nil {
				t.Fatalf("%v %s: %v", dims, name, err)
			}
			if !slices.Equal(out.Dims, dims) || !bytes.Equal(out.Data, in.Data) {
				t.Errorf("%v %s: got dims %v, %d bytes", dims, name, out.Dims, len(out.Data))
			}
		}
	}
}

// The format is told by content, not by the file name.
func TestIDXGzipDetectedByMagic(t *testing.T) {
	dir := t.TempDir()
	raw := idxBytes(0x08, []uint32{2, 3}, seq(6))
	for name, b := range map[string][]byte{"raw-named.gz": raw, "gzipped-without-suffix": gz(t, raw)} {
		idx, err := ReadIDX(writeFile(t, dir, name, b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(idx.Dims, []int{2, 3}) || !bytes.Equal(idx.Data, seq(6)) {
			t.Errorf("%s: got %v %v", name, idx.Dims, idx.Data)
		}
	}
}

func TestIDXLargeRoundTrip(t *testing.T) {
	// Bigger than the decoder's first buffer (16 MiB), to exercise growth.
	in := &IDX{Dims: []int{3000, 80, 80}, Data: seq(3000 * 80 * 80)}
	var buf bytes.Buffer
	if err := EncodeIDX(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := DecodeIDX(&buf, "big")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Data, in.Data) {
		t.Error("payload differs after round trip")
	}
}

func TestIDXBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes(0x08, []uint32{3, 4, 5}, seq(60))
	goodGz := gz(t, good)
	corruptGz := slices.Clone(goodGz)
	for i := 12; i < len(corruptGz)-8; i++ {
		corruptGz[i] ^= 0x5a
	}
	badCRC := slices.Clone(goodGz)
	badCRC[len(badCRC)-6] ^= 0xff

	cases := []struct {
		name string
		data []byte // nil: file not created
		want string
	}{
		{"missing", nil, "no such file"},
		{"empty", []byte{}, "empty file"},
		{"short-magic", []byte{0, 0}, "truncated header"},
		{"bad-magic", []byte("PK\x03\x04 not idx at all"), "bad magic 0x504b0304"},
		{"float-type", idxBytes(0x0D, []uint32{2}, make([]byte, 8)), "0x0d (float32) is not supported"},
		{"unknown-type", idxBytes(0x42, []uint32{2}, make([]byte, 2)), "unknown element type 0x42"},
		{"rank-0", idxBytes(0x08, nil, nil), "wrong rank 0"},
		{"rank-200", []byte{0, 0, 8, 200}, "wrong rank 200"},
		{"short-dims", idxBytes(0x08, []uint32{3, 4, 5}, nil)[:9], "truncated header: rank 3 needs 12 bytes of dimensions, found 5"},
		{"truncated", good[:16+10], "truncated: header says 3×4×5 = 60 bytes, found 10"},
		{"truncated.gz", gz(t, good[:16+10]), "truncated: header says 3×4×5 = 60 bytes, found 10"},
		{"trailing", append(slices.Clone(good), "junk"...), "trailing garbage: 4 bytes after the 3×4×5 payload"},
		{"trailing.gz", gz(t, append(slices.Clone(good), "junk"...)), "trailing garbage: 4 decompressed bytes"},
		{"absurd", idxBytes(0x08, []uint32{60000, 100000, 100000}, nil), "absurd dimensions 60000×100000×100000"},
		{"absurd-overflow", idxBytes(0x08, []uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, nil), "absurd dimensions"},
		{"corrupt.gz", corruptGz, "corrupt gzip"},
		{"cut.gz", goodGz[:len(goodGz)/2], "corrupt gzip"},
		{"crc.gz", badCRC, "corrupt gzip"},
		{"bad-gz-header", []byte{0x1f, 0x8b, 0xff, 0xff}, "corrupt gzip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if c.data != nil {
				writeFile(t, dir, c.name, c.data)
			}
			idx, err := ReadIDX(p)
			if err == nil {
				t.Fatalf("no error; got dims %v", idx.Dims)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q should name %s and say %q", msg, p, c.want)
			}
			if strings.Count(msg, p) != 1 || strings.Contains(msg, "\n") {
				t.Errorf("error %q should be one line naming the file once", msg)
			}
		})
	}
	if _, err := ReadIDX(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v should match fs.ErrNotExist", err)
	}
}

// A header that claims a huge (but allowed) payload over a tiny file must
// not allocate the claimed size up front.
func TestIDXTruncatedDoesNotTrustHeader(t *testing.T) {
	b := idxBytes(0x08, []uint32{1 << 10, 1 << 10, 1 << 10}, seq(100)) // claims 1 GiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeIDX(bytes.NewReader(b), "claims-1GiB")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated: header says 1024×1024×1024 = 1073741824 bytes, found 100") {
		t.Fatalf("got %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("decoding a 116-byte file allocated %d MiB", d>>20)
	}
}

func TestEncodeIDXRejectsInconsistent(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeIDX(&buf, &IDX{Dims: []int{2, 2}, Data: seq(3)}); err == nil {
		t.Error("dims 2×2 with 3 bytes encoded without error")
	}
	if err := EncodeIDX(&buf, &IDX{}); err == nil {
		t.Error("rank 0 encoded without error")
	}
}

// FuzzDecodeIDX checks that no input makes the decoder panic or return data
// inconsistent with its dimensions. `go test` runs the seeds; `go test
// -fuzz=FuzzDecodeIDX ./data` explores further.
func FuzzDecodeIDX(f *testing.F) {
	good := idxBytes(0x08, []uint32{3, 4, 5}, seq(60))
	f.Add(good)
	f.Add(gz(f, good))
	f.Add(good[:20])
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2, 1})
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := DecodeIDX(bytes.NewReader(b), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "idx file fuzz: ") {
				t.Errorf("error %q does not name the input", err)
			}
			return
		}
		n, perr := payloadSize(idx.Dims)
		if perr != nil || n != len(idx.Data) {
			t.Errorf("dims %v with %d bytes", idx.Dims, len(idx.Data))
		}
	})
}
