package train

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/tensor"
)

// SoftmaxCrossEntropy returns the mean cross-entropy of logits (B×C)
// against labels, the number of correct top-1 predictions, and writes the
// gradient of the mean loss with respect to the logits into grad (B×C).
func SoftmaxCrossEntropy(logits *tensor.Tensor, labels []int, grad *tensor.Tensor) (loss float64, correct int, err error) {
	if logits.Rank() != 2 {
		return 0, 0, fmt.Errorf("loss: logits must be batch×classes, have %s", tensor.ShapeString(logits.Shape))
	}
	b, c := logits.Shape[0], logits.Shape[1]
	if len(labels) != b {
		return 0, 0, fmt.Errorf("loss: %d labels for %d logits", len(labels), b)
	}
	inv := 1 / float32(b)
	for i := 0; i < b; i++ {
		row := logits.Data[i*c : (i+1)*c]
		y := labels[i]
		if y < 0 || y >= c {
			return 0, 0, fmt.Errorf("loss: label %d out of range for %d classes", y, c)
		}
		mx, arg := row[0], 0
		for j, v := range row {
			if v > mx {
				mx, arg = v, j
			}
		}
		if arg == y {
			correct++
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v - mx))
		}
		lse := float64(mx) + math.Log(sum)
		loss += lse - float64(row[y])
		if grad != nil {
			g := grad.Data[i*c : (i+1)*c]
			for j, v := range row {
				g[j] = float32(math.Exp(float64(v)-lse)) * inv
			}
			g[y] -= inv
		}
	}
	return loss / float64(b), correct, nil
}
