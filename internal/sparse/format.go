package sparse

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is a family of storage formats.
type Kind int

const (
	// Dense marks "run the dense kernel": it builds no Matrix.
	Dense Kind = iota
	// CSR is compressed sparse rows (unstructured sparsity).
	CSR
	// BSR is block sparse rows with R×C blocks.
	BSR
	// NM is packed N:M sparsity along the input axis.
	NM
	// Direct is the direct convolution over a convolution's nonzero taps
	// (Conv); it builds no Matrix.
	Direct
)

// Format is a storage format: a Kind and, for BSR, the block shape R×C or,
// for NM, the N kept of every M.
type Format struct {
	Kind Kind
	R, C int // BSR: block rows and columns. NM: R = N, C = M.
}

// The formats Choose tries.
var (
	FormatDense  = Format{Kind: Dense}
	FormatCSR    = Format{Kind: CSR}
	FormatBSR1x8 = Format{Kind: BSR, R: 1, C: 8}
	FormatBSR4x4 = Format{Kind: BSR, R: 4, C: 4}
	FormatBSR1x4 = Format{Kind: BSR, R: 1, C: 4}
	FormatNM2x4  = Format{Kind: NM, R: 2, C: 4}
	FormatNM4x8  = Format{Kind: NM, R: 4, C: 8}
	FormatDirect = Format{Kind: Direct}
)

// String is the format's name: "dense", "csr", "bsrRxC" or "nmN:M".
func (f Format) String() string {
	switch f.Kind {
	case Dense:
		return "dense"
	case CSR:
		return "csr"
	case BSR:
		return fmt.Sprintf("bsr%dx%d", f.R, f.C)
	case NM:
		return fmt.Sprintf("nm%d:%d", f.R, f.C)
	case Direct:
		return "direct"
	}
	return fmt.Sprintf("Format(%d)", int(f.Kind))
}

// ParseFormat reads a name String writes.
func ParseFormat(s string) (Format, error) {
	switch {
	case s == "dense":
		return FormatDense, nil
	case s == "csr":
		return FormatCSR, nil
	case s == "direct":
		return FormatDirect, nil
	case strings.HasPrefix(s, "bsr"):
		r, c, ok := twoInts(s[3:], "x")
		if !ok {
			break
		}
		f := Format{Kind: BSR, R: r, C: c}
		return f, f.check()
	case strings.HasPrefix(s, "nm"):
		n, m, ok := twoInts(s[2:], ":")
		if !ok {
			break
		}
		f := Format{Kind: NM, R: n, C: m}
		return f, f.check()
	}
	return Format{}, fmt.Errorf("sparse: unknown format %q (want dense, csr, bsrRxC, nmN:M or direct)", s)
}

func twoInts(s, sep string) (int, int, bool) {
	a, b, ok := strings.Cut(s, sep)
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return x, y, err1 == nil && err2 == nil
}

// MarshalText writes the format's name, so formats are JSON strings.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), f.check() }

// UnmarshalText reads a format's name.
func (f *Format) UnmarshalText(b []byte) error {
	g, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = g
	return nil
}

// maxBlock bounds block sides and group sizes: the kernels keep a block
// row's accumulators in registers, and NM's positions are bytes.
const maxBlock = 16

// check reports a format that cannot be built.
func (f Format) check() error {
	switch f.Kind {
	case Dense, CSR, Direct:
		return nil
	case BSR:
		if f.R < 1 || f.C < 1 || f.R > maxBlock || f.C > maxBlock {
			return fmt.Errorf("sparse: BSR block %d×%d: sides must be in [1, %d]", f.R, f.C, maxBlock)
		}
		return nil
	case NM:
		if f.R < 1 || f.C < 2 || f.R >= f.C || f.C > maxBlock {
			return fmt.Errorf("sparse: N:M format %d:%d: need 1 <= N < M <= %d", f.R, f.C, maxBlock)
		}
		return nil
	}
	return fmt.Errorf("sparse: unknown format kind %d", int(f.Kind))
}

// Build stores a dense rows×cols weight (row-major, len(w) == rows·cols)
// in format f. Dense and Direct have no Matrix and are an error here.
func (f Format) Build(w []float32, rows, cols int) (Matrix, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	if err := checkDense(w, rows, cols); err != nil {
		return nil, err
	}
	switch f.Kind {
	case CSR:
		return newCSR(w, rows, cols)
	case BSR:
		return newBSR(w, rows, cols, f.R, f.C)
	case NM:
		return newNM(w, rows, cols, f.R, f.C)
	}
	return nil, fmt.Errorf("sparse: format %v builds no sparse matrix", f)
}

// maxIndex bounds both sides of a weight: indices are int32.
const maxIndex = 1<<31 - 1

func checkDense(w []float32, rows, cols int) error {
	if rows < 0 || cols < 0 {
		return fmt.Errorf("sparse: negative weight shape %d×%d", rows, cols)
	}
	if rows > maxIndex || cols > maxIndex || (cols > 0 && rows > maxIndex/cols) {
		return fmt.Errorf("sparse: weight shape %d×%d has more than 2³¹−1 entries", rows, cols)
	}
	if len(w) != rows*cols {
		return fmt.Errorf("sparse: weight has %d values, shape %d×%d needs %d", len(w), rows, cols, rows*cols)
	}
	return nil
}

// Matrix is a sparse rows×cols weight in one format. Its methods are safe
// for concurrent use: the kernels only read it.
type Matrix interface {
	Format() Format
	// Dims returns rows (outputs) and cols (inputs).
	Dims() (rows, cols int)
	// NonZeros counts the weight's nonzero entries.
	NonZeros() int
	// Stored counts the values kept, with the zeros that blocks and
	// groups carry: the multiply-adds per input vector.
	Stored() int
	// Bytes is the size of the values and indices.
	Bytes() int
	// Dense returns the weight as a dense row-major rows×cols slice.
	Dense() []float32

	// units is the number of row units (rows, or block rows for BSR)
	// that work is split in; unitRows is rows per unit (the last unit may
	// be short); work(u) is the stored values in units [0, u).
	units() int
	unitRows() int
	work(u int) int
	// mulVec sets y[o] = Σ_i W[o][i]·x[i] for the rows of units [u0, u1).
	mulVec(y, x []float32, u0, u1 int)
	// mulPanel sets out[o·ldo+j] = Σ_i W[o][i]·p[i·ldp+j] for j < n and
	// the rows of units [u0, u1).
	mulPanel(out []float32, ldo int, p []float32, ldp, n int, u0, u1 int)
}
