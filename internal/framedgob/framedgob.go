// Package framedgob reads and writes the files shears keeps its run state
// in (training and pruning checkpoints): a gob payload behind a header of
// an 8-byte magic, a format version, the payload's length and its CRC-32,
// so that a reader tells a foreign file, a newer format, a truncated write
// and a corrupt one apart, and a corrupt length cannot make it allocate
// more than a bound. Writes are atomic (internal/atomicfile).
package framedgob

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/shearsml/shears/internal/atomicfile"
)

// Format names a kind of file.
type Format struct {
	Magic    string // exactly 8 bytes
	Version  uint32
	MaxBytes uint64 // the largest payload a reader accepts
}

// headerLen is the magic, the version, the payload length and the CRC.
const headerLen = 8 + 4 + 8 + 4

// ForeignError is Read's error for a file with another magic: Magic holds
// the 8 bytes found, so a caller can name a sibling format.
type ForeignError struct {
	Path, Magic string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("checkpoint %s: bad magic %q", e.Path, e.Magic)
}

// Write encodes v with gob and writes it to path atomically (a temp file
// renamed over path), so an interrupted write keeps the previous file.
func (f Format) Write(path string, v any) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(v); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var hdr bytes.Buffer
	hdr.WriteString(f.Magic)
	binary.Write(&hdr, binary.LittleEndian, f.Version)
	binary.Write(&hdr, binary.LittleEndian, uint64(payload.Len()))
	binary.Write(&hdr, binary.LittleEndian, crc32.ChecksumIEEE(payload.Bytes()))
	return atomicfile.WriteFile(path, append(hdr.Bytes(), payload.Bytes()...))
}

// Read decodes the file at path into v. Only regular files are read (a
// FIFO would block Open for ever). A file of another format is a
// *ForeignError; other errors say whether the file is from another
// version, truncated or corrupt, naming path.
func (f Format) Read(path string, v any) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("checkpoint %s: not a regular file", path)
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer file.Close()
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(file, hdr); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("checkpoint %s: truncated (%v)", path, err)
		}
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if magic := string(hdr[:8]); magic != f.Magic {
		return &ForeignError{Path: path, Magic: magic}
	}
	if ver := binary.LittleEndian.Uint32(hdr[8:]); ver != f.Version {
		return fmt.Errorf("checkpoint %s: format version %d, this shears reads version %d", path, ver, f.Version)
	}
	n := binary.LittleEndian.Uint64(hdr[12:])
	if n > f.MaxBytes || int64(n) != st.Size()-headerLen {
		return fmt.Errorf("checkpoint %s: truncated or corrupt: header says %d payload bytes, file has %d", path, n, st.Size()-headerLen)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(file, payload); err != nil {
		return fmt.Errorf("checkpoint %s: truncated (%v)", path, err)
	}
	if crc32.ChecksumIEEE(payload) != binary.LittleEndian.Uint32(hdr[20:]) {
		return fmt.Errorf("checkpoint %s: corrupt (checksum mismatch)", path)
	}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(v); err != nil {
		return fmt.Errorf("checkpoint %s: corrupt: %w", path, err)
	}
	return nil
}
