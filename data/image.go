package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the decoders image.Decode uses
	_ "image/png"
)

// decodeImage decodes a PNG or JPEG file into planes of bytes. How pixel
// formats become channels:
//
//   - grey (8- or 16-bit), and paletted images whose palette is all grey:
//     1 channel;
//   - everything else (RGB, RGBA, YCbCr JPEG, CMYK, colour palettes): 3
//     channels, R, G, B;
//   - 16-bit samples keep their high byte;
//   - alpha is dropped after compositing over black (Go's premultiplied
//     colours): a half-transparent white pixel becomes mid grey.
func decodeImage(b []byte) (planar, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return planar{}, err
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if w <= 0 || h <= 0 {
		return planar{}, fmt.Errorf("empty image (%dx%d)", w, h)
	}
	plane := w * h
	switch m := img.(type) {
	case *image.Gray:
		pix := make([]uint8, plane)
		for y := range h {
			copy(pix[y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
		return planar{1, h, w, pix}, nil
	case *image.Gray16:
		pix := make([]uint8, plane)
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				pix[y*w+x] = row[2*x] // big-endian: the high byte first
			}
		}
		return planar{1, h, w, pix}, nil
	case *image.Paletted:
		if greyPalette(m.Palette) {
			pix := make([]uint8, plane)
			for y := range h {
				for x := range w {
					v, _, _, _ := m.Palette[m.Pix[y*m.Stride+x]].RGBA()
					pix[y*w+x] = uint8(v >> 8)
				}
			}
			return planar{1, h, w, pix}, nil
		}
	}
	pix := make([]uint8, 3*plane)
	for y := range h {
		for x := range w {
			cr, cg, cb, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
			k := y*w + x
			pix[k], pix[plane+k], pix[2*plane+k] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
		}
	}
	return planar{3, h, w, pix}, nil
}

// greyPalette reports whether every colour of p is an opaque grey.
func greyPalette(p color.Palette) bool {
	for _, c := range p {
		r, g, b, a := c.RGBA()
		if r != g || g != b || a != 0xffff {
			return false
		}
	}
	return true
}
