package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"
)

var geoms = []Geom{
	{C: 2, H: 5, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 3, H: 7, W: 7, KH: 3, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, PT: 1, PL: 0},
	{C: 1, H: 9, W: 8, KH: 3, KW: 3, SH: 1, SW: 2, DH: 2, DW: 2, PT: 2, PL: 2},
	{C: 4, H: 1, W: 33, KH: 1, KW: 5, SH: 1, SW: 3, DH: 1, DW: 1, PT: 0, PL: 2},
	// Rows of ≥ 8 outputs take the vectorised row copies and gathers.
	{C: 2, H: 5, W: 30, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 2, H: 7, W: 41, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, PT: 1, PL: 1},
	{C: 3, H: 6, W: 37, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1, PT: 0, PL: 0},
	{C: 1, H: 9, W: 50, KH: 3, KW: 3, SH: 2, SW: 2, DH: 2, DW: 3, PT: 2, PL: 3},
}

func outSize(in, k, s, d, p int) int { return (in+2*p-((k-1)*d+1))/s + 1 }

func fill(g *Geom) {
	g.OH = outSize(g.H, g.KH, g.SH, g.DH, g.PT)
	g.OW = outSize(g.W, g.KW, g.SW, g.DW, g.PL)
}

// naiveCol is the definition of the im2col matrix.
func naiveCol(g *Geom, x []float32, row, col int) float32 {
	c, rem := row/(g.KH*g.KW), row%(g.KH*g.KW)
	ki, kj := rem/g.KW, rem%g.KW
	oh, ow := col/g.OW, col%g.OW
	ih, iw := oh*g.SH-g.PT+ki*g.DH, ow*g.SW-g.PL+kj*g.DW
	if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
		return 0
	}
	return x[(c*g.H+ih)*g.W+iw]
}

func TestIm2colAgainstDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, g := range geoms {
		fill(&g)
		x := make([]float32, g.C*g.H*g.W)
		for i := range x {
			x[i] = r.Float32()
		}
		ohw := g.OH * g.OW
		ld := ohw + 7 // a strided view: padding must stay untouched
		col := make([]float32, g.K()*ld)
		for i := range col {
			col[i] = -99
		}
		Im2col(&g, x, col, ld)
		for row := 0; row < g.K(); row++ {
			for c := 0; c < ld; c++ {
				got := col[row*ld+c]
				if c >= ohw {
					if got != -99 {
						t.Fatalf("%+v: padding at row %d col %d overwritten", g, row, c)
					}
					continue
				}
				if want := naiveCol(&g, x, row, c); got != want {
					t.Fatalf("%+v: col[%d][%d] = %v, want %v", g, row, c, got, want)
				}
			}
		}
		// Built in two row ranges by Im2colRows: the same matrix, and
		// each call writes only its rows.
		split := make([]float32, len(col))
		for i := range split {
			split[i] = -99
		}
		mid := g.K() / 2
		Im2colRows(&g, x, split, ld, 0, mid)
		for i := mid * ld; i < len(split); i++ {
			if split[i] != -99 {
				t.Fatalf("%+v: Im2colRows(0, %d) wrote row %d", g, mid, i/ld)
			}
		}
		Im2colRows(&g, x, split, ld, mid, g.K())
		if !slices.Equal(split, col) {
			t.Fatalf("%+v: Im2colRows in two ranges differs from Im2col", g)
		}
	}
}

// Col2im must be the adjoint of Im2col: <Im2col(x), y> = <x, Col2im(y)>.
func TestCol2imIsAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, g := range geoms {
		fill(&g)
		x := make([]float32, g.C*g.H*g.W)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		ohw := g.OH * g.OW
		y := make([]float32, g.K()*ohw)
		for i := range y {
			y[i] = r.Float32() - 0.5
		}
		col := make([]float32, len(y))
		Im2col(&g, x, col, ohw)
		back := make([]float32, len(x))
		Col2im(&g, y, back, ohw)
		var a, b float64
		for i := range y {
			a += float64(col[i]) * float64(y[i])
		}
		for i := range x {
			b += float64(x[i]) * float64(back[i])
		}
		if d := a - b; d > 1e-4 || d < -1e-4 {
			t.Fatalf("%+v: <im2col x, y> = %v, <x, col2im y> = %v", g, a, b)
		}
	}
}
