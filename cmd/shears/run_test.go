package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/zoo"
)

func randTensor(seed uint64, shape ...int) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}

// npyOf writes a .npy of another dtype, for the conversion tests.
func npyOf(descr string, shape string, data []byte) []byte {
	header := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }\n"
	var b bytes.Buffer
	b.WriteString(npyMagic)
	b.Write([]byte{1, 0})
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestNpyRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{}, {3}, {2, 3}, {1, 2, 3, 4}} {
		x := randTensor(1, shape...)
		y, err := decodeNpy(encodeNpy(x))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x.Shape, y.Shape) || !slices.Equal(x.Data, y.Data) {
			t.Fatalf("shape %v: round trip differs", shape)
		}
		if n := len(encodeNpy(x)) - 4*len(x.Data); n%64 != 0 {
			t.Errorf("header of %d bytes is not 64-byte aligned", n)
		}
	}
	f64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f64, math.Float64bits(1.5))
	binary.LittleEndian.PutUint64(f64[8:], math.Float64bits(-2))
	i64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(i64, 7)
	binary.LittleEndian.PutUint64(i64[8:], uint64(1<<64-3)) // −3
	be := make([]byte, 8)
	binary.BigEndian.PutUint32(be, math.Float32bits(0.25))
	binary.BigEndian.PutUint32(be[4:], math.Float32bits(4))
	for _, c := range []struct {
		descr string
		data  []byte
		want  []float32
	}{
		{"<f8", f64, []float32{1.5, -2}},
		{"<i8", i64, []float32{7, -3}},
		{">f4", be, []float32{0.25, 4}},
		{"|u1", []byte{0, 255}, []float32{0, 255}},
		{"<f2", []byte{0x00, 0x3c, 0x00, 0xc0}, []float32{1, -2}},
	} {
		x, err := decodeNpy(npyOf(c.descr, "(2,)", c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.descr, err)
		}
		if !slices.Equal(x.Data, c.want) {
			t.Errorf("%s: %v, want %v", c.descr, x.Data, c.want)
		}
	}
}

