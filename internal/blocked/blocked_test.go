package blocked

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
)

// naiveConv is the textbook grouped convolution on NCHW, in float64.
func naiveConv(x []float32, n, c, h, w int, wt []float32, m, groups int, g Geom, bias []float32, oh, ow int) []float64 {
	out := make([]float64, n*m*oh*ow)
	cg, mg := c/groups, m/groups
	for b := range n {
		for o := range m {
			gi := o / mg
			for y := range oh {
				for xo := range ow {
					s := 0.0
					if bias != nil {
						s = float64(bias[o])
					}
					for i := range cg {
						ci := gi*cg + i
						for kh := range g.KH {
							ih := y*g.SH - g.PT + kh*g.DH
							if ih < 0 || ih >= h {
								continue
							}
							for kw := range g.KW {
								iw := xo*g.SW - g.PL + kw*g.DW
								if iw < 0 || iw >= w {
									continue
								}
								s += float64(x[((b*c+ci)*h+ih)*w+iw]) * float64(wt[((o*cg+i)*g.KH+kh)*g.KW+kw])
							}
						}
					}
					out[((b*m+o)*oh+y)*ow+xo] = s
				}
			}
		}
	}
	return out
}

// naiveMaxPool is the textbook max pool on NCHW with −∞ padding.
func naiveMaxPool(x []float32, n, c, h, w int, g Geom, oh, ow int) []float64 {
	out := make([]float64, n*c*oh*ow)
	for p := range n * c {
		for y := range oh {
			for xo := range ow {
				m := math.Inf(-1)
				for kh := range g.KH {
					for kw := range g.KW {
						ih, iw := y*g.SH-g.PT+kh*g.DH, xo*g.SW-g.PL+kw*g.DW
						if ih >= 0 && ih < h && iw >= 0 && iw < w {
							m = math.Max(m, float64(x[(p*h+ih)*w+iw]))
						}
					}
				}
				if math.IsInf(m, -1) {
					m = 0 // no real pixel (a degenerate window ONNX would not make)
				}
				out[(p*oh+y)*ow+xo] = m
			}
		}
	}
	return out
}

type convCase struct {
	n, c, m, h, w int
	depthwise     bool
	planar        bool // dense: the input in the planar layout
	groups        int  // dense: groups (0 means 1), of whole blocks
	maxPool       bool // a max pool of a non-negative input instead
	g             Geom
	pb, pr        int
	residual      bool
	lo, hi        float32
}

func (tc convCase) String() string {
	return fmt.Sprintf("n%d_c%d_m%d_g%d_%dx%d_planar%v_max%v_dw%v_k%dx%d_s%dx%d_d%dx%d_p%d,%d,%d,%d_res%v_clamp%g,%g", tc.n, tc.c, tc.m, tc.groups, tc.h, tc.w, tc.planar, tc.maxPool, tc.depthwise,
		tc.g.KH, tc.g.KW, tc.g.SH, tc.g.SW, tc.g.DH, tc.g.DW, tc.g.PT, tc.g.PL, tc.pb, tc.pr, tc.residual, tc.lo, tc.hi)
}

