//go:build cgo

package onnx

import (
	"testing"

	"github.com/shearsml/shears/internal/ortref"
	"github.com/shearsml/shears/tensor"
)

// TestNewerOpsetsORT runs each opset 18–21 case in shears and in ONNX
// Runtime, as written (IR 10) and as shears exports it (opset 13): the
// outputs must agree within 1e-4 relative.
func TestNewerOpsetsORT(t *testing.T) {
	needORT(t)
	for _, c := range newerCases() {
		t.Run(c.name, func(t *testing.T) {
			x := newerInput(c)
			g, got := runNewer(t, c, x)
			if c.checks != nil {
				c.checks(t, g)
			}
			exported, err := Encode(g)
			if err != nil {
				t.Fatal(err)
			}
			for _, file := range []struct {
				what string
				b    []byte
			}{{"as written", mustMarshal(t, c.model())}, {"as exported", exported}} {
				s, err := ortref.Open(file.b, ortref.Options{Threads: 1})
				if err != nil {
					t.Fatalf("%s: ORT: %v", file.what, err)
				}
				want, err := s.Run(x)
				s.Close()
				if err != nil {
					t.Fatalf("%s: ORT: %v", file.what, err)
				}
				if len(want) != len(got) {
					t.Fatalf("%s: ORT gives %d outputs, shears %d", file.what, len(want), len(got))
				}
				for k := range want {
					if !tensor.SameShape(got[k].Shape, want[k].Shape) {
						t.Fatalf("%s: output %d: shape %s, ORT gives %s", file.what, k, tensor.ShapeString(got[k].Shape), tensor.ShapeString(want[k].Shape))
					}
					if d := tensor.RelDiff(got[k], want[k]); d > 1e-4 {
						t.Errorf("%s: output %d: relative difference %.2g from ORT", file.what, k, d)
					}
				}
			}
		})
	}
}
