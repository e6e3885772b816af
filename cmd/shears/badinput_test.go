package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shearsml/shears/backend/cpu"
	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/onnx"
	"github.com/shearsml/shears/prune/recipe"
	"github.com/shearsml/shears/tensor"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/zoo"
)

// badFixture is a folder of files the bad-input rows name: outputs with
// known bytes that every failed run must leave as they were, and hostile
// inputs (empty, truncated, text, a FIFO, an activation bomb).
type badFixture struct {
	dir   string
	keep  map[string][]byte // outputs that exist before the runs
	p     func(name string) string
	model string // a valid lenet5 ONNX
	fifo  string
	xnpy  string
	bomb  string
	trunc string
	ckpt  string // a valid checkpoint: lenet5 on the first 1000 MNIST images
	// pruneCkpt: a prune checkpoint of lenet5 at ratio 0.5, with the
	// default recipe otherwise, writing out.onnx.
	pruneCkpt string
	rootRun   bool
}

func newBadFixture(t *testing.T) *badFixture {
	dir := t.TempDir()
	f := &badFixture{dir: dir, keep: map[string][]byte{}, p: func(n string) string { return filepath.Join(dir, n) }}
	write := func(name string, b []byte) string {
		path := f.p(name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, name := range []string{"out.onnx", "out.csv", "out.npy", "masked.onnx", "out.onnx.ckpt"} {
		b := []byte("existing " + name + " must survive a failed run\n")
		f.keep[write(name, b)] = b
	}
	f.model = f.p("m.onnx")
	if err := onnx.Save(f.model, zoo.LeNet5(1)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.model)
	f.keep[f.model] = b
	f.trunc = write("trunc.onnx", b[:len(b)/2])
	write("empty.onnx", nil)
	write("text.onnx", []byte("this is a text file, not a model\n"))
	write("empty.yaml", nil)
	write("text.yaml", []byte("just some words\n"))
	write("sweep.yaml", []byte("model: lenet5\ntarget: {ratios: [0.2, 0.4]}\nfinetune: {epochs: 0}\noutput:\n  out: '"+f.p("r{ratio}.onnx")+"'\n"))
	write("empty.npy", nil)
	write("trunc.ckpt", []byte("SHRSCKPT\x01\x00\x00\x00"))
	f.xnpy = write("x.npy", encodeNpy(randTensor(1, 1, 1, 28, 28)))
	write("plain", []byte("a file, not a folder"))
	os.Mkdir(f.p("sub"), 0o755)
	f.fifo = f.p("fifo")
	if err := syscall.Mkfifo(f.fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(f.p("fifo.npy"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.bomb = f.p("bomb.onnx")
	g := activationBomb()
	if err := onnx.Save(f.bomb, g); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(f.bomb); st.Size() > 1000 {
		t.Fatalf("the activation bomb is %d bytes, want a small file", st.Size())
	}
	model, err := onnx.Encode(zoo.LeNet5(1))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := train.Recipe("dense-mnist")
	f.ckpt = f.p("good.ckpt")
	if err := train.WriteCheckpoint(f.ckpt, &train.Checkpoint{Model: model, Optimizer: "sgd", Epoch: 1, Config: cfg,
		Source: train.Source{Model: "lenet5", Data: "mnist", Limit: 1000}}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(f.ckpt)
	f.keep[f.ckpt] = b
	r := recipe.Default()
	r.Model, r.Target.Ratio, r.Output.Out = "lenet5", 0.5, f.p("out.onnx")
	f.pruneCkpt = f.p("prune.ckpt")
	if err := recipe.WriteCheckpoint(f.pruneCkpt, &recipe.Checkpoint{Recipe: r, Model: model, Params: map[string][]float32{}}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(f.pruneCkpt)
	f.keep[f.pruneCkpt] = b
	f.rootRun = os.Geteuid() == 0
	// Data files: colour 32×32 PNGs (lenet5 reads 1×28×28), grey 28×28 ones
	// without labels, a folder without images, .npy files of the wrong shape
	// and truncated, a CIFAR-10 test batch.
	os.MkdirAll(f.p("rgb32"), 0o755)
	os.MkdirAll(f.p("grey28"), 0o755)
	os.MkdirAll(f.p("noimg"), 0o755)
	for i := range 2 {
		writePNG(t, f.p(fmt.Sprintf("rgb32/%d.png", i)), image.NewRGBA(image.Rect(0, 0, 32, 32)))
		writePNG(t, f.p(fmt.Sprintf("grey28/%d.png", i)), image.NewGray(image.Rect(0, 0, 28, 28)))
	}
	write("noimg/readme.txt", []byte("no images here"))
	if err := data.WriteNPY(f.p("rgb.npy"), make([]float32, 2*3*28*28), 2, 3, 28, 28); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNPY(f.p("cut.npy"), make([]float32, 2*28*28), 2, 1, 28, 28); err != nil {
		t.Fatal(err)
	}
	cut, _ := os.ReadFile(f.p("cut.npy"))
	write("cut.npy", cut[:len(cut)-100])
	os.MkdirAll(f.p("cifar"), 0o755)
	write("cifar/test_batch.bin", make([]byte, 2*3073))
	return f
}

// writePNG encodes img as a PNG file.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// activationBomb is a model of a few hundred bytes whose activations need
// 32 GiB: an Expand to 2³⁰ floats (4 GiB) and seven Relus after it.
func activationBomb() *graph.Graph {
	g := &graph.Graph{Name: "bomb", Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{1, 1, 1, 1}}}, Meta: map[string]string{}}
	g.AddParam("shape", &tensor.Tensor{Shape: []int{4}, Data: []float32{1, 1024, 1024, 1024}}, false)
	g.Nodes = append(g.Nodes, &graph.Node{Name: "expand", Op: "Expand", Inputs: []string{"x", "shape"}, Outputs: []string{"e"}})
	prev := "e"
	for i := range 7 {
		out := "r" + string(rune('0'+i))
		g.Nodes = append(g.Nodes, &graph.Node{Name: out, Op: "Relu", Inputs: []string{prev}, Outputs: []string{out}})
		prev = out
	}
	g.Outputs = []graph.ValueInfo{{Name: prev}}
	return g
}

// badRow is one bad command line: the exit status and the first line of
// stderr it must give (a prefix, exact up to where the row stops).
type badRow struct {
	args []string
	code int
	line string
	// skipRoot: the row relies on permissions root does not have.
	skipRoot bool
}

func badRows(f *badFixture) []badRow {
	out, p := f.p("out.onnx"), f.p
	T := func(extra ...string) []string {
		return append([]string{"train", "--model", "lenet5", "--out", out}, extra...)
	}
	P := func(extra ...string) []string {
		return append([]string{"prune", "lenet5", "--finetune-epochs", "0", "--latency-runs", "0", "--out", out}, extra...)
	}
	R := func(extra ...string) []string { return append([]string{"run", "lenet5", "--random-input"}, extra...) }
	a := func(args ...string) []string { return args }
	return []badRow{
		// The top level.
		{args: a(), code: 2, line: "shears: neural-network pruning in pure Go"},
		{args: a("trian"), code: 2, line: `shears: unknown command "trian" (commands: train, eval, info, run, export, prune)`},
		{args: a("--out", out), code: 2, line: "shears: flag --out before a command"},

		// train: numbers out of range or not finite, each named.
		{args: T("--epochs", "-5"), code: 2, line: "shears train: --epochs must be ≥ 0, have -5"},
		{args: T("--batch", "0"), code: 2, line: "shears train: --batch must be ≥ 1, have 0"},
		{args: T("--batch", "-5"), code: 2, line: "shears train: --batch must be ≥ 1, have -5"},
		{args: T("--lr", "NaN"), code: 2, line: "shears train: --lr NaN: not a finite number"},
		{args: T("--lr", "Inf"), code: 2, line: "shears train: --lr Inf: not a finite number"},
		{args: T("--lr", "-0.5"), code: 2, line: "shears train: --lr must be in (0, 1000], have -0.5"},
		{args: T("--lr", "0"), code: 2, line: "shears train: --lr must be in (0, 1000], have 0"},
		{args: T("--weight-decay", "-2"), code: 2, line: "shears train: --weight-decay must be ≥ 0, have -2"},
		{args: T("--weight-decay", "NaN"), code: 2, line: "shears train: --weight-decay NaN: not a finite number"},
		{args: T("--warmup", "-5"), code: 2, line: "shears train: --warmup must be ≥ 0, have -5"},
		{args: T("--limit", "-1"), code: 2, line: "shears train: --limit must be ≥ 0, have -1"},
		{args: T("--threads", "-1"), code: 2, line: "shears train: --threads must be ≥ 0, have -1"},
		{args: T("--epochs", "x"), code: 2, line: "shears train: --epochs x: not a number"},
		{args: T("--seed", "-1"), code: 2, line: "shears train: --seed -1: not a number"},
		{args: T("--optimizer", "rmsprop"), code: 2, line: "shears train: unknown optimizer"},
		{args: T("--schedule", "linear"), code: 2, line: "shears train: unknown"},
		{args: T("--recipe", "nosuch"), code: 2, line: `shears train: --recipe: unknown recipe "nosuch"`},
		{args: T("--foo"), code: 2, line: "shears train: unknown flag --foo"},
		{args: a("train", "--model", "lenet5", "--out"), code: 2, line: "shears train: --out needs a value"},
		// train: missing, empty and contradicting flags.
		{args: a("train", "--out", out), code: 2, line: "shears train: --model is required"},
		{args: a("train", "--model", "lenet5"), code: 2, line: "shears train: --out is required"},
		{args: a("train", "--model", "", "--out", out), code: 2, line: "shears train: --model is empty"},
		{args: T("--resume", p("trunc.ckpt")), code: 2, line: "shears train: --model with --resume"},
		{args: a("train", "--resume", f.ckpt, "--lr", "0.5", "--out", out), code: 2, line: "shears train: --lr 0.5 contradicts the checkpoint, which holds 0.1"},
		{args: a("train", "--resume", f.ckpt, "--data", "fashion-mnist", "--out", out), code: 2, line: "shears train: --data fashion-mnist contradicts the checkpoint, which holds mnist"},
		{args: a("train", "--resume", f.ckpt, "--limit", "50", "--out", out), code: 2, line: "shears train: --limit 50 contradicts the checkpoint, which holds 1000"},
		{args: a("train", "--resume", f.ckpt, "--seed", "7", "--out", out), code: 2, line: "shears train: --seed 7 contradicts the checkpoint, which holds 0"},
		{args: a("train", "--resume", f.ckpt, "--out", f.ckpt), code: 2, line: "shears train: --resume and --out name the same file"},
		// train: outputs.
		{args: a("train", "--model", "lenet5", "--out", "/dev/null"), code: 2, line: "shears train: --out /dev/null: not a regular file (a character device)"},
		{args: a("train", "--model", "lenet5", "--out", f.fifo), code: 2, line: "shears train: --out " + f.fifo + ": not a regular file (a FIFO)"},
		{args: a("train", "--model", "lenet5", "--out", p("sub")), code: 2, line: "shears train: --out " + p("sub") + ": is a directory"},
		{args: a("train", "--model", "lenet5", "--out", p("nodir/o.onnx")), code: 2, line: "shears train: --out " + p("nodir/o.onnx") + ": folder " + p("nodir") + " does not exist"},
		{args: a("train", "--model", "lenet5", "--out", p("plain/o.onnx")), code: 2, line: "shears train: --out " + p("plain/o.onnx") + ": " + p("plain") + " is not a folder"},
		{args: T("--checkpoint", out), code: 2, line: "shears train: --out and --checkpoint name the same file"},
		{args: a("train", "--model", "lenet5", "--out", p("ro/o.onnx")), code: 2, line: "shears train: --out " + p("ro/o.onnx") + ": folder " + p("ro") + " is not writable", skipRoot: true},
		// train: bad files.
		{args: a("train", "--resume", p("trunc.ckpt"), "--out", out), code: 1, line: "shears train: checkpoint " + p("trunc.ckpt") + ": truncated"},
		{args: a("train", "--resume", "/dev/zero", "--out", out), code: 1, line: "shears train: checkpoint /dev/zero: not a regular file"},
		{args: a("train", "--resume", f.fifo, "--out", out), code: 1, line: "shears train: checkpoint " + f.fifo + ": not a regular file"},
		{args: a("train", "--model", "/dev/zero", "--out", out), code: 1, line: "shears train: onnx: /dev/zero: not a regular file"},
		{args: a("train", "--model", f.fifo, "--out", out), code: 1, line: "shears train: onnx: " + f.fifo + ": not a regular file"},
		{args: a("train", "--model", p("empty.onnx"), "--data", "mnist", "--out", out), code: 1, line: "shears train: onnx: " + p("empty.onnx")},
		{args: a("train", "--model", p("text.onnx"), "--data", "mnist", "--out", out), code: 1, line: "shears train: onnx: " + p("text.onnx")},
		{args: T("--data", "cifar"), code: 1, line: `shears train: data: unknown dataset "cifar"`},

		// eval.
		{args: a("eval", f.model, "--batch", "0"), code: 2, line: "shears eval: --batch must be ≥ 1, have 0"},
		{args: a("eval", f.model, "--limit", "-1"), code: 2, line: "shears eval: --limit must be ≥ 0, have -1"},
		{args: a("eval", f.model, "--threads", "-1"), code: 2, line: "shears eval: --threads must be ≥ 0, have -1"},
		{args: a("eval", f.model, "--max-memory", "0"), code: 2, line: "shears eval: --max-memory 0: want a positive size"},
		{args: a("eval", f.model, "--data", "mnist", "--max-memory", "1KiB"), code: 1, line: "shears eval: model lenet5 needs about"},
		{args: a("eval"), code: 2, line: "shears eval: want one model (file or zoo name), have 0 arguments"},
		{args: a("eval", "/dev/zero", "--data", "mnist"), code: 1, line: "shears eval: onnx: /dev/zero: not a regular file"},
		{args: a("eval", f.fifo, "--data", "mnist"), code: 1, line: "shears eval: onnx: " + f.fifo + ": not a regular file"},
		{args: a("eval", f.trunc, "--data", "mnist"), code: 1, line: "shears eval: onnx: " + f.trunc},

		// info.
		{args: a("info", "/dev/zero"), code: 1, line: "shears info: onnx: /dev/zero: not a regular file"},
		{args: a("info", p("empty.onnx")), code: 1, line: "shears info: onnx: " + p("empty.onnx")},
		{args: a("info", p("text.onnx")), code: 1, line: "shears info: onnx: " + p("text.onnx")},
		{args: a("info", f.trunc), code: 1, line: "shears info: onnx: " + f.trunc},
		{args: a("info", "lenet5", "lenet300"), code: 2, line: "shears info: want one model (zoo name or file), have 2 arguments"},
		{args: a("info", "lenet5", "--groups=maybe"), code: 2, line: "shears info: --groups maybe:"},
		{args: a("info", "resnet21"), code: 1, line: `shears info: unknown model "resnet21"`},

		// --input-shape, on every command that loads a model: a name that
		// is not an input, the wrong rank, sizes that are not positive or
		// contradict the model, malformed values.
		{args: a("info", f.model, "--input-shape", "x=1x1x28x28"), code: 2, line: `shears info: --input-shape x=1x1x28x28: the model has no input "x" (its inputs: input)`},
		{args: a("info", "lenet5", "--input-shape", "input=1x28x28"), code: 2, line: "shears info: --input-shape input=1x28x28: rank 3 (1x28x28) given, the input has rank 4 (Nx1x28x28)"},
		{args: a("info", f.model, "--input-shape", "input=1x3x28x28"), code: 2, line: "shears info: --input-shape input=1x3x28x28: dimension 1 is 3, but the model fixes it to 1 (shape Nx1x28x28)"},
		{args: a("info", f.model, "--input-shape", "input=1x1x0x28"), code: 2, line: `shears info: --input-shape input=1x1x0x28: shape "1x1x0x28": dimension 2 is 0: sizes must be positive`},
		{args: a("eval", f.model, "--input-shape", "input=1x1x-28x28"), code: 2, line: `shears eval: --input-shape input=1x1x-28x28: shape "1x1x-28x28": dimension 2 is -28: sizes must be positive`},
		{args: a("run", f.model, "--random-input", "--input-shape", "input1x1x28x28"), code: 2, line: "shears run: --input-shape input1x1x28x28: want NAME=SHAPE such as x=1x3x48x320"},
		{args: a("run", f.model, "--random-input", "--input-shape", "=1x1x28x28"), code: 2, line: "shears run: --input-shape =1x1x28x28: want NAME=SHAPE"},
		{args: a("export", f.model, "--out", out, "--input-shape", "input=1x1x28xW"), code: 2, line: `shears export: --input-shape input=1x1x28xW: shape "1x1x28xW": dimension 3 ("W") is not a number`},
		{args: a("export", f.model, "--out", out, "--input-shape", "input=Nx1xNx28"), code: 2, line: `shears export: --input-shape input=Nx1xNx28: shape "Nx1xNx28": dimension 2 is N: only dimension 0, the batch, may stay symbolic`},
		{args: a("export", f.model, "--out", out, "--input-shape", "input=1x1x28x28", "--input-shape", "input=2x1x28x28"), code: 2, line: `shears export: --input-shape input=2x1x28x28: input "input" is given twice`},
		{args: T("--input-shape", "input=1x1x28"), code: 2, line: "shears train: --input-shape input=1x1x28: rank 3 (1x1x28) given, the input has rank 4 (Nx1x28x28)"},
		{args: a("train", "--resume", f.ckpt, "--input-shape", "input=1x1x28x28", "--out", out), code: 2, line: "shears train: --input-shape with --resume"},
		{args: P("--input-shape", "img=1x1x28x28"), code: 2, line: `shears prune: --input-shape: input "img": the model has no input "img" (its inputs: input)`},
		{args: P("--input-shape", "input=1x1x28x0"), code: 2, line: `shears prune: --input-shape input=1x1x28x0: shape "1x1x28x0": dimension 3 is 0`},

		// run.
		{args: R("--warmup", "-5"), code: 2, line: "shears run: --warmup must be ≥ 0, have -5"},
		{args: R("--threads", "-1"), code: 2, line: "shears run: --threads must be ≥ 0, have -1"},
		{args: R("--repeat", "0"), code: 2, line: "shears run: --repeat must be ≥ 1, have 0"},
		{args: R("--batch", "0"), code: 2, line: "shears run: --batch must be ≥ 1, have 0"},
		{args: R("--batch", "1000000000"), code: 1, line: `shears run: node "conv1" (Conv): output "conv1": tensor: shape [1000000000 20 24 24] has more than`},
		{args: R("--batch", "50000", "--max-memory", "1GiB"), code: 1, line: "shears run: model lenet5 needs about "},
		{args: a("run", "lenet5"), code: 2, line: "shears run: --input FILE is required"},
		{args: a("run", "lenet5", "--input", "/dev/zero"), code: 1, line: "shears run: tensor file /dev/zero: not a regular file (a character device)"},
		{args: a("run", "lenet5", "--input", f.fifo), code: 1, line: "shears run: tensor file " + f.fifo + ": not a regular file (a FIFO)"},
		{args: a("run", "lenet5", "--input", p("empty.npy")), code: 1, line: "shears run: tensor file " + p("empty.npy")},
		{args: a("run", "lenet5", "--input", f.xnpy, "--output", p("fifo.npy")), code: 2, line: "shears run: --output fc2 " + p("fifo.npy") + ": not a regular file (a FIFO)"},
		{args: a("run", "lenet5", "--input", f.xnpy, "--output", p("out.txt")), code: 2, line: "shears run: output file " + p("out.txt") + ": unknown format"},
		// The inference program shares memory between values: the bomb's
		// chain needs two of its 4 GiB values at once, and its output.
		{args: a("run", f.bomb, "--random-input"), code: 1, line: "shears run: model bomb needs about 12.0GiB for its activations at batch 1, more than --max-memory 8GiB"},
		{args: a("run", f.bomb, "--random-input", "--max-memory", "11GiB"), code: 1, line: "shears run: model bomb needs about 12.0GiB"},

		// export.
		{args: a("export", "lenet5"), code: 2, line: "shears export: --out is required"},
		{args: a("export", "lenet5", "--out", "/dev/null"), code: 2, line: "shears export: --out /dev/null: not a regular file (a character device)"},
		{args: a("export", "lenet5", "--out", p("sub")), code: 2, line: "shears export: --out " + p("sub") + ": is a directory"},
		{args: a("export", "/dev/zero", "--out", out), code: 1, line: "shears export: onnx: /dev/zero: not a regular file"},
		{args: a("export", f.model, "--out", f.model), code: 2, line: "shears export: --out " + f.model + " is the model being exported"},
		{args: a("export", "lenet5", "--seed", "x", "--out", out), code: 2, line: "shears export: --seed x: not a number"},

		// prune: numbers.
		{args: P("--ratio", "NaN"), code: 2, line: "shears prune: --ratio NaN: not a finite number"},
		{args: P("--ratio", "1.5"), code: 2, line: "shears prune: --ratio: "},
		{args: P("--ratio", "-0.1"), code: 2, line: "shears prune: --ratio: "},
		{args: P("--lr", "-0.5"), code: 2, line: "shears prune: --lr must be > 0, have -0.5"},
		{args: P("--lr", "Inf"), code: 2, line: "shears prune: --lr Inf: not a finite number"},
		{args: P("--batch", "0"), code: 2, line: "shears prune: --batch must be ≥ 1, have 0"},
		{args: P("--rounds", "0"), code: 2, line: "shears prune: --rounds must be ≥ 1, have 0"},
		{args: P("--round-to", "0"), code: 2, line: "shears prune: --round-to must be ≥ 1, have 0"},
		{args: P("--limit", "-1"), code: 2, line: "shears prune: --limit must be ≥ 0, have -1"},
		{args: P("--calib", "0"), code: 2, line: "shears prune: --calib must be ≥ 1, have 0"},
		// prune, train, eval: data files and preprocessing.
		{args: P("--criterion", "apoz", "--calib", p("rgb32")), code: 1,
			line: `shears prune: model lenet5 wants input "input" of N×1×28×28 but the calibration images (` + p("rgb32") + `) are 3×32×32: make them fit with --resize, --crop, --channels or --preprocess`},
		{args: P("--criterion", "apoz", "--calib", p("rgb.npy")), code: 1, line: `shears prune: model lenet5 wants input "input" of N×1×28×28 but the calibration images (` + p("rgb.npy") + `) are 3×28×28`},
		{args: P("--criterion", "apoz", "--calib", p("cut.npy")), code: 1, line: "shears prune: " + p("cut.npy") + ": truncated: shape (2, 1, 28, 28) of <f4 needs 6272 bytes of data, have"},
		{args: P("--criterion", "apoz", "--calib", p("noimg")), code: 1, line: "shears prune: " + p("noimg") + ": no image files (.png, .jpg, .jpeg)"},
		{args: P("--criterion", "apoz", "--calib", p("missing")), code: 1, line: "shears prune: calibration data: stat " + p("missing") + ": no such file or directory"},
		{args: P("--criterion", "apoz", "--calib", p("out.csv")), code: 1, line: "shears prune: calibration data " + p("out.csv") + ": want a folder of PNG/JPEG images or a .npy file"},
		{args: P("--criterion", "taylor", "--calib", p("grey28")), code: 2, line: "shears prune: criterion taylor needs labelled images: the calibration images of " + p("grey28") + " have no labels"},
		{args: P("--criterion", "apoz", "--calib", p("grey28"), "--calib-images", "0"), code: 2, line: "shears prune: --calib-images must be ≥ 1, have 0"},
		{args: P("--criterion", "apoz", "--calib", p("rgb.npy"), "--preprocess", "imagenet"), code: 1, line: "shears prune: " + p("rgb.npy") + ": a .npy file holds model inputs and is used as it is"},
		{args: P("--resize", "0"), code: 2, line: `shears prune: --resize: bad size "0"`},
		{args: P("--crop", "2x"), code: 2, line: `shears prune: --crop: bad size "2x"`},
		{args: P("--preprocess", "coco"), code: 2, line: `shears prune: --preprocess: unknown preprocessing preset "coco"`},
		{args: P("--mean", "0.5,x"), code: 2, line: `shears prune: --mean 0.5,x: bad number "x"`},
		{args: P("--mean", "0.5,0.5", "--std", "0.2"), code: 2, line: "shears prune: --std: 1 values but data.mean has 2"},
		{args: P("--channel-order", "gbr"), code: 2, line: `shears prune: --channel-order: unknown channel order "gbr"`},
		{args: P("--channels", "2"), code: 2, line: "shears prune: --channels: must be 1 (grey) or 3 (colour), have 2"},
		{args: P("--data", "imagefolder"), code: 2, line: "shears prune: --data: data: imagefolder needs its folder: --data imagefolder:DIR"},
		{args: T("--data", "cifar10"), code: 1, line: "shears train: data: cifar10 needs its folder: --data cifar10:DIR"},
		{args: T("--data", "imagefolder:"+p("sub")), code: 1, line: "shears train: imagefolder " + p("sub") + ": no train subfolder"},
		{args: T("--data", "mnist", "--resize", "x"), code: 2, line: `shears train: --resize: bad size "x"`},
		{args: a("eval", "lenet5", "--data", "cifar10:"+p("cifar")), code: 1,
			line: `shears eval: model lenet5 wants input "input" of N×1×28×28 but the test images (cifar10) are 3×32×32: make them fit with --resize, --crop, --channels or --preprocess`},
		{args: P("--threads", "-1"), code: 2, line: "shears prune: --threads must be ≥ 0, have -1"},
		{args: P("--latency-runs", "-1"), code: 2, line: "shears prune: --latency-runs must be ≥ 0, have -1"},
		{args: P("--finetune-epochs", "-3"), code: 2, line: "shears prune: --finetune-epochs must be ≥ 0, have -3"},
		{args: P("--max-layer-ratio", "NaN"), code: 2, line: "shears prune: --max-layer-ratio NaN: not a finite number"},
		{args: P("--global", "--ratio", "0.5", "--max-layer-ratio", "-1"), code: 2, line: "shears prune: --max-layer-ratio must be > 0, have -1"},
		{args: P("--sensitivity-keep", "2"), code: 2, line: "shears prune: --sensitivity-keep: the fraction of the budget to keep must be in (0, 1], have 2"},
		{args: P("--ratio", "0.5,0.6"), code: 2, line: "shears prune: --ratio 0.5,0.6: not a number"},
		{args: P("--layer-ratio", "conv1"), code: 2, line: `shears prune: --layer-ratio: layer ratio "conv1": want REGEX=RATIO`},
		{args: P("--rewind-steps", "5"), code: 2, line: "shears prune: --rewind-steps: rewind_steps and reinit_control go with the lottery schedule"},
		{args: P("--regularize", "l9"), code: 2, line: `shears prune: --regularize: unknown regulariser "l9"`},
		{args: P("--finetune-recipe", "foo", "--finetune-epochs", "1", "--data", "mnist", "--limit", "10"), code: 2, line: `shears prune: --finetune-recipe: unknown recipe "foo"`},
		// prune: flags without their section, unknown names.
		{args: P("--lambda", "0.1"), code: 2, line: "shears prune: --lambda goes with --regularize"},
		{args: P("--sensitivity-csv", p("s.csv")), code: 2, line: "shears prune: --sensitivity-csv goes with --sensitivity-keep"},
		{args: P("--holdout", "100"), code: 2, line: "shears prune: --holdout goes with --sensitivity-keep"},
		{args: P("--criterion", "l3"), code: 2, line: `shears prune: --criterion: unknown criterion "l3"`},
		{args: P("--schedule", "cyclic"), code: 2, line: `shears prune: --schedule: unknown schedule "cyclic"`},
		{args: a("prune", "--finetune-epochs", "0", "--out", out), code: 2, line: "shears prune: want a model"},
		{args: a("prune", "lenet5", "--finetune-epochs", "0"), code: 2, line: "shears prune: --out: missing"},
		// prune: outputs.
		{args: P("--masked-out", out), code: 2, line: "shears prune: --out and --masked-out name the same file"},
		{args: P("--layers-csv", out), code: 2, line: "shears prune: --out and --layers-csv name the same file"},
		{args: a("prune", "lenet5", "--finetune-epochs", "0", "--out", "/dev/null"), code: 2, line: "shears prune: --out /dev/null: not a regular file (a character device)"},
		{args: a("prune", "lenet5", "--finetune-epochs", "0", "--out", f.fifo), code: 2, line: "shears prune: --out " + f.fifo + ": not a regular file (a FIFO)"},
		{args: a("prune", "lenet5", "--finetune-epochs", "0", "--out", p("plain/x.onnx")), code: 2, line: "shears prune: --out " + p("plain/x.onnx") + ": " + p("plain") + " is not a folder"},
		{args: P("--layers-csv", p("sub")), code: 2, line: "shears prune: --layers-csv " + p("sub") + ": is a directory"},
		// prune: bad files.
		{args: a("prune", "--recipe", "/dev/zero"), code: 2, line: "shears prune: recipe /dev/zero: not a regular file (a character device)"},
		{args: a("prune", "--recipe", f.fifo), code: 2, line: "shears prune: recipe " + f.fifo + ": not a regular file (a FIFO)"},
		{args: a("prune", "--recipe", p("empty.yaml")), code: 2, line: "shears prune: recipe " + p("empty.yaml") + ": empty"},
		{args: a("prune", "--recipe", p("text.yaml")), code: 2, line: "shears prune: recipe " + p("text.yaml") + ":"},
		{args: a("prune", "--recipe", p("nosuch.yaml")), code: 2, line: "shears prune: recipe " + p("nosuch.yaml") + ": no such file or directory"},
		{args: a("prune", "/dev/zero", "--finetune-epochs", "0", "--out", out), code: 1, line: "shears prune: onnx: /dev/zero: not a regular file"},
		{args: a("prune", f.trunc, "--finetune-epochs", "0", "--out", out), code: 1, line: "shears prune: onnx: " + f.trunc},

		// A fresh run finding the checkpoint of an interrupted one
		// (out.onnx.ckpt) refuses to overwrite it.
		{args: T("--data", "mnist", "--limit", "10", "--batch", "10", "--epochs", "1"), code: 2, line: "shears train: checkpoint " + out + ".ckpt exists (an interrupted run?): continue it with shears train --resume " + out + ".ckpt, or choose another file with --checkpoint"},
		{args: P("--finetune-epochs", "1", "--data", "mnist", "--limit", "10", "--batch", "10"), code: 2, line: "shears prune: checkpoint " + out + ".ckpt exists (an interrupted run?): continue it with shears prune --resume " + out + ".ckpt, or choose another file with --checkpoint"},
		{args: a("prune", "lenet5", "--schedule", "iterative", "--data", "mnist", "--limit", "10", "--batch", "10", "--latency-runs", "0", "--out", p("new.onnx"), "--checkpoint", out+".ckpt"), code: 2, line: "shears prune: checkpoint " + out + ".ckpt exists"},
		// Outputs that are the command's input.
		{args: a("prune", f.model, "--finetune-epochs", "0", "--out", f.model), code: 2, line: "shears prune: --out " + f.model + " is the model " + f.model + ": an output must not replace an input"},
		{args: a("prune", f.model, "--finetune-epochs", "0", "--out", p("new.onnx"), "--masked-out", f.model), code: 2, line: "shears prune: --masked-out " + f.model + " is the model " + f.model},
		{args: a("prune", f.model, "--finetune-epochs", "0", "--out", p("new.onnx"), "--checkpoint", f.model), code: 2, line: "shears prune: --checkpoint " + f.model + " is the model " + f.model},
		{args: a("train", "--model", f.model, "--data", "mnist", "--out", f.model), code: 2, line: "shears train: --out " + f.model + " is --model " + f.model},
		{args: a("train", "--model", f.model, "--data", "mnist", "--out", p("new.onnx"), "--checkpoint", f.model), code: 2, line: "shears train: --checkpoint " + f.model + " is --model " + f.model},
		{args: a("run", f.model, "--input", f.xnpy, "--output", f.xnpy), code: 2, line: "shears run: --output fc2 " + f.xnpy + " is --input " + f.xnpy},
		{args: a("run", f.model, "--input", "x="+f.xnpy, "--output", "fc2="+f.xnpy), code: 2, line: "shears run: --output fc2 " + f.xnpy + " is --input " + f.xnpy},
		// prune --resume: a bad checkpoint, or flags that contradict it.
		{args: a("prune", "--resume", ""), code: 2, line: "shears prune: --resume is empty"},
		{args: a("prune", "--resume", p("trunc.ckpt")), code: 2, line: "shears prune: checkpoint " + p("trunc.ckpt") + ": truncated"},
		{args: a("prune", "--resume", f.ckpt), code: 2, line: "shears prune: checkpoint " + f.ckpt + ": not a prune checkpoint: it is a training checkpoint (shears train --resume)"},
		{args: a("prune", "--resume", f.model), code: 2, line: "shears prune: checkpoint " + f.model + ": not a prune checkpoint (bad magic"},
		{args: a("prune", "--resume", p("nosuch.ckpt")), code: 2, line: "shears prune: checkpoint: stat " + p("nosuch.ckpt") + ": no such file or directory"},
		{args: a("prune", "--resume", f.pruneCkpt, "--ratio", "0.7"), code: 2, line: "shears prune: --ratio 0.7 contradicts the checkpoint, which holds 0.5: a resumed run continues with its checkpoint's settings"},
		{args: a("prune", "--resume", f.pruneCkpt, "--data", "fashion-mnist"), code: 2, line: "shears prune: --data fashion-mnist contradicts the checkpoint, which holds"},
		{args: a("prune", "--resume", f.pruneCkpt, "--out", p("other.onnx")), code: 2, line: "shears prune: --out " + p("other.onnx") + " contradicts the checkpoint, which holds " + out},
		{args: a("prune", "--resume", f.pruneCkpt, "lenet5"), code: 2, line: "shears prune: a model with --resume: the checkpoint holds the model"},
		{args: a("prune", "--resume", f.pruneCkpt, "--recipe", p("empty.yaml")), code: 2, line: "shears prune: --recipe with --resume: the checkpoint holds the recipe"},
		{args: a("prune", "--resume", f.pruneCkpt, "--checkpoint", ""), code: 2, line: "shears prune: --checkpoint is empty"},
		{args: a("prune", "--recipe", p("sweep.yaml"), "--checkpoint", p("one.ckpt")), code: 2, line: "shears prune: --checkpoint with a sweep of 2 ratios"},
	}
}

// TestBadInputTable runs every row in-process: the exit status, the first
// line of stderr, no trace or "internal error", and every output that
// existed before is byte-identical after.
func TestBadInputTable(t *testing.T) {
	f := newBadFixture(t)
	rows := badRows(f)
	if len(rows) < 60 {
		t.Fatalf("%d rows, the table wants at least 60", len(rows))
	}
	if !f.rootRun {
		ro := f.p("ro")
		os.Mkdir(ro, 0o555)
	}
	for _, r := range rows {
		if r.skipRoot && f.rootRun {
			continue
		}
		_, stderr, code := shears(t, r.args...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != r.code || !strings.HasPrefix(first, r.line) {
			t.Errorf("shears %s:\n  exit %d, first line %q\n  want exit %d, %q…", strings.Join(r.args, " "), code, first, r.code, r.line)
		}
		for _, bad := range []string{"goroutine ", "internal error", "panic"} {
			if strings.Contains(stderr, bad) {
				t.Errorf("shears %s: stderr has %q:\n%s", strings.Join(r.args, " "), bad, stderr)
			}
		}
		for path, want := range f.keep {
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("shears %s changed %s (%v)", strings.Join(r.args, " "), path, err)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(f.dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := os.Stat(f.p("nodir")); err == nil {
		t.Errorf("a refused run created its output folder")
	}
}

// The memory estimate sums every value at the batch, counting a fused
// value once: the bomb's eight 2³⁰-float values and its one-float input.
func TestActivationBytes(t *testing.T) {
	p, err := cpu.Compile(activationBomb())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.ActivationBytes(1); err != nil || n != 8<<32+4 {
		t.Errorf("bomb: %d bytes, %v; want %d", n, err, int64(8<<32+4))
	}
	p, err = cpu.Compile(zoo.LeNet5(1))
	if err != nil {
		t.Fatal(err)
	}
	one, err1 := p.ActivationBytes(1)
	ten, err10 := p.ActivationBytes(10)
	if err1 != nil || err10 != nil || one <= 4*784 || ten != 10*one {
		t.Errorf("lenet5: %d bytes at batch 1 (%v), %d at batch 10 (%v)", one, err1, ten, err10)
	}
	if _, err := p.Forward(false, randTensor(1, 3, 1, 28, 28)); err != nil {
		t.Errorf("the program does not run after the estimate: %v", err)
	}
}
