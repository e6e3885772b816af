package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/shearsml/shears/data"
	"github.com/shearsml/shears/graph"
	"github.com/shearsml/shears/prune/recipe"
	"github.com/shearsml/shears/train"
)

// Data flags: the data set (--data NAME or NAME:DIR, --data-dir,
// --limit), calibration images (--calib N or PATH, prune only) and the
// preprocessing of image files. prune reads them through its recipe
// table; train and eval through dataFlags, which builds the same
// recipe.DataSpec so that every command loads data one way.

const (
	dataUsage  = "data set: mnist, fashion-mnist, cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, imagefolder:DIR (DIR/train and DIR/test or DIR/val, one subfolder per class)"
	calibUsage = "calibration images for data criteria: a count N (the first N training images) or a PATH: a folder of PNG/JPEG images " +
		"(class subfolders give labels; flat: unlabelled) or a .npy file (N×C×H×W, used as it is)"
)

// preprocessUsage is the help of each preprocessing flag.
var preprocessUsage = map[string]string{
	"preprocess":    "named preprocessing: " + strings.Join(data.PresetNames(), ", ") + " (imagenet: resize 256, crop 224, ImageNet mean/std, rgb); the flags below override its fields",
	"resize":        "resize image files: N (the shorter side to N, bilinear) or WxH",
	"crop":          "centre crop after --resize: N (N×N) or WxH",
	"mean":          "per-channel mean on [0,1] values, comma-separated (0.485,0.456,0.406; one value: every channel)",
	"std":           "per-channel standard deviation, comma-separated",
	"channel-order": "rgb (default) or bgr",
	"channels":      "convert images to 1 (grey, ITU-R 601 luma) or 3 (colour, grey repeated) channels (default: as the images are)",
}

// preprocessFlagNames lists the preprocessing flags in help order.
var preprocessFlagNames = []string{"preprocess", "resize", "crop", "mean", "std", "channel-order", "channels"}

// dataFieldFlags maps the recipe's data fields to the flags that set them
// (train and eval have no recipe: their errors name the flag).
var dataFieldFlags = map[string]string{
	"data.name": "--data", "data.dir": "--data-dir", "data.limit": "--limit", "data.preprocess": "--preprocess", "data.resize": "--resize",
	"data.crop": "--crop", "data.mean": "--mean", "data.std": "--std", "data.channel_order": "--channel-order", "data.channels": "--channels",
}

// dataFlags are shared by train and eval.
type dataFlags struct {
	name  string
	dir   string
	limit int
	pre   recipe.DataSpec // preprocessing fields only
}

func (d *dataFlags) register(fs *flag.FlagSet, limitHelp string) {
	fs.StringVar(&d.name, "data", "", dataUsage+" (default: the model's)")
	fs.StringVar(&d.dir, "data-dir", "", "directory with the data set's files (mnist: embedded; fashion-mnist: /usr/share/datasets/fashion-mnist)")
	fs.IntVar(&d.limit, "limit", 0, limitHelp)
	fs.StringVar(&d.pre.Preprocess, "preprocess", "", preprocessUsage["preprocess"])
	fs.StringVar(&d.pre.Resize, "resize", "", preprocessUsage["resize"])
	fs.StringVar(&d.pre.Crop, "crop", "", preprocessUsage["crop"])
	fs.Var((*floatsValue)(&d.pre.Mean), "mean", preprocessUsage["mean"])
	fs.Var((*floatsValue)(&d.pre.Std), "std", preprocessUsage["std"])
	fs.StringVar(&d.pre.ChannelOrder, "channel-order", "", preprocessUsage["channel-order"])
	fs.IntVar(&d.pre.Channels, "channels", 0, preprocessUsage["channels"])
}

// spec is the flags as a recipe data section.
func (d *dataFlags) spec() recipe.DataSpec {
	s := d.pre
	s.Name, s.Dir, s.Limit, s.Calib = d.name, d.dir, d.limit, 1
	return s
}

// load reads one split of the data set the flags name, with their
// preprocessing; notes go to warn.
func (d *dataFlags) load(split data.Split, warn func(string)) (*data.Dataset, error) {
	spec := d.spec()
	src, err := spec.Source(warn)
	if err == nil {
		err = src.Preprocess.Validate()
	}
	if err != nil {
		return nil, nameDataFlag(err)
	}
	return src.Load(split)
}

// nameDataFlag words a data field error with the flag that set it.
func nameDataFlag(err error) error {
	var fe *recipe.FieldError
	if errors.As(err, &fe) {
		if fe.Path == "data.name" { // the name is checked against the data sets, as before: not a usage error
			return fe.Err
		}
		if f, ok := dataFieldFlags[fe.Path]; ok {
			return usagef("%s: %v", f, fe.Err)
		}
	}
	return err
}

