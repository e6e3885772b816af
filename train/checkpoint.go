package train

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"

	"github.com/shearsml/shears/internal/atomicfile"
)

// checkpointMagic starts every checkpoint file; the version after it lets
// future readers refuse or convert old files.
const (
	checkpointMagic   = "SHRSCKPT"
	checkpointVersion = 1
	// maxCheckpointBytes bounds what a (possibly corrupt) header can make
	// the reader allocate.
	maxCheckpointBytes = 8 << 30
)

// Checkpoint is everything needed to resume training exactly: the model
// (as ONNX bytes, so a pruned model with changed widths restores as it is),
// the optimiser buffers, and the position in the run. Data order and
// augmentation are pure functions of (seed, epoch, batch), so the position
// is the whole RNG state.
type Checkpoint struct {
	Model     []byte
	Optimizer string
	OptState  map[string][]float32
	Epoch     int // epoch in progress (0-based)
	Batch     int // next batch within Epoch
	Step      int // optimiser steps taken
	Seed      uint64
	Config    Config
	// Loss and Correct are the running sums of the epoch in progress so
	// that resumed epochs report the same figures.
	Loss    float64
	Correct int
	Seen    int
	// Source is what the run trains on, so that a resume needs nothing
	// but the checkpoint (empty in checkpoints of older versions).
	Source Source
}

// Source records a training run's model and data as the user gave them.
type Source struct {
	Model   string // zoo name or model file the run started from
	Data    string // data set name
	DataDir string // its folder ("" for the default)
	Limit   int    // first N training images (0: all)
}

// WriteCheckpoint saves c atomically: a temp file in the same directory,
// synced, then renamed over path, so an interrupted write never leaves a
// truncated checkpoint and the previous one survives.
func WriteCheckpoint(path string, c *Checkpoint) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(c); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var hdr bytes.Buffer
	hdr.WriteString(checkpointMagic)
	binary.Write(&hdr, binary.LittleEndian, uint32(checkpointVersion))
	binary.Write(&hdr, binary.LittleEndian, uint64(payload.Len()))
	binary.Write(&hdr, binary.LittleEndian, crc32.ChecksumIEEE(payload.Bytes()))
	return atomicfile.WriteFile(path, append(hdr.Bytes(), payload.Bytes()...))
}

// ReadCheckpoint loads a checkpoint, with errors that say whether the file
// is foreign, from a newer version, truncated or corrupt.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	// A FIFO would block Open for ever: only regular files are checkpoints.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, len(checkpointMagic)+4+8+4)
	if _, err := io.ReadFull(f, hdr); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("checkpoint %s: truncated (%v)", path, err)
		}
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if string(hdr[:8]) != checkpointMagic {
		return nil, fmt.Errorf("checkpoint %s: not a shears checkpoint (bad magic %q)", path, hdr[:8])
	}
	ver := binary.LittleEndian.Uint32(hdr[8:])
	if ver != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s: format version %d, this shears reads version %d", path, ver, checkpointVersion)
	}
	n := binary.LittleEndian.Uint64(hdr[12:])
	sum := binary.LittleEndian.Uint32(hdr[20:])
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if n > maxCheckpointBytes || int64(n) != st.Size()-int64(len(hdr)) {
		return nil, fmt.Errorf("checkpoint %s: truncated or corrupt: header says %d payload bytes, file has %d", path, n, st.Size()-int64(len(hdr)))
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(f, payload); err != nil {
		return nil, fmt.Errorf("checkpoint %s: truncated (%v)", path, err)
	}
	if crc32.ChecksumIEEE(payload) != sum {
		return nil, fmt.Errorf("checkpoint %s: corrupt (checksum mismatch)", path)
	}
	var c Checkpoint
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: corrupt: %w", path, err)
	}
	return &c, nil
}

// Snapshot returns, from a callback at EndOfEpoch, the checkpoint Run
// writes after that epoch: for a caller that keeps a training's state
// inside its own checkpoint (a prune run holds its fine-tuning's) rather
// than in Trainer.Checkpoint's file. Its Model is empty unless
// EncodeModel is set; resume it with Resume on a Trainer whose graph
// holds the weights of that moment.
func (t *Trainer) Snapshot(st *State) (*Checkpoint, error) {
	if t.opt == nil || st == nil || st.Trainer != t {
		return nil, fmt.Errorf("train: Snapshot outside this trainer's Run")
	}
	// A copy: the optimiser keeps updating its buffers.
	state := map[string][]float32{}
	for k, v := range t.opt.State() {
		state[k] = slices.Clone(v)
	}
	c := &Checkpoint{Optimizer: t.opt.Name(), OptState: state, Epoch: st.Epoch + 1, Step: st.Step,
		Seed: t.Config.Seed, Config: t.Config, Source: t.Source}
	if t.EncodeModel != nil {
		m, err := t.EncodeModel(t.Graph)
		if err != nil {
			return nil, err
		}
		c.Model = m
	}
	return c, nil
}
