package recipe

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"

	"github.com/shearsml/shears/prune"
)

// Series is one line of a Plot.
type Series struct {
	Name string
	X, Y []float64 // Y is a top-1 accuracy in [0, 1]
}

// Plot is a PNG line plot of accuracies, drawn with the standard library
// only: a plot is a few lines and a 3×5 pixel font, not worth a plotting
// dependency. The CSV or JSON next to it has the numbers.
type Plot struct {
	Title, XLabel string
	Series        []Series
}

// PlotCurves draws sensitivity curves: x the pruning ratio, y the top-1
// accuracy, one coloured line per layer starting at the unpruned
// accuracy base.
func PlotCurves(w io.Writer, title string, base float64, curves []prune.Curve) error {
	p := Plot{Title: title, XLabel: "pruning ratio"}
	for _, c := range curves {
		s := Series{Name: c.Layer, X: append([]float64{0}, c.Ratios...), Y: append([]float64{base}, c.Accuracy...)}
		p.Series = append(p.Series, s)
	}
	return p.Draw(w)
}

// Draw writes the plot as PNG: x from 0 to the largest x (1 at least),
// y from a rounded-down minimum to the rounded-up maximum accuracy.
func (p Plot) Draw(w io.Writer) error {
	const W, H, left, right, top, bottom = 760, 480, 56, 220, 36, 48
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	xmax, ymin, ymax := 1.0, 1.0, 0.0
	for _, s := range p.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("plot: series %q has %d x values and %d y values", s.Name, len(s.X), len(s.Y))
		}
		for k := range s.X {
			xmax = math.Max(xmax, s.X[k])
			ymin, ymax = math.Min(ymin, s.Y[k]), math.Max(ymax, s.Y[k])
		}
	}
	// Round the accuracy range out to steps that suit its width, so that
	// curves a fraction of a point apart do not sit on one line.
	step := 0.1
	if ymax-ymin < 0.3 {
		step = 0.02
	}
	if ymax-ymin < 0.06 {
		step = 0.005
	}
	ymin = math.Max(0, math.Floor(ymin/step)*step)
	ymax = math.Min(1, math.Ceil(ymax/step)*step)
	if ymax <= ymin {
		ymin, ymax = math.Max(0, ymax-step), math.Max(step, ymax)
	}
	pw, ph := W-left-right, H-top-bottom
	px := func(x float64) int { return left + int(x/xmax*float64(pw)+0.5) }
	py := func(y float64) int { return top + ph - int((y-ymin)/(ymax-ymin)*float64(ph)+0.5) }
	black := color.RGBA{0, 0, 0, 255}
	grey := color.RGBA{220, 220, 220, 255}
	for k := 0; k <= 10; k++ {
		x := xmax * float64(k) / 10
		line(img, px(x), top, px(x), top+ph, grey, 1)
		if k%2 == 0 {
			label := fmt.Sprintf("%.3g", x)
			text(img, px(x)-textWidth(label)/2, top+ph+8, label, black)
		}
		y := ymin + (ymax-ymin)*float64(k)/10
		line(img, left, py(y), left+pw, py(y), grey, 1)
		if k%2 == 0 {
			label := fmt.Sprintf("%.3g", 100*y)
			text(img, left-8-textWidth(label), py(y)-5, label, black)
		}
	}
	line(img, left, top, left, top+ph, black, 1)
	line(img, left, top+ph, left+pw, top+ph, black, 1)
	text(img, left+pw/2-textWidth(p.XLabel)/2, H-18, p.XLabel, black)
	text(img, 4, top-14, "top-1 %", black)
	text(img, left, 4, p.Title, black)
	for i, s := range p.Series {
		col := palette[i%len(palette)]
		for k := 1; k < len(s.X); k++ {
			line(img, px(s.X[k-1]), py(s.Y[k-1]), px(s.X[k]), py(s.Y[k]), col, 2)
		}
		if len(s.X) == 1 {
			line(img, px(s.X[0])-2, py(s.Y[0]), px(s.X[0])+2, py(s.Y[0]), col, 3)
		}
		ly := top + 4 + 16*i
		if ly+12 > H {
			continue
		}
		line(img, W-right+12, ly+5, W-right+32, ly+5, col, 2)
		text(img, W-right+38, ly, s.Name, black)
	}
	return png.Encode(w, img)
}

// palette is matplotlib's tab10.
var palette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}

// line draws a segment (Bresenham) of a given thickness.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, thick int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		for a := 0; a < thick; a++ {
			for b := 0; b < thick; b++ {
				img.SetRGBA(x0+a, y0+b, c)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// font is a 3×5 pixel font, each glyph five rows of three pixels; it is
// drawn at scale 2. Letters are drawn as capitals.
var font = map[rune]string{
	'0': "####.##.##.####", '1': ".#.##..#..#.###", '2': "###..#####..###", '3': "###..####..####",
	'4': "#.##.####..#..#", '5': "####..###..####", '6': "####..####.####", '7': "###..#..#..#..#",
	'8': "####.#####.####", '9': "####.####..####", '.': ".............#.", '-': "......###......",
	'_': "............###", '%': "#.#..#.#.#..#.#", ':': "....#.....#....", '/': "..#..#.#.#..#..",
	'(': ".#.#..#..#...#.", ')': ".#...#..#..#.#.", '=': "...###...###...", 'a': ".#.#.#####.##.#",
	'b': "##.#.###.#.###.", 'c': ".###..#..#...##", 'd': "##.#.##.##.###.", 'e': "####..##.#..###",
	'f': "####..##.#..#..", 'g': ".###..#.##.#.##", 'h': "#.##.#####.##.#", 'i': "###.#..#..#.###",
	'j': "..#..#..##.#.#.", 'k': "#.##.###.#.##.#", 'l': "#..#..#..#..###", 'm': "#.########.##.#",
	'n': "##.#.##.##.##.#", 'o': ".#.#.##.##.#.#.", 'p': "##.#.###.#..#..", 'q': ".#.#.##.###..##",
	'r': "##.#.###.#.##.#", 's': ".###...#...###.", 't': "###.#..#..#..#.", 'u': "#.##.##.##.####",
	'v': "#.##.##.##.#.#.", 'w': "#.##.########.#", 'x': "#.##.#.#.#.##.#", 'y': "#.##.#.#..#..#.",
	'z': "###..#.#.#..###", ' ': "...............",
}

func textWidth(s string) int { return 8 * len([]rune(s)) }

// text draws s with its top-left corner at (x, y).
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToLower(s) {
		g, ok := font[r]
		if !ok || len(g) != 15 {
			g = "####.##.##.####"
		}
		for k, p := range g {
			if p != '#' {
				continue
			}
			gx, gy := x+2*(k%3), y+2*(k/3)
			img.SetRGBA(gx, gy, c)
			img.SetRGBA(gx+1, gy, c)
			img.SetRGBA(gx, gy+1, c)
			img.SetRGBA(gx+1, gy+1, c)
		}
		x += 8
	}
}
