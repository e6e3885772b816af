package data

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Preprocess is what is done to every image read from files (an image
// folder, CIFAR) before it is stored, in this order: channel conversion,
// resize, centre crop, channel order; Mean and Std normalise the stored
// 8-bit values as they are copied out. The zero value keeps the images as
// they are, normalised as x/255.
type Preprocess struct {
	// Resize: Short > 0 scales the shorter side to Short keeping the
	// aspect ratio (the longer side truncated, as torchvision's
	// Resize(int)); W, H > 0 scales to exactly W×H. Bilinear with PIL's
	// antialiasing (the triangle filter widened when shrinking).
	Resize Size
	// Crop > 0: the centre W×H (offsets rounded as torchvision's
	// CenterCrop). An image smaller than the crop is an error.
	Crop Size
	// Mean and Std are per-channel constants on [0, 1] values (1 value:
	// every channel). Nil means 0 and 1.
	Mean, Std []float32
	// BGR stores channels as blue, green, red (Caffe-style models).
	BGR bool
	// Channels, when 1 or 3, converts every image: colour to grey with
	// ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, PIL's convert("L")),
	// grey to colour by repeating it. 0 keeps the images' own count.
	Channels int
	// Preset is the name of the preset the fields came from ("" for none),
	// for messages.
	Preset string
}

// Size is W×H, or a shorter side (Short) for Resize.
type Size struct{ Short, W, H int }

// IsZero reports whether no size is set.
func (s Size) IsZero() bool { return s.Short == 0 && s.W == 0 && s.H == 0 }

func (s Size) String() string {
	if s.Short > 0 {
		return strconv.Itoa(s.Short)
	}
	return fmt.Sprintf("%dx%d", s.W, s.H)
}

// ParseSize reads "N" (a shorter side for a resize, N×N for a crop) or
// "WxH".
func ParseSize(s string, square bool) (Size, error) {
	s = strings.TrimSpace(s)
	if w, h, ok := strings.Cut(strings.ToLower(s), "x"); ok {
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if err1 != nil || err2 != nil || wi <= 0 || hi <= 0 {
			return Size{}, fmt.Errorf("bad size %q: want N or WxH with positive integers", s)
		}
		return Size{W: wi, H: hi}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return Size{}, fmt.Errorf("bad size %q: want N or WxH with positive integers", s)
	}
	if square {
		return Size{W: n, H: n}, nil
	}
	return Size{Short: n}, nil
}

// ParseFloats reads a comma-separated list of finite numbers ("0.485,0.456,0.406").
func ParseFloats(s string) ([]float32, error) {
	var v []float32
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("bad number %q in %q: want a comma-separated list such as 0.485,0.456,0.406", f, s)
		}
		v = append(v, float32(x))
	}
	return v, nil
}