// TestRunExport exports a zoo model, runs it from .npy and .pb inputs and
// checks the outputs against the library; info, eval and train read the
// exported ONNX file.
func TestRunExport(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "resnet20.onnx")
	out, _, code := shears(t, "export", "resnet20", "--seed", "3", "--out", model, "--json")
	if code != 0 || lastJSON(t, out)["params"].(float64) != 272186 {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	folded := filepath.Join(dir, "folded.onnx")
	out, _, code = shears(t, "export", model, "--fold-bn", "--out", folded, "--json")
	if m := lastJSON(t, out); code != 0 || m["folded_batchnorm"].(float64) != 21 {
		t.Fatalf("export --fold-bn: exit %d: %s", code, out)
	}

	x := randTensor(5, 2, 1, 28, 28)
	g, err := onnx.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cpu.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := p.Forward(false, x)
	if err != nil {
		t.Fatal(err)
	}
	want := ys[0].Clone()

	npy := filepath.Join(dir, "x.npy")
	os.WriteFile(npy, encodeNpy(x), 0o644)
	pb := filepath.Join(dir, "x.pb")
	b, _ := onnx.EncodeTensor("input", x)
	os.WriteFile(pb, b, 0o644)
	for _, c := range []struct {
		model, input, output string
		tol                  float64
	}{
		// shears run compiles for inference (blocked convolutions sum in
		// another order): equal up to float rounding.
		{model, npy, filepath.Join(dir, "y.npy"), 1e-5},
		{model, "input=" + pb, "fc=" + filepath.Join(dir, "y.pb"), 1e-5},
		{folded, npy, filepath.Join(dir, "yf.npy"), 1e-5},
	} {
		out, stderr, code := shears(t, "run", c.model, "--input", c.input, "--output", c.output, "--threads", "2", "--json")
		if code != 0 {
			t.Fatalf("run %s: exit %d: %s", c.input, code, stderr)
		}
		m := lastJSON(t, out)
		for _, k := range []string{"latency_ms", "p90_ms", "batch", "threads"} {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON lacks %s: %v", k, m)
			}
		}
		if m["batch"].(float64) != 2 || m["threads"].(float64) != 2 || m["runs"].(float64) < 2 {
			t.Errorf("JSON %v", m)
		}
		file := c.output
		if i := bytes.IndexByte([]byte(file), '='); i >= 0 {
			file = file[i+1:]
		}
		got, err := readTensorFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Shape, want.Shape) {
			t.Fatalf("output shape %v, want %v", got.Shape, want.Shape)
		}
		var d, s float64
		for i := range want.Data {
			d = max(d, math.Abs(float64(got.Data[i]-want.Data[i])))
			s = max(s, math.Abs(float64(want.Data[i])))
		}
		if d > c.tol*s {
			t.Errorf("%s: output differs from the library's by %g (scale %g)", c.output, d, s)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	}

	out, _, code = shears(t, "run", "lenet5", "--random-input", "--batch", "3", "--repeat", "3", "--json")
	if m := lastJSON(t, out); code != 0 || m["batch"].(float64) != 3 || m["runs"].(float64) != 3 {
		t.Fatalf("random input: exit %d: %s", code, out)
	}

	// --profile: every node timed, the activations fused into the folded
	// model's convolutions marked and timeless, the printed table.
	out, _, code = shears(t, "run", folded, "--random-input", "--repeat", "2", "--profile", "--json")
	if code != 0 || !strings.Contains(out, "where a run's time goes") || !strings.Contains(out, "per op type:") {
		t.Fatalf("run --profile: exit %d: %s", code, out)
	}
	prof, _ := lastJSON(t, out)["profile"].([]any)
	convs, fused := 0, 0
	for _, r := range prof {
		row := r.(map[string]any)
		ms := row["ms"].(float64)
		switch {
		case row["fused"] == true:
			fused++
			if ms != 0 {
				t.Errorf("fused node %v took %v ms", row["node"], ms)
			}
		case row["op"] == "Conv":
			convs++
			if ms <= 0 {
				t.Errorf("node %v took %v ms", row["node"], ms)
			}
		}
	}
	if convs != 21 || fused == 0 { // resnet20: 19 + 2 projections
		t.Errorf("--profile: %d convolutions, %d fused nodes in %d rows", convs, fused, len(prof))
	}

	// info, eval and train take the ONNX file.
	out, _, code = shears(t, "info", model, "--json")
	if code != 0 || lastJSON(t, out)["macs"].(float64) != 31021952 {
		t.Fatalf("info: exit %d: %s", code, out)
	}
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err == nil {
		out, _, code = shears(t, "eval", model, "--data", "fashion-mnist", "--limit", "200", "--json", "--quiet")
		if code != 0 || lastJSON(t, out)["test_images"].(float64) != 200 {
			t.Fatalf("eval: exit %d: %s", code, out)
		}
	}
	lenet := filepath.Join(dir, "lenet300.onnx")
	if _, _, code := shears(t, "export", "lenet300", "--out", lenet); code != 0 {
		t.Fatal("export lenet300")
	}
	out, _, code = shears(t, "train", "--model", lenet, "--data", "mnist", "--limit", "500", "--epochs", "1",
		"--out", filepath.Join(dir, "trained.onnx"), "--json", "--quiet")
	if code != 0 || lastJSON(t, out)["test_accuracy"] == nil {
		t.Fatalf("train from an ONNX file: exit %d: %s", code, out)
	}
	out, _, code = shears(t, "eval", filepath.Join(dir, "trained.onnx"), "--data", "mnist", "--limit", "200", "--json", "--quiet")
	if code != 0 || lastJSON(t, out)["test_images"].(float64) != 200 {
		t.Fatalf("eval: exit %d: %s", code, out)
	}
}

