package sparse

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/parallel"
)

// Choosing a kernel per node by measurement (issue 15, item 2).
//
// Intended call site: the CPU backend's compile step, once per node with
// a constant weight (Gemm/MatMul by an initializer, Conv with group 1),
// after shapes are known and before buffers are planned:
//
//	cache, _ := sparse.LoadCache(modelPath + ".kernels.json") // missing file: empty cache
//	plan, k, err := cache.Choose(sparse.LinearShape(out, in, batch), weight, sparse.Options{Threads: threads})
//	if err == nil && plan.Format.Kind != sparse.Dense {
//		table[node] = k // run k.Run(x, y, epi, threads) in place of the dense kernel
//	}
//	...
//	cache.Save(modelPath + ".kernels.json") // if cache.Changed()
//
// `shears run --profile` prints plan.Reason() for each node: the format it
// runs and the candidates' median times. The dense candidate is this
// package's denseKernel, which calls internal/gemm as the executor does;
// the backend keeps its own dense kernel when the plan says Dense.

// Options tunes Choose.
type Options struct {
	// Formats are the sparse candidates; nil means DefaultFormats. The
	// dense kernel is always timed, and so is FormatDirect for a
	// convolution with a k×k window, stride or padding.
	Formats []Format
	// Warm runs before timing (default 2) and timed rounds (default 7, the
	// median is kept). Each round runs every candidate once, in turn, so
	// that load from other processes falls on all of them alike.
	Warm, Rounds int
	// MinSpeedup is how much faster than dense a sparse kernel must be to
	// be chosen (default 1.05: within timing noise, dense stays).
	MinSpeedup float64
	// Threads is the thread count the node will run with (0 means
	// parallel.Threads()).
	Threads int
	// MinRunTime is the least time one timed sample lasts: a fast kernel
	// is repeated in a sample until it does (default 200µs).
	MinRunTime time.Duration
}

// DefaultFormats are the sparse candidates Choose tries by default.
var DefaultFormats = []Format{FormatCSR, FormatBSR1x8, FormatBSR4x4, FormatBSR1x4, FormatNM2x4, FormatNM4x8}

// maxStoredFraction skips a sparse candidate that would store more than
// this fraction of the dense entries (a 1×8 BSR of a 50%-dense random
// weight stores almost all of them): it cannot beat the dense kernel,
// and building and timing it would be wasted compile time.
const maxStoredFraction = 0.75

func (o Options) withDefaults() Options {
	if o.Formats == nil {
		o.Formats = DefaultFormats
	}
	if o.Warm <= 0 {
		o.Warm = 2
	}
	if o.Rounds <= 0 {
		o.Rounds = 7
	}
	if o.MinSpeedup <= 0 {
		o.MinSpeedup = 1.05
	}
	if o.MinRunTime <= 0 {
		o.MinRunTime = 200 * time.Microsecond
	}
	o.Threads = parallel.Resolve(o.Threads)
	return o
}

// Timing is one candidate's measurement.
type Timing struct {
	Format Format `json:"format"`
	// Median is the median time of one run (zero when Skipped).
	Median time.Duration `json:"median_ns"`
	// Stored is the values the format keeps (the dense kernel: all).
	Stored int `json:"stored"`
	// Skipped says why the candidate was not timed: the weight is not in
	// the format's pattern, or it would store too much.
	Skipped string `json:"skipped,omitempty"`
}

// Plan is the choice for one node: the format to run and the timings it
// was chosen from.
type Plan struct {
	Shape    string   `json:"shape"`
	Threads  int      `json:"threads"`
	Format   Format   `json:"format"`
	Density  float64  `json:"density"`
	Speedup  float64  `json:"speedup"` // dense median / chosen median (1 when dense)
	Timings  []Timing `json:"timings"`
	Measured string   `json:"measured"` // RFC 3339 time of the measurement
}

