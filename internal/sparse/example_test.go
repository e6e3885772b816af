package sparse_test

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/internal/gemm"
	"github.com/shearsml/shears/internal/sparse"
)

// A 3×4 weight with four nonzeros as CSR, times a batch of two inputs,
// with a bias and ReLU fused.
func ExampleMatMul() {
	w := []float32{
		1, 0, 0, 2,
		0, 0, 0, 0,
		0, -1, 3, 0,
	}
	m, err := sparse.FormatCSR.Build(w, 3, 4)
	if err != nil {
		panic(err)
	}
	x := []float32{
		1, 2, 3, 4,
		-1, 0, 1, 0,
	}
	y := make([]float32, 2*3)
	epi := &gemm.Epilogue{Bias: []float32{0, 0.5, -1}, Lo: 0, Hi: float32(math.Inf(1))}
	if err := sparse.MatMul(m, x, 2, y, epi, 1); err != nil {
		panic(err)
	}
	fmt.Println(m.NonZeros(), "nonzeros, stored in", m.Bytes(), "bytes")
	fmt.Println(y)
	// Output:
	// 4 nonzeros, stored in 40 bytes
	// [9 0.5 6 0 0.5 2]
}

// A weight with at most two nonzeros in every group of four inputs packs
// as 2:4 in half the values, with a byte of position each; one with three
// in a group is refused.
func ExampleFormat_Build() {
	w := []float32{
		1, 0, 0, 2, 0, 5, 0, 0,
		0, 0, 0, 0, 7, 0, 0, 8,
	}
	m, err := sparse.FormatNM2x4.Build(w, 2, 8)
	fmt.Println(m.Format(), m.Stored(), "values", err)
	_, err = sparse.FormatNM2x4.Build([]float32{1, 1, 1, 0}, 1, 4)
	fmt.Println(err)
	// Output:
	// nm2:4 8 values <nil>
	// sparse: weight row 0, inputs 0..3: more than 2 nonzeros in a group of 4, not 2:4 sparse
}
