package report

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestProvenance(t *testing.T) {
	p := NewProvenance(3)
	if p.Go != runtime.Version() || p.Threads != 3 || p.Module == "" || p.Version == "" || p.CPUFeatures == nil {
		t.Errorf("provenance %+v", p)
	}
}

// The JSON field names are the ones shears printed before this package:
// scripts read them.
func TestFieldNames(t *testing.T) {
	b, err := json.Marshal(Train{Header: NewHeader("train", 1)})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Fields("command version provenance model data train_images epochs batch lr seed threads test_accuracy " +
		"train_loss train_accuracy images_per_second seconds params macs out") {
		if _, ok := m[k]; !ok {
			t.Errorf("train result lacks %q", k)
		}
	}
	if m["command"] != "train" || m["version"] != float64(Version) {
		t.Errorf("header %v %v", m["command"], m["version"])
	}
	prov, _ := m["provenance"].(map[string]any)
	for _, k := range []string{"module", "module_version", "go", "os", "arch", "cpu_features", "threads"} {
		if _, ok := prov[k]; !ok {
			t.Errorf("provenance lacks %q", k)
		}
	}
}
