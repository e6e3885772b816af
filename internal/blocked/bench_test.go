package blocked

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/internal/testutil"
)

// BenchmarkConv reports GFLOP/s of single convolutions on the blocked
// layout, one and two threads, batch 1:
//
//	go test -run X -bench Conv ./internal/blocked
func BenchmarkConv(b *testing.B) {
	if !Available() {
		b.Skip("no AVX-512")
	}
	for _, tc := range []struct {
		c, m, h, k, s int
		depthwise     bool
	}{
		{64, 64, 56, 3, 1, false},   // resnet18 layer1
		{16, 16, 28, 3, 1, false},   // resnet20 stage 1
		{64, 64, 7, 3, 1, false},    // resnet20 stage 3
		{256, 256, 14, 3, 1, false}, // resnet18 layer3
		{512, 512, 7, 3, 1, false},  // resnet18 layer4
		{96, 24, 14, 1, 1, false},   // mobilenet project
		{24, 144, 14, 1, 1, false},  // mobilenet expand
		{64, 384, 7, 1, 1, false},   // mobilenetv2-s block7.expand
		{384, 384, 7, 3, 1, true},   // mobilenetv2-s block7.dw
		{96, 96, 28, 3, 2, true},    // mobilenet depthwise, stride 2
		{144, 144, 14, 3, 1, true},  // mobilenet depthwise
	} {
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("c%d_m%d_%dx%d_k%d_s%d_t%d", tc.c, tc.m, tc.h, tc.h, tc.k, tc.s, threads)
			if tc.depthwise {
				name = "dw_" + name
			}
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				p := tc.k / 2
				g := Geom{tc.k, tc.k, tc.s, tc.s, 1, 1, p, p}
				oh := (tc.h+2*p-tc.k)/tc.s + 1
				il := Layout{N: 1, C: tc.c, H: tc.h, W: tc.h, Border: 1}
				ol := Layout{N: 1, C: tc.m, H: oh, W: oh, Border: 1}
				in, out := make([]float32, il.Len()), make([]float32, ol.Len())
				FromNCHW(in, il, testutil.NormalFloats(r, tc.c*tc.h*tc.h), 1)
				var run func()
				flops := 2 * oh * oh * tc.m * tc.k * tc.k
				if tc.depthwise {
					d := NewDepthwise(testutil.NormalFloats(r, tc.c*tc.k*tc.k), tc.c, g, nil)
					run = func() { d.Run(in, il, out, ol, nil, ol, -1e30, 1e30, threads) }
				} else {
					cv := NewConv(testutil.NormalFloats(r, tc.m*tc.c*tc.k*tc.k), tc.m, tc.c, 1, g, nil, false)
					run = func() { cv.Run(in, il, out, ol, nil, ol, -1e30, 1e30, threads) }
					flops *= tc.c
				}
				b.ResetTimer()
				for range b.N {
					run()
				}
				b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
