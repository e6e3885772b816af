// Package testutil holds what the tests of shears share: seeded random
// inputs, tolerance comparisons that say how far apart two results are, and
// golden files rewritten with -update.
//
// # Random inputs
//
// Every helper draws from a *rand.Rand the caller seeds, so a test's inputs
// are the same on every run. A [Dist] fixes how one value is drawn; the
// three here are the ones the tests have always used, and they are kept
// apart because tests compare against recorded outputs of their streams:
//
//	Normal     float32(r.NormFloat64())
//	Uniform    r.Float32()*2 - 1, in [-1, 1)
//	Uniform64  float32(r.Float64()*2 - 1), Uniform's range from a float64 draw
//
// [Floats] and [Tensor] fill a slice or a tensor; [NormalFloats],
// [UniformFloats], [NormalTensor] and [UniformTensor] are the common cases.
//
// # Tolerances
//
// [Near] is the element test |got − want| ≤ atol + rtol·|want| (NaN only
// matches NaN). [Compare] measures two slices and [Mismatch] turns that into
// a one-line report naming the worst element, the count outside the
// tolerance and the largest absolute and relative differences; [CheckClose]
// and [CheckTensorsClose] report it through testing.TB.
//
// # Golden files
//
// [Golden] compares output with testdata/NAME.golden and, when the test
// binary's own -update flag is set, rewrites the file instead. Each package
// declares the flag, as cmd/gofmt's tests do:
//
//	var update = flag.Bool("update", false, "rewrite golden files")
//
//	testutil.Golden(t, filepath.Join("testdata", "groups.golden"), got, *update)
package testutil
