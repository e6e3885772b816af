package prune

import (
	"fmt"
	"strings"

	"github.com/shearsml/shears/graph"
)

// DepGraph is the result of Analyze: the graph's channels sorted into
// groups that are pruned together, and the channels that cannot be pruned
// with the reason why. It describes the graph as it was analysed; after
// Prune changes the graph, analyse it again.
type DepGraph struct {
	g       *graph.Graph
	all     []*Group // every group, prunable or not
	groups  []*Group // the prunable ones
	reasons []Reason
	class   map[int]chanRef   // channel element → group and channel index
	binds   []binding         // bound param axes, units resolved to class roots
	lays    map[string]layout // value channel layouts, resolved
	axes    map[string]int    // channel axis of values whose channels are not on axis 1
	fixups  []fixup
	shapes  map[string][]int // bound params' shapes at analysis time
}

type chanRef struct {
	g  *Group
	ch int
}

// Groups returns the prunable groups, in graph order of their owners.
func (d *DepGraph) Groups() []*Group { return d.groups }

// Unprunable returns, for every set of channels that cannot be pruned, the
// reason: graph inputs and outputs, channels that meet an op pruning
// cannot see through (a Transpose moving the channel axis, a channel
// shuffle, a Softmax across channels, an op without a channel rule), and
// the outputs of layer weights that make no channels (a MatMul along a
// spatial axis). Every layer weight's output axis is in a Group or here.
func (d *DepGraph) Unprunable() []Reason { return d.reasons }

// Group is a set of channels that must be pruned together, and every param
// slice they own. Channel i of the group is one channel of each coupled
// layer: keeping or removing it keeps or removes all of them.
type Group struct {
	// Owner is the node (or graph input) that produces the channels: the
	// first conv or linear layer, in graph order, among those coupled.
	Owner string
	// Value is the owner's output value.
	Value string
	// Channels is the number of channels in the group.
	Channels int
	// Slices are the coupled param slices, in graph order.
	Slices []Slice
	// Values names the values that hold some of the group's channels.
	Values []string

	d       *DepGraph
	classes []int  // channel index → element root
	word    string // "channel", or "feature" for an N×F value
}

// Slice is a run of a param axis owned by consecutive channels of a group:
// channel First+k owns elements [Offset+k·Span, Offset+(k+1)·Span) of axis
// Axis, for k < Count. Span is 1 except where a channel feeds several
// positions, as a flattened N×C×H×W feeding a linear layer (Span H·W).
type Slice struct {
	Param  string
	Axis   int
	Role   graph.AxisRole // the param's label of Axis: out (filters) or in
	Offset int
	Span   int
	First  int // first group channel of the run
	Count  int // channels in the run

	rank int
}

// Elems returns the elements of Axis that group channel ch owns in this
// slice, and false when the slice does not hold ch.
func (s Slice) Elems(ch int) (lo, hi int, ok bool) {
	if ch < s.First || ch >= s.First+s.Count {
		return 0, 0, false
	}
	lo = s.Offset + (ch-s.First)*s.Span
	return lo, lo + s.Span, true
}

func (s Slice) bracket(all int) string {
	var b strings.Builder
	b.WriteByte('[')
	if s.rank > 1 && s.Role != graph.AxisNone {
		b.WriteString(s.Role.String() + " ")
	} else if s.rank > 1 {
		fmt.Fprintf(&b, "axis %d ", s.Axis)
	}
	fmt.Fprintf(&b, "%d:%d", s.Offset, s.Offset+s.Count*s.Span)
	if s.Span > 1 {
		fmt.Fprintf(&b, ", %d per channel", s.Span)
	}
	if s.First != 0 || s.Count != all {
		fmt.Fprintf(&b, " ← channels %d:%d", s.First, s.First+s.Count)
	}
	b.WriteByte(']')
	return b.String()
}

func (s Slice) String() string { return s.Param + s.bracket(0) }

// String prints the group like Torch-Pruning's group.details(): the owner,
// the channel count and every coupled slice, with params that share a
// prefix and a slice (BatchNorm's four) written once:
//
//	conv1: 16 channels: conv1.weight[out 0:16] → bn1.{weight,bias,running_mean,running_var}[0:16] → layer1.0.conv1.weight[in 0:16] …
func (g *Group) String() string {
	var parts []string
	for i := 0; i < len(g.Slices); {
		s := g.Slices[i]
		br := s.bracket(g.Channels)
		prefix, _ := splitLast(s.Param)
		names := []string{s.Param}
		j := i + 1
		for ; j < len(g.Slices) && prefix != ""; j++ {
			t := g.Slices[j]
			p, _ := splitLast(t.Param)
			if p != prefix || t.bracket(g.Channels) != br {
				break
			}
			names = append(names, t.Param)
		}
		if len(names) == 1 {
			parts = append(parts, s.Param+br)
		} else {
			var last []string
			for _, n := range names {
				_, l := splitLast(n)
				last = append(last, l)
			}
			parts = append(parts, prefix+".{"+strings.Join(last, ",")+"}"+br)
		}
		i = j
	}
	return fmt.Sprintf("%s: %s: %s", g.Owner, count(g.Channels, g.word), strings.Join(parts, " → "))
}

func splitLast(name string) (prefix, last string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// Reason says why a set of channels cannot be pruned.
type Reason struct {
	Node     string // the node (or graph input) that produces the channels
	Value    string // its output value
	Channels int
	Why      string // the causes, "; "-separated
	// Slices are the param slices these channels own, which stay as they
	// are (as Group.Slices): every layer the refusal keeps whole.
	Slices []Slice

	word string
}

func (r Reason) String() string {
	w := r.word
	if w == "" {
		w = "channel"
	}
	return fmt.Sprintf("%s: %s not prunable: %s", r.Node, count(r.Channels, w), r.Why)
}