// Presets are the named preprocessings (--preprocess NAME): each data
// set's published constants.
var Presets = map[string]Preprocess{
	// torchvision's ImageNet evaluation transform.
	"imagenet": {Resize: Size{Short: 256}, Crop: Size{W: 224, H: 224},
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
	"mnist":         {Mean: []float32{0.1307}, Std: []float32{0.3081}},
	"fashion-mnist": {Mean: []float32{0.2860}, Std: []float32{0.3530}},
	// Per-channel mean and standard deviation of the CIFAR training sets.
	"cifar10":  {Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}},
	"cifar100": {Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	return []string{"cifar10", "cifar100", "fashion-mnist", "imagenet", "mnist"}
}

// LookupPreset returns a preset by name, or an error listing them.
func LookupPreset(name string) (Preprocess, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	p, ok := Presets[n]
	if !ok {
		return Preprocess{}, fmt.Errorf("unknown preprocessing preset %q: valid names are %s", name, strings.Join(PresetNames(), ", "))
	}
	p.Preset = n
	return p, nil
}

// Validate checks the fields that need no images.
func (p Preprocess) Validate() error {
	if p.Channels != 0 && p.Channels != 1 && p.Channels != 3 {
		return fmt.Errorf("channels must be 1 or 3, have %d", p.Channels)
	}
	if len(p.Mean) != len(p.Std) && p.Mean != nil && p.Std != nil {
		return fmt.Errorf("%d mean values but %d std values", len(p.Mean), len(p.Std))
	}
	for _, s := range p.Std {
		if !(s > 0) {
			return fmt.Errorf("std values must be positive, have %g", s)
		}
	}
	return nil
}

// norm returns the mean and std to normalise with, filling a missing one
// (mean 0, std 1) to the other's length.
func (p Preprocess) norm() (mean, std []float32) {
	mean, std = p.Mean, p.Std
	switch {
	case mean == nil && std == nil:
		return []float32{0}, []float32{1}
	case mean == nil:
		mean = make([]float32, len(std))
	case std == nil:
		std = make([]float32, len(mean))
		for i := range std {
			std[i] = 1
		}
	}
	return mean, std
}

// planar is one decoded image: C planes of H×W bytes.
type planar struct {
	c, h, w int
	pix     []uint8
}

// apply runs the conversion, resize and crop of p on im.
func (p Preprocess) apply(im planar) (planar, error) {
	im = convertChannels(im, p.Channels)
	switch {
	case p.Resize.Short > 0:
		short := min(im.h, im.w)
		w, h := p.Resize.Short, p.Resize.Short
		if im.w > im.h {
			w = int(float64(p.Resize.Short) * float64(im.w) / float64(short))
		} else if im.h > im.w {
			h = int(float64(p.Resize.Short) * float64(im.h) / float64(short))
		}
		im = resizeBilinear(im, w, h)
	case p.Resize.W > 0:
		im = resizeBilinear(im, p.Resize.W, p.Resize.H)
	}
	if p.Crop.W > 0 {
		if im.w < p.Crop.W || im.h < p.Crop.H {
			return im, fmt.Errorf("image is %dx%d, smaller than --crop %dx%d (add --resize)", im.w, im.h, p.Crop.W, p.Crop.H)
		}
		im = centreCrop(im, p.Crop.W, p.Crop.H)
	}
	if p.BGR && im.c == 3 {
		plane := im.h * im.w
		r, b := im.pix[:plane], im.pix[2*plane:]
		for i := range r {
			r[i], b[i] = b[i], r[i]
		}
	}
	return im, nil
}

// convertChannels converts im to c channels (0: unchanged).
func convertChannels(im planar, c int) planar {
	plane := im.h * im.w
	switch {
	case c == 0 || c == im.c:
		return im
	case c == 3 && im.c == 1:
		pix := make([]uint8, 3*plane)
		for k := range 3 {
			copy(pix[k*plane:], im.pix)
		}
		return planar{3, im.h, im.w, pix}
	default: // 3 → 1: PIL's L = R*299/1000 + G*587/1000 + B*114/1000, rounded
		pix := make([]uint8, plane)
		r, g, b := im.pix[:plane], im.pix[plane:2*plane], im.pix[2*plane:]
		for i := range pix {
			pix[i] = uint8((uint32(r[i])*299 + uint32(g[i])*587 + uint32(b[i])*114 + 500) / 1000)
		}
		return planar{1, im.h, im.w, pix}
	}
}

// centreCrop cuts the centre w×h of im; the offsets are rounded as
// torchvision's CenterCrop does (int(round((H − h)/2))).
func centreCrop(im planar, w, h int) planar {
	top := int(math.RoundToEven(float64(im.h-h) / 2))
	left := int(math.RoundToEven(float64(im.w-w) / 2))
	pix := make([]uint8, im.c*h*w)
	for c := range im.c {
		for y := range h {
			src := im.pix[c*im.h*im.w+(top+y)*im.w+left:]
			copy(pix[c*h*w+y*w:c*h*w+(y+1)*w], src[:w])
		}
	}
	return planar{im.c, h, w, pix}
}

// filterWeights computes, for each of out output positions along an axis
// of in input positions, the first input index and the normalised weights
// of the triangle (bilinear) filter with pixel centres at half-integers,
// widened by the scale when shrinking (PIL's antialiased BILINEAR).
func filterWeights(in, out int) (first []int, weights [][]float64) {
	scale := float64(in) / float64(out)
	support := max(scale, 1)
	first = make([]int, out)
	weights = make([][]float64, out)
	for o := range out {
		centre := (float64(o) + 0.5) * scale
		lo := max(int(math.Floor(centre-support+0.5)), 0)
		hi := min(int(math.Floor(centre+support+0.5)), in)
		w := make([]float64, hi-lo)
		sum := 0.0
		for i := lo; i < hi; i++ {
			x := (float64(i) + 0.5 - centre) / support
			if t := 1 - math.Abs(x); t > 0 {
				w[i-lo] = t
				sum += t
			}
		}
		for k := range w {
			w[k] /= sum
		}
		first[o], weights[o] = lo, w
	}
	return first, weights
}

// resizeBilinear scales im to w×h, separably: rows first, then columns,
// keeping the intermediate in float64 and rounding once at the end.
func resizeBilinear(im planar, w, h int) planar {
	if w == im.w && h == im.h {
		return im
	}
	xf, xw := filterWeights(im.w, w)
	yf, yw := filterWeights(im.h, h)
	tmp := make([]float64, im.h*w)
	pix := make([]uint8, im.c*h*w)
	for c := range im.c {
		src := im.pix[c*im.h*im.w : (c+1)*im.h*im.w]
		for y := range im.h {
			row := src[y*im.w : (y+1)*im.w]
			for x := range w {
				s := 0.0
				for k, wt := range xw[x] {
					s += wt * float64(row[xf[x]+k])
				}
				tmp[y*w+x] = s
			}
		}
		dst := pix[c*h*w : (c+1)*h*w]
		for y := range h {
			for x := range w {
				s := 0.0
				for k, wt := range yw[y] {
					s += wt * tmp[(yf[y]+k)*w+x]
				}
				dst[y*w+x] = uint8(min(max(math.Round(s), 0), 255))
			}
		}
	}
	return planar{im.c, h, w, pix}
}
