package prune_test

import (
	"fmt"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/zoo"
)

// Analyse LeNet-5, then remove the second half of conv2's filters: conv2's
// bias and the 16 input features of fc1 that each filter feeds go too.
func Example() {
	g := zoo.LeNet5(1)
	d, err := prune.Analyze(g)
	if err != nil {
		panic(err)
	}
	for _, grp := range d.Groups() {
		fmt.Println(grp)
	}
	for _, r := range d.Unprunable() {
		fmt.Println(r)
	}

	before := g.Clone()
	conv2 := d.Groups()[1]
	keep := make([]int, 25)
	for i := range keep {
		keep[i] = i
	}
	if err := prune.Prune(g, conv2, keep); err != nil {
		panic(err)
	}
	for _, line := range prune.Summary(before, g) {
		fmt.Println(line)
	}
	// Output:
	// conv1: 20 channels: conv1.weight[out 0:20] → conv1.bias[0:20] → conv2.weight[in 0:20]
	// conv2: 50 channels: conv2.weight[out 0:50] → conv2.bias[0:50] → fc1.weight[in 0:800, 16 per channel]
	// fc1: 500 features: fc1.weight[out 0:500] → fc1.bias[0:500] → fc2.weight[in 0:500]
	// input: 1 channel not prunable: graph input "input": its channels cannot change
	// fc2: 10 features not prunable: graph output "fc2": its 10 features cannot change
	// conv2: 50 → 25 channels
	// fc1: 800 → 400 inputs
	// params 431080 → 218555 (-49.3%), MACs 2293000 → 1293000 (-43.6%)
}