func checkConv(t *testing.T, r *rand.Rand, tc convCase, threads int) {
	t.Helper()
	g := tc.g
	oh := (tc.h+g.PT+tc.pb-((g.KH-1)*g.DH+1))/g.SH + 1
	ow := (tc.w+g.PL+tc.pr-((g.KW-1)*g.DW+1))/g.SW + 1
	groups := max(tc.groups, 1)
	cg := tc.c / groups
	if tc.depthwise {
		groups, cg = tc.c, 1
	}
	x := testutil.NormalFloats(r, tc.n*tc.c*tc.h*tc.w)
	wt := testutil.NormalFloats(r, tc.m*cg*g.KH*g.KW)
	bias := testutil.NormalFloats(r, tc.m)
	want := naiveConv(x, tc.n, tc.c, tc.h, tc.w, wt, tc.m, groups, g, bias, oh, ow)
	if tc.maxPool {
		// The border stands in for −∞ padding only on inputs ≥ 0; without
		// one, inputs ≤ 0 check that maxima do not start at zero.
		sign := -1.0
		if max(g.PT, g.PL, tc.pb, tc.pr) > 0 {
			sign = 1
		}
		for i := range x {
			x[i] = float32(sign * math.Abs(float64(x[i])))
		}
		want = naiveMaxPool(x, tc.n, tc.c, tc.h, tc.w, g, oh, ow)
		tc.residual, tc.lo, tc.hi = false, float32(math.Inf(-1)), float32(math.Inf(1))
	}
	border := max(g.PT, g.PL, tc.pb, tc.pr)
	il := Layout{N: tc.n, C: tc.c, H: tc.h, W: tc.w, Border: border, Planar: tc.planar}
	ol := Layout{N: tc.n, C: tc.m, H: oh, W: ow, Border: 1}
	rl := Layout{N: tc.n, C: tc.m, H: oh, W: ow, Border: 2}
	in := make([]float32, il.Len())
	FromNCHW(in, il, x, threads)
	var res, resNCHW []float32
	if tc.residual {
		resNCHW = testutil.NormalFloats(r, tc.n*tc.m*oh*ow)
		res = make([]float32, rl.Len())
		FromNCHW(res, rl, resNCHW, threads)
	}
	// A fresh buffer: the kernels write the interior only, and the border
	// must stay zero (checked below).
	out := make([]float32, ol.Len())
	switch {
	case tc.maxPool:
		(&MaxPool{C: tc.c, Geom: g}).Run(in, il, out, ol, threads)
	case tc.depthwise:
		NewDepthwise(wt, tc.c, g, bias).Run(in, il, out, ol, res, rl, tc.lo, tc.hi, threads)
	default:
		NewConv(wt, tc.m, tc.c, groups, g, bias, tc.planar).Run(in, il, out, ol, res, rl, tc.lo, tc.hi, threads)
	}
	got := make([]float32, tc.n*tc.m*oh*ow)
	ToNCHW(got, out, ol, threads)
	wantOut := make([]float64, len(want))
	for i, v := range want {
		if resNCHW != nil {
			v += float64(resNCHW[i])
		}
		wantOut[i] = math.Min(math.Max(v, float64(tc.lo)), float64(tc.hi))
	}
	if msg := testutil.Mismatch(got, wantOut, 1e-4, 1e-4); msg != "" {
		t.Fatalf("%v: output %s", tc, msg)
	}
	// The border must still be zero.
	for nb := 0; nb < ol.N*ol.Blocks(); nb++ {
		for h := -1; h <= ol.H; h++ {
			for w := -1; w <= ol.W; w++ {
				if h >= 0 && h < ol.H && w >= 0 && w < ol.W {
					continue
				}
				at := ol.At(0, nb, h, w)
				for c := range Block {
					if out[at+c] != 0 {
						t.Fatalf("%v: border pixel (%d, %d) of block %d written", tc, h, w, nb)
					}
				}
			}
		}
	}
}

func convCases(r *rand.Rand, count int) []convCase {
	inf := float32(math.Inf(1))
	cases := []convCase{
		{n: 1, c: 16, m: 16, h: 28, w: 28, g: Geom{3, 3, 1, 1, 1, 1, 1, 1}, pb: 1, pr: 1, lo: -inf, hi: inf},
		{n: 2, c: 32, m: 64, h: 14, w: 14, g: Geom{3, 3, 2, 2, 1, 1, 1, 1}, pb: 0, pr: 0, lo: 0, hi: inf},
		{n: 2, c: 24, m: 144, h: 7, w: 7, g: Geom{1, 1, 1, 1, 1, 1, 0, 0}, residual: true, lo: 0, hi: 6},
		{n: 1, c: 3, m: 20, h: 17, w: 33, g: Geom{7, 7, 2, 2, 1, 1, 3, 3}, pb: 3, pr: 3, lo: -inf, hi: inf},
		{n: 2, c: 96, m: 96, h: 28, w: 28, depthwise: true, g: Geom{3, 3, 2, 2, 1, 1, 1, 1}, pb: 0, pr: 0, lo: 0, hi: 6},
		{n: 1, c: 40, m: 40, h: 9, w: 61, depthwise: true, g: Geom{5, 5, 1, 1, 1, 1, 2, 2}, pb: 2, pr: 2, residual: true, lo: -inf, hi: inf},
	}
	for range count {
		tc := convCase{n: 1 + r.IntN(2), h: 1 + r.IntN(20), w: 1 + r.IntN(40), depthwise: r.IntN(3) == 0, lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
		tc.c = 1 + r.IntN(40)
		tc.m = 1 + r.IntN(40)
		if tc.depthwise {
			tc.m = tc.c
		}
		k := []int{1, 3, 5}[r.IntN(3)]
		tc.g = Geom{KH: k, KW: 1 + r.IntN(3), SH: 1 + r.IntN(3), SW: 1 + r.IntN(3), DH: 1 + r.IntN(2), DW: 1 + r.IntN(2)}
		tc.g.PT, tc.g.PL, tc.pb, tc.pr = r.IntN(k), r.IntN(tc.g.KW), r.IntN(k), r.IntN(tc.g.KW)
		tc.residual = r.IntN(2) == 0
		switch k := r.IntN(4); {
		case tc.depthwise && k == 0:
			tc.depthwise, tc.maxPool = false, true
			// A window must hold a real pixel.
			tc.g.PT, tc.g.PL, tc.pb, tc.pr = min(tc.g.PT, (tc.g.KH-1)*tc.g.DH), min(tc.g.PL, (tc.g.KW-1)*tc.g.DW), 0, 0
		case !tc.depthwise && k == 0:
			tc.planar = true
		case !tc.depthwise && k == 1:
			// Grouped: whole blocks per group, in and out.
			tc.groups = 2 + r.IntN(3)
			tc.c, tc.m = tc.groups*Block*(1+r.IntN(2)), tc.groups*Block*(1+r.IntN(3))
		}
		if r.IntN(2) == 0 {
			tc.lo, tc.hi = 0, 6
		}
		if (tc.h+tc.g.PT+tc.pb-((tc.g.KH-1)*tc.g.DH+1)) < 0 || (tc.w+tc.g.PL+tc.pr-((tc.g.KW-1)*tc.g.DW+1)) < 0 {
			continue // no output
		}
		cases = append(cases, tc)
	}
	return cases
}

func TestConvMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, asm := range []bool{true, false} {
		if asm && !Available() {
			t.Log("no AVX-512: only the portable kernels are checked")
			continue
		}
		useAsm = asm
		for _, tc := range convCases(r, 150) {
			for _, threads := range []int{1, 2} {
				checkConv(t, r, tc, threads)
			}
		}
	}
	useAsm = Available()
}

