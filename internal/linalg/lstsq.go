package linalg

import "fmt"

// LeastSquares solves min ‖A·X − Y‖² + ridge for the normal equations in
// g: X = (AᵀA + λI)⁻¹AᵀY with λ from CholeskyRidge(rel). It returns X
// (Dim×Out) and the factorisation (whose IllConditioned says whether λ had
// to grow past rel·mean(diag)).
func LeastSquares(g *Gram, rel float64) ([]float64, *Regularized, error) {
	if g.Out == 0 {
		return nil, nil, fmt.Errorf("linalg: least squares without targets")
	}
	r, err := CholeskyRidge(g.Sym(), g.Dim, rel)
	if err != nil {
		return nil, nil, err
	}
	x := make([]float64, len(g.AtY))
	copy(x, g.AtY)
	r.Solve(x, g.Out)
	return x, r, nil
}
