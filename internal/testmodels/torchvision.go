// Package testmodels finds the real architectures the tests run: the
// torchvision models scripts/export_torchvision.py exports to ONNX, and the
// hand-built ones of scripts/export_custom.py.
package testmodels

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Torchvision lists the exports under root (the module's root, ".." from a
// package's tests): the default set in .cache/torchvision and, when
// exported (CI does), the extra set in .cache/torchvision-extra, the
// transformers (at batch 1) in .cache/torchvision-vit and the hand-built
// models in .cache/custom.
// SHEARS_TORCHVISION_DIR replaces both with a colon-separated list of
// folders. It also returns the folders searched, for a skip message.
func Torchvision(root string) (files []string, dirs string) {
	list := []string{filepath.Join(root, ".cache", "torchvision"), filepath.Join(root, ".cache", "torchvision-extra"),
		filepath.Join(root, ".cache", "torchvision-vit"), filepath.Join(root, ".cache", "custom")}
	if d := os.Getenv("SHEARS_TORCHVISION_DIR"); d != "" {
		list = strings.Split(d, ":")
	}
	for _, d := range list {
		f, _ := filepath.Glob(filepath.Join(d, "*.onnx"))
		files = append(files, f...)
	}
	return files, strings.Join(list, ", ")
}

// SkipSlow reports whether a test should leave out the export named name
// (its file name without .onnx): VGG's 530 MB BatchNorm-kept variant
// takes seconds to load and adds nothing the other _bn variants do not
// test, so it runs only with SHEARS_TORCHVISION=all.
func SkipSlow(name string) bool {
	return name == "vgg11_bn_bn" && os.Getenv("SHEARS_TORCHVISION") != "all"
}

// ONNXFiles lists every ONNX file the model-sweeping tests read: the
// exports under root (Torchvision; with short, only the hand-built ones
// in .cache/custom) and ONNX's backend test models from Debian's
// libonnx-testdata. It returns nil when there are none.
func ONNXFiles(root string, short bool) []string {
	files, _ := Torchvision(root)
	if short {
		files = slices.DeleteFunc(files, func(f string) bool { return !strings.Contains(f, "custom") })
	}
	for _, dir := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		m, _ := filepath.Glob(filepath.Join("/usr/share/libonnx-testdata/data", dir, "*", "model.onnx"))
		files = append(files, m...)
	}
	return files
}
