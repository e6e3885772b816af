// Package linalg is the small dense linear algebra that calibration-based
// pruning needs, in float64: Gram matrices accumulated row by row
// (streaming, so that calibration activations never have to be held at
// once), Cholesky factorisation with automatic regularisation of
// ill-conditioned systems, least squares through the normal equations,
// LASSO by coordinate descent with a search over λ for a target number of
// non-zero coefficients, and the inverse-Hessian pieces that Optimal Brain
// Surgeon and SparseGPT use (the inverse of a symmetric positive definite
// matrix and the upper Cholesky factor of that inverse).
//
// Matrices are row-major []float64 with their order given separately
// (Sym is n×n). The sizes pruning meets (a layer's inputs, up to a few
// thousand) make plain loops fast enough; nothing here allocates per
// element.
package linalg