// Reason is a one-line explanation of the choice for a profile.
func (p Plan) Reason() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v (%.1f× dense, %.1f%% nonzero):", p.Format, p.Speedup, 100*p.Density)
	for _, t := range p.Timings {
		if t.Skipped != "" {
			fmt.Fprintf(&b, " %v skipped (%s);", t.Format, t.Skipped)
			continue
		}
		fmt.Fprintf(&b, " %v %v;", t.Format, t.Median.Round(100*time.Nanosecond))
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Choose builds every candidate for shape from the dense weight w, times
// them on random inputs of the real shape (o.Warm warm runs, then the
// median of o.Rounds rounds) and returns the fastest sparse kernel if it
// beats dense by o.MinSpeedup, else the dense one, with the plan saying
// why. The epilogue is left out of the timing: every kernel applies the
// same one.
func Choose(shape Shape, w []float32, o Options) (Plan, Kernel, error) {
	o = o.withDefaults()
	if err := shape.check(); err != nil {
		return Plan{}, nil, err
	}
	if err := checkDense(w, shape.Rows, shape.Cols); err != nil {
		return Plan{}, nil, err
	}
	plan := Plan{Shape: shape.String(), Threads: o.Threads, Density: denseDensity(w), Measured: time.Now().UTC().Format(time.RFC3339)}
	dense, err := Build(shape, FormatDense, w)
	if err != nil {
		return Plan{}, nil, err
	}
	kernels := []Kernel{dense}
	plan.Timings = []Timing{{Format: FormatDense, Stored: len(w)}}
	seen := map[Format]bool{FormatDense: true}
	formats := o.Formats
	if shape.Conv != nil && !shape.pointwise() && !slices.Contains(formats, FormatDirect) {
		formats = append(slices.Clip(formats), FormatDirect)
	}
	for _, f := range formats {
		if f.Kind == Direct && (shape.Conv == nil || shape.pointwise()) {
			continue
		}
		if seen[f] {
			continue
		}
		seen[f] = true
		k, err := Build(shape, f, w)
		if err != nil {
			plan.Timings = append(plan.Timings, Timing{Format: f, Skipped: err.Error()})
			continue
		}
		stored := storedOf(k, w)
		if float64(stored) > maxStoredFraction*float64(len(w)) {
			plan.Timings = append(plan.Timings, Timing{Format: f, Stored: stored, Skipped: fmt.Sprintf("stores %.0f%% of the entries", 100*float64(stored)/float64(len(w)))})
			continue
		}
		kernels = append(kernels, k)
		plan.Timings = append(plan.Timings, Timing{Format: f, Stored: stored})
	}
	medians, err := timeKernels(shape, kernels, o)
	if err != nil {
		return Plan{}, nil, err
	}
	best := 0
	for i, m := range medians {
		for j := range plan.Timings {
			if plan.Timings[j].Format == kernels[i].Format() && plan.Timings[j].Skipped == "" {
				plan.Timings[j].Median = m
			}
		}
		if m < medians[best] {
			best = i
		}
	}
	if best != 0 && float64(medians[0]) < o.MinSpeedup*float64(medians[best]) {
		best = 0
	}
	plan.Format = kernels[best].Format()
	plan.Speedup = float64(medians[0]) / float64(max(medians[best], 1))
	return plan, kernels[best], nil
}

func storedOf(k Kernel, w []float32) int {
	switch k := k.(type) {
	case *matrixKernel:
		return k.m.Stored()
	case *im2colKernel:
		return k.m.Stored()
	case *convKernel:
		return k.cv.NonZeros()
	}
	return len(w)
}

func denseDensity(w []float32) float64 {
	if len(w) == 0 {
		return 0
	}
	nz := 0
	for _, v := range w {
		if v != 0 {
			nz++
		}
	}
	return float64(nz) / float64(len(w))
}

// timeKernels returns each kernel's median time per run.
func timeKernels(shape Shape, ks []Kernel, o Options) ([]time.Duration, error) {
	in, out := shape.InOut()
	// Normal inputs: the kernels' speed does not depend on the values,
	// but subnormals or NaNs would make the dense one slow or odd.
	r := rand.New(rand.NewPCG(15, 7))
	x, y := make([]float32, in), make([]float32, out)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	reps := make([]int, len(ks))
	for i, k := range ks {
		for range o.Warm {
			if err := k.Run(x, y, nil, o.Threads); err != nil {
				return nil, fmt.Errorf("sparse: %v kernel for %v: %w", k.Format(), shape, err)
			}
		}
		// Repeat a fast kernel so that a sample is not timer noise.
		start := time.Now()
		_ = k.Run(x, y, nil, o.Threads)
		once := max(time.Since(start), time.Nanosecond)
		reps[i] = int(min(1000, max(1, int64(o.MinRunTime/once))))
	}
	samples := make([][]time.Duration, len(ks))
	for range o.Rounds {
		for i, k := range ks {
			start := time.Now()
			for range reps[i] {
				_ = k.Run(x, y, nil, o.Threads)
			}
			samples[i] = append(samples[i], time.Since(start)/time.Duration(reps[i]))
		}
	}
	med := make([]time.Duration, len(ks))
	for i, s := range samples {
		slices.Sort(s)
		med[i] = s[len(s)/2]
	}
	return med, nil
}

// Key is the cache key of a node: its shape, a digest of its weight's zero
// pattern (the kernels' speed depends on where the nonzeros are, not on
// their values), the machine and the thread count.
func Key(shape Shape, w []float32, threads int) string {
	h := sha256.New()
	var word [8]byte
	var bits uint64
	for i, v := range w {
		if v != 0 {
			bits |= 1 << (i % 64)
		}
		if i%64 == 63 || i == len(w)-1 {
			binary.LittleEndian.PutUint64(word[:], bits)
			h.Write(word[:])
			bits = 0
		}
	}
	return fmt.Sprintf("%s|%s|%s|threads=%d", shape, hex.EncodeToString(h.Sum(nil)[:12]), Machine(), parallel.Resolve(threads))
}

// Machine names the machine a timing holds for: architecture, the CPU
// model where the OS tells it, the kernels built, and GOMAXPROCS.
func Machine() string { return machine() }

var machine = sync.OnceValue(func() string {
	model := "unknown cpu"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kern := "go"
	if asmAvailable {
		kern = "avx2"
	}
	return fmt.Sprintf("%s/%s %s %s procs=%d", runtime.GOOS, runtime.GOARCH, model, kern, runtime.GOMAXPROCS(0))
})

// Cache remembers plans by Key, so a model's nodes are timed once per
// machine; it is safe for concurrent use and persists as JSON.
type Cache struct {
	mu      sync.Mutex
	plans   map[string]Plan
	changed bool
}

// cacheFile is the JSON form of a Cache.
type cacheFile struct {
	Version int             `json:"version"`
	Plans   map[string]Plan `json:"plans"`
}

const cacheVersion = 1

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{plans: map[string]Plan{}} }

