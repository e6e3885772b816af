package onnx

import (
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/internal/onnxpb"
	"github.com/shearsml/shears/tensor"
)

// round16 rounds a normal-range value to the nearest float16 (ties to
// even): 11 significant bits.
func round16(v float64) float64 {
	if v == 0 {
		return 0
	}
	_, e := math.Frexp(math.Abs(v))
	q := math.Ldexp(1, e-11)
	return math.RoundToEven(v/q) * q
}

// halfModel: x → Cast(FLOAT16) → Mul(w) → Add(b) → Relu → Cast(FLOAT),
// with float16 initializers (int32_data holds their bits).
func halfModel() *onnxpb.ModelProto {
	half := func(name string, bits ...int32) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: ptr(name), Dims: []int64{int64(len(bits))}, DataType: ptr(int32(onnxpb.TensorProto_FLOAT16)), Int32Data: bits}
	}
	return modelProto(13, &onnxpb.GraphProto{
		Name: ptr("half"),
		Node: []*onnxpb.NodeProto{
			node("in", "Cast", []string{"x"}, []string{"h"}, attrInt("to", 10)),
			node("mul", "Mul", []string{"h", "w"}, []string{"m"}),
			node("add", "Add", []string{"m", "b"}, []string{"a"}),
			node("relu", "Relu", []string{"a"}, []string{"r"}),
			node("out", "Cast", []string{"r"}, []string{"y"}, attrInt("to", 1)),
		},
		// w ≈ 0.3333 (0x3555), 0.7 (0x399a); b = 0.1 (0x2e66), 0.25 (0x3400)
		Initializer: []*onnxpb.TensorProto{half("w", 0x3555, 0x399a), half("b", 0x2e66, 0x3400)},
		Input:       []*onnxpb.ValueInfoProto{vinfo("x", 1, 2)},
		Output:      []*onnxpb.ValueInfoProto{vinfo("y", 1, 2)},
	})
}

func TestFloat16Round(t *testing.T) {
	b := mustMarshal(t, halfModel())
	x := &tensor.Tensor{Shape: []int{1, 2}, Data: []float32{1.2345, 2.71828}}
	run := func(opts LoadOptions) ([]float32, int) {
		g, err := opts.Decode(b, "half.onnx")
		if err != nil {
			t.Fatal(err)
		}
		casts := 0
		for _, n := range g.Nodes {
			if n.Op == "Cast" {
				casts++
			}
		}
		p, err := cpu.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Forward(false, x)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := Encode(g)
		if err != nil {
			t.Fatal(err)
		}
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(enc, &m); err != nil {
			t.Fatal(err)
		}
		written := 0
		for _, n := range m.Graph.Node {
			if n.GetOpType() == "Cast" {
				written++
			}
		}
		if written != 2 {
			t.Errorf("%+v: the export has %d Casts, want the file's 2", opts, written)
		}
		return append([]float32(nil), out[0].Data...), casts
	}
	w := []float64{halfToFloat64(0x3555), halfToFloat64(0x399a)}
	bias := []float64{halfToFloat64(0x2e66), halfToFloat64(0x3400)}
	got, casts := run(LoadOptions{Float16Round: true})
	if casts != 4 {
		t.Errorf("rounded: %d Casts, want 4 (the file's 2, after Mul and after Add)", casts)
	}
	for i := range got {
		h := round16(float64(x.Data[i]))
		want := round16(round16(h*w[i]) + bias[i])
		if float64(got[i]) != want {
			t.Errorf("rounded: y[%d] = %v, want %v", i, got[i], want)
		}
	}
	got, casts = run(LoadOptions{})
	if casts != 2 {
		t.Errorf("default: %d Casts, want 2", casts)
	}
	for i := range got {
		h := round16(float64(x.Data[i]))
		want := float32(h*w[i] + bias[i])
		if math.Abs(float64(got[i]-want)) > 1e-6 {
			t.Errorf("default: y[%d] = %v, want %v (float32 between the casts)", i, got[i], want)
		}
	}
}

func halfToFloat64(bits uint16) float64 { return float64(halfToFloat(bits)) }

// floatToHalf inverts halfToFloat on every half, and rounds other values
// to the nearest half, ties to even.
func TestFloatToHalf(t *testing.T) {
	for h := range 1 << 16 {
		f := halfToFloat(uint16(h))
		if f != f { // NaN: any NaN back
			if g := floatToHalf(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#x → %#x", h, g)
			}
			continue
		}
		if g := floatToHalf(f); g != uint16(h) {
			t.Fatalf("half %#x = %v → %#x", h, f, g)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},        // tie: to even (1.0)
		{1 + 3.0/2048, 0x3c02},        // tie: to even (1 + 2/1024)
		{1 + 1.0/2048 + 1e-7, 0x3c01}, // above the tie
		{65520, 0x7c00},               // rounds past 65504: +Inf
		{-70000, 0xfc00},
		{3e-8, 0x0001}, // nearest subnormal (2^-24 ≈ 5.96e-8 rounds from 3e-8 up)
		{2e-8, 0x0000},
	} {
		if g := floatToHalf(c.f); g != c.want {
			t.Errorf("floatToHalf(%v) = %#x, want %#x", c.f, g, c.want)
		}
	}
}
