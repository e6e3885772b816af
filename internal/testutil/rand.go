package testutil

import (
	"math/rand/v2"

	"github.com/shearsml/shears/tensor"
)

// NewRand returns a generator on the PCG source seeded with (seed1, seed2),
// the source every test in shears uses.
func NewRand(seed1, seed2 uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed1, seed2))
}

// A Dist draws one value from r.
type Dist func(r *rand.Rand) float32

// Normal draws from the standard normal distribution.
func Normal(r *rand.Rand) float32 { return float32(r.NormFloat64()) }

// Uniform draws uniformly from [-1, 1) with float32 resolution.
func Uniform(r *rand.Rand) float32 { return r.Float32()*2 - 1 }

// Uniform64 draws uniformly from [-1, 1] through a float64 (rounding to
// float32 can reach 1). It consumes the source as Uniform does but gives
// other values: internal/gemm's tests were written with it.
func Uniform64(r *rand.Rand) float32 { return float32(r.Float64()*2 - 1) }

// Fill sets every element of s to a value drawn from d, in order.
func Fill(r *rand.Rand, d Dist, s []float32) {
	for i := range s {
		s[i] = d(r)
	}
}

// Floats returns n values drawn from d.
func Floats(r *rand.Rand, d Dist, n int) []float32 {
	s := make([]float32, n)
	Fill(r, d, s)
	return s
}

// Tensor returns a tensor of the given shape filled, in row-major order,
// with values drawn from d.
func Tensor(r *rand.Rand, d Dist, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	Fill(r, d, t.Data)
	return t
}

// NormalTensor is Tensor(r, Normal, shape...).
func NormalTensor(r *rand.Rand, shape ...int) *tensor.Tensor { return Tensor(r, Normal, shape...) }

// UniformTensor is Tensor(r, Uniform, shape...).
func UniformTensor(r *rand.Rand, shape ...int) *tensor.Tensor { return Tensor(r, Uniform, shape...) }

// NormalFloats is Floats(r, Normal, n).
func NormalFloats(r *rand.Rand, n int) []float32 { return Floats(r, Normal, n) }

// UniformFloats is Floats(r, Uniform, n).
func UniformFloats(r *rand.Rand, n int) []float32 { return Floats(r, Uniform, n) }