// LoadCache reads a cache Save wrote; a missing file is an empty cache.
func LoadCache(path string) (*Cache, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewCache(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("sparse: kernel cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("sparse: kernel cache %s: %w", path, err)
	}
	if f.Version != cacheVersion {
		return nil, fmt.Errorf("sparse: kernel cache %s: version %d, this build reads %d", path, f.Version, cacheVersion)
	}
	c := NewCache()
	for k, p := range f.Plans {
		if p.Format.check() != nil {
			return nil, fmt.Errorf("sparse: kernel cache %s: entry %q has an invalid format", path, k)
		}
		c.plans[k] = p
	}
	return c, nil
}

// Save writes the cache as JSON, atomically.
func (c *Cache) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := json.MarshalIndent(cacheFile{Version: cacheVersion, Plans: c.plans}, "", "  ")
	if err != nil {
		return fmt.Errorf("sparse: kernel cache: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("sparse: kernel cache: %w", err)
	}
	c.changed = false
	return nil
}

// Changed reports whether plans were added since the cache was loaded or
// saved.
func (c *Cache) Changed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Plans returns the cached plans sorted by key.
func (c *Cache) Plans() []Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.plans))
	for k := range c.plans {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ps := make([]Plan, len(keys))
	for i, k := range keys {
		ps[i] = c.plans[k]
	}
	return ps
}

// Choose is the package's Choose through the cache: a node seen before (same
// Key) gets its cached format built without timing.
func (c *Cache) Choose(shape Shape, w []float32, o Options) (Plan, Kernel, error) {
	key := Key(shape, w, o.Threads)
	c.mu.Lock()
	plan, ok := c.plans[key]
	c.mu.Unlock()
	if ok {
		k, err := Build(shape, plan.Format, w)
		if err == nil {
			return plan, k, nil
		}
		// A stale entry (the format no longer builds): measure again.
	}
	plan, k, err := Choose(shape, w, o)
	if err != nil {
		return Plan{}, nil, err
	}
	c.mu.Lock()
	c.plans[key] = plan
	c.changed = true
	c.mu.Unlock()
	return plan, k, nil
}