func TestLayoutRoundTripAndPool(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, l := range []Layout{{2, 3, 5, 7, 0, false}, {1, 33, 4, 4, 1, false}, {3, 16, 1, 1, 2, false}, {2, 5, 3, 4, 2, true}} {
		x := testutil.NormalFloats(r, l.N*l.C*l.H*l.W)
		b := make([]float32, l.Len())
		FromNCHW(b, l, x, 2)
		back := make([]float32, len(x))
		ToNCHW(back, b, l, 2)
		for i := range x {
			if back[i] != x[i] {
				t.Fatalf("%+v: round trip element %d = %g, want %g", l, i, back[i], x[i])
			}
		}
		for i, v := range b {
			if v != 0 {
				found := false
				for _, xv := range x {
					if xv == v {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("%+v: element %d of the blocked buffer = %g is not from the input", l, i, v)
				}
			}
		}
		if l.Planar {
			continue // the pool takes blocked layouts only
		}
		// A global average pool, as graph runs it: a depthwise
		// convolution whose kernel is the whole map.
		k := make([]float32, l.C*l.H*l.W)
		for i := range k {
			k[i] = 1 / float32(l.H*l.W)
		}
		pl := Layout{N: l.N, C: l.C, H: 1, W: 1}
		pooled := make([]float32, pl.Len())
		NewDepthwise(k, l.C, Geom{KH: l.H, KW: l.W, SH: 1, SW: 1, DH: 1, DW: 1}, nil).Run(b, l, pooled, pl, nil, pl, float32(math.Inf(-1)), float32(math.Inf(1)), 2)
		pool := make([]float32, l.N*l.C)
		ToNCHW(pool, pooled, pl, 2)
		for i := range pool {
			s := 0.0
			for _, v := range x[i*l.H*l.W : (i+1)*l.H*l.W] {
				s += float64(v)
			}
			if d := math.Abs(float64(pool[i]) - s/float64(l.H*l.W)); d > 1e-5 {
				t.Fatalf("%+v: pooled %d = %g, want %g", l, i, pool[i], s/float64(l.H*l.W))
			}
		}
	}
}

// TestEveryKernel runs each generated kernel at least once, with and
// without a residual: rows of exactly n outputs for every tile width,
// stride and block count, several rows per call.
func TestEveryKernel(t *testing.T) {
	if !Available() {
		t.Skip("no AVX-512: the assembly kernels do not run here")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for s := 1; s <= 2; s++ {
		for n := 1; n <= dwTile; n++ {
			for _, residual := range []bool{false, true} {
				w := (n-1)*s + 1 // 3×3, padding 1: OW = (w+2−3)/s + 1 = n
				tc := convCase{n: 1, c: 17, m: 17, h: 7, w: w, depthwise: true, g: Geom{3, 3, s, s, 1, 1, 1, 1}, pb: 1, pr: 1, residual: residual, lo: -1, hi: 1}
				checkConv(t, r, tc, 1)
				tc.depthwise, tc.maxPool = false, true
				checkConv(t, r, tc, 1)
				// No padding: negative inputs too.
				np := tc
				np.w, np.g.PT, np.g.PL, np.pb, np.pr = w+2, 0, 0, 0, 0
				checkConv(t, r, np, 1)
				tc.maxPool = false
				if n > convTile {
					continue
				}
				for _, m := range []int{16, 32} {
					for _, planar := range []bool{false, true} {
						tc.m, tc.planar = m, planar
						checkConv(t, r, tc, 1)
					}
				}
			}
		}
	}
}
