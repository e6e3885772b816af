package gemm

// TEMPORARY: tuning hooks for experiments; removed before hand-off.

import (
	"os"
	"strconv"
	"strings"
)

func init() {
	for _, kv := range strings.Split(os.Getenv("GEMM_TUNE"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(v)
		switch k {
		case "kc":
			kcOverride = n
		case "nc":
			ncOverride = n
		case "da":
			directANPanels = n
		case "db":
			directBMPanels = n
		case "upw":
			unitsPerWorker = n
		case "mpw":
			minParallelWork = n
		}
	}
}
