// Command sparseplan runs sparse.Choose on the benchmark suite's shapes
// with magnitude-pruned random weights and prints, per node, the kernel it
// keeps and why: the per-node choice by measurement, outside a model.
//
//	go run ./internal/sparse/cmd/sparseplan [-threads 1] [-cache FILE]
//
// With -cache the plans are read from and saved to FILE, so a second run
// times nothing.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/shearsml/shears/internal/sparse"
)

func main() {
	threads := flag.Int("threads", 1, "threads the nodes run with")
	cachePath := flag.String("cache", "", "kernel cache file (JSON) to read and update")
	flag.Parse()
	if err := run(*threads, *cachePath); err != nil {
		fmt.Fprintln(os.Stderr, "sparseplan:", err)
		os.Exit(1)
	}
}

type node struct {
	name  string
	shape sparse.Shape
	zeros float64 // fraction of entries zeroed at random
	nm    [2]int  // or keep the largest n of every m
}

func nodes() []node {
	var ns []node
	for _, z := range []float64{0, 0.5, 0.9, 0.95, 0.98} {
		for _, b := range []int{1, 64} {
			ns = append(ns,
				node{name: "gemm 1024×4096", shape: sparse.LinearShape(1024, 4096, b), zeros: z},
				node{name: "lenet300 fc1", shape: sparse.LinearShape(300, 784, b), zeros: z},
				node{name: "lenet300 fc2", shape: sparse.LinearShape(100, 300, b), zeros: z},
				node{name: "lenet300 fc3", shape: sparse.LinearShape(10, 100, b), zeros: z})
		}
	}
	for _, b := range []int{1, 64} {
		ns = append(ns, node{name: "gemm 1024×4096", shape: sparse.LinearShape(1024, 4096, b), nm: [2]int{2, 4}})
	}
	pw := sparse.ConvShape{C: 576, H: 14, W: 14, O: 96, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	k3 := sparse.ConvShape{C: 128, H: 28, W: 28, O: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	for _, z := range []float64{0, 0.5, 0.9} {
		ns = append(ns,
			node{name: "mobilenet_v2 1×1 576→96", shape: sparse.ConvNodeShape(pw, 1), zeros: z},
			node{name: "resnet18 3×3 128→128", shape: sparse.ConvNodeShape(k3, 1), zeros: z})
	}
	return ns
}

func weight(n node) []float32 {
	r := rand.New(rand.NewPCG(15, 99))
	w := make([]float32, n.shape.Rows*n.shape.Cols)
	for i := range w {
		w[i] = float32(r.NormFloat64())
		if r.Float64() < n.zeros {
			w[i] = 0
		}
	}
	if m := n.nm[1]; m > 0 {
		for g := 0; g+m <= len(w); g += m {
			// Keep the n largest magnitudes of the group.
			grp := w[g : g+m]
			for kept := m; kept > n.nm[0]; kept-- {
				at := -1
				for i, v := range grp {
					if v != 0 && (at < 0 || abs(v) < abs(grp[at])) {
						at = i
					}
				}
				grp[at] = 0
			}
		}
	}
	return w
}

func abs(v float32) float32 { return max(v, -v) }

func run(threads int, cachePath string) error {
	cache := sparse.NewCache()
	if cachePath != "" {
		c, err := sparse.LoadCache(cachePath)
		if err != nil {
			return err
		}
		cache = c
	}
	fmt.Printf("machine: %s, threads %d\n\n", sparse.Machine(), threads)
	fmt.Println("| node | shape | zeros | chosen | speedup over dense | timings |")
	fmt.Println("|:---|:---|---:|:---|---:|:---|")
	for _, n := range nodes() {
		plan, _, err := cache.Choose(n.shape, weight(n), sparse.Options{Threads: threads})
		if err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		zeros := fmt.Sprintf("%.0f%%", 100*(1-plan.Density))
		if n.nm[1] > 0 {
			zeros = fmt.Sprintf("%d:%d", n.nm[0], n.nm[1])
		}
		fmt.Printf("| %s | %s | %s | %v | %.2f× | %s |\n", n.name, plan.Shape, zeros, plan.Format, plan.Speedup, timings(plan))
	}
	if cachePath != "" && cache.Changed() {
		return cache.Save(cachePath)
	}
	return nil
}

func timings(p sparse.Plan) string {
	s := ""
	for _, t := range p.Timings {
		if t.Skipped != "" {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%v %.1fµs", t.Format, float64(t.Median.Nanoseconds())/1e3)
	}
	return s
}