// TestRunBadInput: bad tensor files, shapes and names give one-line
// errors naming the file or input.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	if err := onnx.Save(model, zoo.LeNet5(1)); err != nil {
		t.Fatal(err)
	}
	x := randTensor(1, 2, 1, 28, 28)
	good := encodeNpy(x)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodNpy := write("good.npy", good)
	pbBytes, _ := onnx.EncodeTensor("input", x)
	out := filepath.Join(dir, "out.npy")

	wantError(t, []string{"trunc.npy", "truncated"}, "run", model, "--input", write("trunc.npy", good[:len(good)-7]))
	wantError(t, []string{"head.npy", "truncated"}, "run", model, "--input", write("head.npy", good[:20]))
	wantError(t, []string{"trunc.pb"}, "run", model, "--input", write("trunc.pb", pbBytes[:len(pbBytes)/2]))
	wantError(t, []string{"empty.pb", "empty"}, "run", model, "--input", write("empty.pb", nil))
	wantError(t, []string{"text.pb", "not an ONNX tensor"}, "run", model, "--input", write("text.pb", []byte("hello, world\n")))
	wantError(t, []string{"str.npy", "<U5", "not supported"}, "run", model, "--input", write("str.npy", npyOf("<U5", "(1,)", make([]byte, 20))))
	wantError(t, []string{"c8.npy", "<c8"}, "run", model, "--input", write("c8.npy", npyOf("<c8", "(1,)", make([]byte, 8))))
	wantError(t, []string{"nosuch.npy", "no such file"}, "run", model, "--input", filepath.Join(dir, "nosuch.npy"))
	wantError(t, []string{"dir.npy", "directory"}, "run", model, "--input", func() string {
		p := filepath.Join(dir, "dir.npy")
		os.Mkdir(p, 0o755)
		return p
	}())
	// Wrong shape: the input name and both shapes.
	wantError(t, []string{`"input"`, "small.npy", "2×3×28×28", "N×1×28×28"}, "run", model, "--input", write("small.npy", encodeNpy(tensor.New(2, 3, 28, 28))))
	wantError(t, []string{`"input"`, "vec.npy", "784", "N×1×28×28"}, "run", model, "--input", write("vec.npy", encodeNpy(tensor.New(784))))
	// Names.
	wantError(t, []string{"no input", `"image"`, "input"}, "run", model, "--input", "image="+goodNpy)
	wantError(t, []string{"no output", `"logits"`}, "run", model, "--input", goodNpy, "--output", "logits="+out)
	wantError(t, []string{"2 --input files", "1 input"}, "run", model, "--input", goodNpy, "--input", goodNpy)
	wantError(t, []string{"given twice"}, "run", model, "--input", goodNpy, "--input", "input="+goodNpy)
	wantError(t, []string{"--input"}, "run", model)
	wantError(t, []string{"out.txt", ".npy"}, "run", model, "--input", goodNpy, "--output", filepath.Join(dir, "out.txt"))
	wantError(t, []string{"nodir"}, "run", model, "--input", goodNpy, "--output", filepath.Join(dir, "nodir", "y.npy"))
	wantError(t, []string{"unknown model"}, "run", "resnet21", "--random-input")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an output was written by a failed run")
	}
	wantError(t, []string{"--out"}, "export", "lenet5")
}

// FuzzTensorFile: .npy and .pb readers never panic, and what they accept
// is consistent.
func FuzzTensorFile(f *testing.F) {
	x := randTensor(1, 2, 3)
	f.Add(encodeNpy(x))
	b, _ := onnx.EncodeTensor("x", x)
	f.Add(b)
	f.Add(npyOf("<i8", "(2,)", make([]byte, 16)))
	f.Add(npyOf(">f8", "(1, 1)", make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var y *tensor.Tensor
		var err error
		if bytes.HasPrefix(b, []byte(npyMagic)) {
			y, err = decodeNpy(b)
		} else {
			_, y, err = onnx.DecodeTensor(b)
		}
		if err != nil {
			return
		}
		if n, err := tensor.NumElems(y.Shape); err != nil || n != len(y.Data) {
			t.Fatalf("shape %v with %d elements", y.Shape, len(y.Data))
		}
	})
}

func TestAssign(t *testing.T) {
	names := []string{"a", "b", "c"}
	for _, c := range []struct {
		args []string
		want []string
		err  string
	}{
		{[]string{"x", "y", "z"}, []string{"x", "y", "z"}, ""},
		{[]string{"c=z", "x", "y"}, []string{"x", "y", "z"}, ""},
		{[]string{"x", "a=y"}, nil, "given twice"},
		{[]string{"b=y"}, []string{"", "y", ""}, ""},
		{[]string{"d=y"}, nil, `no input "d"`},
		{[]string{"dir/k=v.npy"}, []string{"dir/k=v.npy", "", ""}, ""},
		{[]string{"w", "x", "y", "z"}, nil, "4 --input files"},
	} {
		got, err := assign("input", names, c.args)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, %v; want %v", c.args, got, err, c.want)
		}
	}
}

// TestRunFixedBatch: a model whose batch is fixed runs at that batch, and
// the report says so (not the --batch the user typed, which has no effect
// and is warned about).
func TestRunFixedBatch(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "l5.onnx")
	if _, se, code := shears(t, "export", "lenet5", "--out", model); code != 0 {
		t.Fatalf("export: %s", se)
	}
	so, se, code := shears(t, "run", model, "--random-input", "--batch", "3", "--input-shape", "input=1x1x28x28", "--repeat", "1", "--json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, se)
	}
	if !strings.Contains(se, `warning: --batch 3 has no effect: input "input" has a fixed batch of 1`) {
		t.Errorf("stderr %q: want the warning", se)
	}
	lines := strings.Split(strings.TrimSpace(so), "\n")
	var res struct{ Batch int }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.Batch != 1 {
		t.Errorf("JSON %q: want batch 1 (err %v)", lines[len(lines)-1], err)
	}
}
