package graph

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseShape(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		err  string
	}{
		{"1x3x48x320", []int{1, 3, 48, 320}, ""},
		{"Nx3x48x320", []int{KeepBatch, 3, 48, 320}, ""},
		{"7", []int{7}, ""},
		{"", nil, "empty"},
		{"1x3xNx320", nil, "dimension 2 is N"},
		{"1x0x4", nil, "dimension 1 is 0"},
		{"1x-3x4", nil, "dimension 1 is -3"},
		{"1xx4", nil, "dimension 1 is empty"},
		{"x1x3", nil, "dimension 0 is empty"},
		{"1x3.5", nil, "not a number"},
		{"1x9999999999", nil, "above the limit"},
	} {
		got, err := ParseShape(c.in)
		if c.err == "" {
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("ParseShape(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseShape(%q): error %v, want one saying %q", c.in, err, c.err)
		}
	}
	if s := FormatShape([]int{-1, 3, 48, 320}); s != "Nx3x48x320" {
		t.Errorf("FormatShape = %q", s)
	}
}

func TestBindInputs(t *testing.T) {
	g := &Graph{Inputs: []ValueInfo{{Name: "x", Shape: []int{-1, 3, 8, 8}}}}
	if err := BindInputs(g, map[string][]int{"x": {KeepBatch, 3, 8, 8}}); err != nil || !slices.Equal(g.Inputs[0].Shape, []int{-1, 3, 8, 8}) {
		t.Fatalf("keep batch: %v, shape %v", err, g.Inputs[0].Shape)
	}
	if err := BindInputs(g, map[string][]int{"x": {4, 3, 8, 8}}); err != nil || !slices.Equal(g.Inputs[0].Shape, []int{4, 3, 8, 8}) {
		t.Fatalf("bind batch: %v, shape %v", err, g.Inputs[0].Shape)
	}
	for _, c := range []struct {
		shapes map[string][]int
		want   string
	}{
		{map[string][]int{"y": {4, 3, 8, 8}}, `no input "y" (its inputs: x)`},
		{map[string][]int{"x": {4, 3, 8}}, "rank 3 (4x3x8) given, the input has rank 4"},
		{map[string][]int{"x": {5, 3, 8, 8}}, "dimension 0 is 5, but the model fixes it to 4"},
		{map[string][]int{"x": {4, 3, 0, 8}}, "dimension 2 is 0"},
	} {
		err := BindInputs(g, c.shapes)
		var be *BindError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want a BindError saying %q", c.shapes, err, c.want)
		}
		if !slices.Equal(g.Inputs[0].Shape, []int{4, 3, 8, 8}) {
			t.Fatalf("a failed binding changed the shape to %v", g.Inputs[0].Shape)
		}
	}
}
