package recipe

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/shearsml/shears/data"
	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads the data section strictly, with `calib` either a
// count (an integer) or a path (a string).
func (d *DataSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" { // `data:` with nothing: the defaults
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: data: want a mapping", n.Line)}}
	}
	known := map[string]bool{"calib": true}
	t := reflect.TypeFor[DataSpec]()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "-" {
			known[tag] = true
		}
	}
	rest := *n
	rest.Content = nil
	var calib, calibImages *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !known[k.Value] {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in type recipe.DataSpec", k.Line, k.Value)}}
		}
		switch k.Value {
		case "calib":
			calib = v
			continue
		case "calib_images":
			calibImages = v
		}
		rest.Content = append(rest.Content, k, v)
	}
	type plain DataSpec // without this method
	if err := rest.Decode((*plain)(d)); err != nil {
		return err
	}
	if calib == nil {
		return nil
	}
	if calib.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: data.calib: want a count of images or a path", calib.Line)}}
	}
	if calib.Tag == "!!int" {
		if calibImages != nil {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: data.calib is a count and data.calib_images too (line %d): give one", calib.Line, calibImages.Line)}}
		}
		return calib.Decode(&d.Calib)
	}
	d.CalibPath = calib.Value
	return nil
}

// validate checks the data section's settings.
func (d DataSpec) validate() error {
	if d.Limit < 0 {
		return fieldErr("data.limit", "must be ≥ 0, have %d", d.Limit)
	}
	if d.Calib < 1 {
		return fieldErr("data.calib", "must be ≥ 1, have %d", d.Calib)
	}
	if d.Name != "" {
		if _, err := data.ParseSource(d.Name, d.Dir); err != nil {
			return &FieldError{Path: "data.name", Err: err}
		}
	}
	_, err := d.Preprocessing()
	return err
}

// Preprocessing is the section's preprocessing: the preset, then the
// fields given. Errors are *FieldErrors naming the field.
func (d DataSpec) Preprocessing() (data.Preprocess, error) {
	var p data.Preprocess
	var err error
	if d.Preprocess != "" {
		if p, err = data.LookupPreset(d.Preprocess); err != nil {
			return p, &FieldError{Path: "data.preprocess", Err: err}
		}
	}
	if d.Resize != "" {
		if p.Resize, err = data.ParseSize(d.Resize, false); err != nil {
			return p, &FieldError{Path: "data.resize", Err: err}
		}
	}
	if d.Crop != "" {
		if p.Crop, err = data.ParseSize(d.Crop, true); err != nil {
			return p, &FieldError{Path: "data.crop", Err: err}
		}
	}
	if d.Mean != nil {
		p.Mean = float32s(d.Mean)
	}
	if d.Std != nil {
		p.Std = float32s(d.Std)
		for _, s := range d.Std {
			if !(s > 0) {
				return p, fieldErr("data.std", "values must be positive, have %g", s)
			}
		}
	}
	if p.Mean != nil && p.Std != nil && len(p.Mean) != len(p.Std) {
		return p, fieldErr("data.std", "%d values but data.mean has %d", len(p.Std), len(p.Mean))
	}
	switch strings.ToLower(d.ChannelOrder) {
	case "", "rgb":
	case "bgr":
		p.BGR = true
	default:
		return p, fieldErr("data.channel_order", "unknown channel order %q (rgb, bgr)", d.ChannelOrder)
	}
	if d.Channels != 0 && d.Channels != 1 && d.Channels != 3 {
		return p, fieldErr("data.channels", "must be 1 (grey) or 3 (colour), have %d", d.Channels)
	}
	p.Channels = d.Channels
	return p, nil
}

func float32s(v []float64) []float32 {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return f
}

// Source is the data set the section names, with its preprocessing; warn
// receives notes on skipped files and conversions.
func (d DataSpec) Source(warn func(string)) (data.Source, error) {
	src, err := data.ParseSource(d.Name, d.Dir)
	if err != nil {
		return src, &FieldError{Path: "data.name", Err: err}
	}
	if src.Preprocess, err = d.Preprocessing(); err != nil {
		return src, err
	}
	src.Warn = warn
	return src, nil
}

// LoadData is d.Load without notes.
func LoadData(d DataSpec) (trainSet, testSet *data.Dataset, err error) { return d.Load(nil) }

// Load loads the section's data set (data.name, data.dir), both splits,
// each cut to data.limit images, with the section's preprocessing; warn
// receives notes on skipped files and conversions (nil: dropped). No name
// loads nothing: both are nil. An unknown name is a *FieldError for
// data.name.
func (d DataSpec) Load(warn func(string)) (trainSet, testSet *data.Dataset, err error) {
	if d.Name == "" {
		return nil, nil, nil
	}
	src, err := d.Source(warn)
	if err != nil {
		return nil, nil, err
	}
	if trainSet, err = src.Load(data.Train); err != nil {
		return nil, nil, err
	}
	if testSet, err = src.Load(data.Test); err != nil {
		return nil, nil, err
	}
	return trainSet.Limit(d.Limit), testSet.Limit(d.Limit), nil
}

// LoadCalibration reads the calibration images of data.calib's path
// (nil, nil when it gives none): data.calib_images of them, evenly
// spaced, with the section's preprocessing.
func LoadCalibration(d DataSpec, warn func(string)) (*data.Dataset, error) {
	if d.CalibPath == "" {
		return nil, nil
	}
	p, err := d.Preprocessing()
	if err != nil {
		return nil, err
	}
	return data.LoadCalibration(d.CalibPath, p, d.Calib, warn)
}