// fitHint adds to a misfit between a model's input and images what the
// model wants and the flags that make the images fit.
func fitHint(err error, g *graph.Graph, ds *data.Dataset, what string) error {
	var me *train.ModelDataError
	if !errors.As(err, &me) || me.Kind != train.MismatchInput || len(g.Inputs) != 1 {
		return err
	}
	return fmt.Errorf("model %s wants input %q of %s but the %s (%s) are %d×%d×%d: make them fit with --resize, --crop, --channels or --preprocess (e.g. --preprocess imagenet)",
		g.Name, me.Value, dimString(me.Shape), what, ds.Name, ds.C, ds.H, ds.W)
}

// dimString prints a shape as 1×3×224×224, a dynamic dimension as N.
func dimString(shape []int) string {
	p := make([]string, len(shape))
	for i, d := range shape {
		p[i] = "N"
		if d >= 0 {
			p[i] = strconv.Itoa(d)
		}
	}
	return strings.Join(p, "×")
}

// floatsValue is a comma-separated list of numbers.
type floatsValue []float64

func (v *floatsValue) String() string {
	if v == nil || *v == nil {
		return ""
	}
	p := make([]string, len(*v))
	for i, x := range *v {
		p[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(p, ",")
}

func (v *floatsValue) Set(s string) error {
	f, err := data.ParseFloats(s) // checks the syntax and finiteness
	if err != nil {
		return err
	}
	*v = make([]float64, len(f))
	for i, part := range strings.Split(s, ",") {
		(*v)[i], _ = strconv.ParseFloat(strings.TrimSpace(part), 64)
	}
	return nil
}

// calibValue is --calib: a count or a path.
type calibValue struct {
	count int
	path  string
}

func (v *calibValue) String() string {
	if v.path != "" {
		return v.path
	}
	return strconv.Itoa(v.count)
}

func (v *calibValue) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		v.count, v.path = n, ""
		return nil
	}
	if s == "" {
		return errors.New("want a count or a path")
	}
	v.path = s
	return nil
}

// calibRow is the table row of --calib: a count sets data.calib_images
// and drops a recipe's path (the images are the training set's again); a
// path sets data.calib's path.
func calibRow(group string, def int) recipeFlag {
	v := &calibValue{count: def}
	return recipeFlag{name: "calib", path: "data.calib", group: group, usage: calibUsage + fmt.Sprintf(" (default %d images)", def), value: v,
		check: func() error {
			if v.path == "" {
				return atLeast("calib", v.count, 1)
			}
			return nil
		},
		apply: func(r *recipe.Recipe) (string, string) {
			before := strconv.Itoa(r.Data.Calib)
			if r.Data.CalibPath != "" {
				before = r.Data.CalibPath
			}
			if v.path != "" {
				r.Data.CalibPath = v.path
			} else {
				r.Data.Calib, r.Data.CalibPath = v.count, ""
			}
			return before, v.String()
		}}
}

// preprocessRows are the table rows of the preprocessing flags.
func preprocessRows(group string) []recipeFlag {
	mean, std := &floatsValue{}, &floatsValue{}
	return []recipeFlag{
		strFlag("preprocess", "data.preprocess", group, preprocessUsage["preprocess"], "", func(r *recipe.Recipe, _ bool) *string { return &r.Data.Preprocess }),
		strFlag("resize", "data.resize", group, preprocessUsage["resize"], "", func(r *recipe.Recipe, _ bool) *string { return &r.Data.Resize }),
		strFlag("crop", "data.crop", group, preprocessUsage["crop"], "", func(r *recipe.Recipe, _ bool) *string { return &r.Data.Crop }),
		field("mean", "data.mean", group, preprocessUsage["mean"], mean, (*[]float64)(mean), func(r *recipe.Recipe, _ bool) *[]float64 { return &r.Data.Mean }),
		field("std", "data.std", group, preprocessUsage["std"], std, (*[]float64)(std), func(r *recipe.Recipe, _ bool) *[]float64 { return &r.Data.Std }),
		strFlag("channel-order", "data.channel_order", group, preprocessUsage["channel-order"], "", func(r *recipe.Recipe, _ bool) *string { return &r.Data.ChannelOrder }),
		intFlagRow("channels", "data.channels", group, preprocessUsage["channels"], 0, 0, func(r *recipe.Recipe, _ bool) *int { return &r.Data.Channels }),
	}
}
