package onnx

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shearsml/shears/internal/onnxpb"
)

// externalModel writes smallCNN with every initializer's bytes moved to
// weights.bin (as onnx.save_model(..., save_as_external_data=True) does),
// after edit has had a chance to spoil the references; it returns the
// model's path.
func externalModel(t *testing.T, edit func(i int, e *[]*onnxpb.StringStringEntryProto)) string {
	t.Helper()
	b, err := Encode(smallCNN())
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var blob []byte
	for i, tp := range mp.GetGraph().GetInitializer() {
		if tp.RawData == nil {
			continue
		}
		e := []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String("weights.bin")},
			{Key: proto.String("offset"), Value: proto.String(strconv.Itoa(len(blob)))},
			{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(tp.RawData)))},
		}
		blob = append(blob, tp.RawData...)
		if edit != nil {
			edit(i, &e)
		}
		tp.RawData, tp.ExternalData = nil, e
		tp.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := proto.Marshal(&mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExternalData(t *testing.T) {
	want := smallCNN()
	got, err := Load(externalModel(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(want, got); d != "" {
		t.Fatalf("external data loads differently:\n%s", d)
	}
	// From bytes there is no folder to read from.
	b, _ := os.ReadFile(externalModel(t, nil))
	if _, err := Decode(b, "m.onnx"); err == nil || !strings.Contains(err.Error(), "needs the model's folder") {
		t.Errorf("Decode of an external-data model: %v", err)
	}
	set := func(key, val string) func(int, *[]*onnxpb.StringStringEntryProto) {
		return func(i int, e *[]*onnxpb.StringStringEntryProto) {
			if i != 0 {
				return
			}
			for _, kv := range *e {
				if kv.GetKey() == key {
					kv.Value = proto.String(val)
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		edit func(int, *[]*onnxpb.StringStringEntryProto)
		want string
	}{
		{"escape", set("location", "../weights.bin"), "leaves the model's folder"},
		{"absolute", set("location", "/etc/passwd"), "leaves the model's folder"},
		{"missing", set("location", "nothere.bin"), "no such file"},
		{"past the end", set("offset", "1000000"), "past its end"},
		{"wrong length", set("length", "4"), "needs"},
		{"bad offset", set("offset", "x"), "not an integer"},
	} {
		_, err := Load(externalModel(t, c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}
