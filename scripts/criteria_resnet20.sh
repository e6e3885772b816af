#!/usr/bin/env bash
# Every pruning criterion on one structured protocol: resnet20 on
# Fashion-MNIST, ZOO.md's L1-filter setting (recipes/l1-filter-resnet20.yaml:
# filters of the first conv of each block, the stem and the residual groups
# kept) with the criterion swapped, ratio R (default 0.5), fine-tuned E
# epochs (default 2; ZOO.md's protocol is 10). One JSON line per criterion
# in results/criteria-resnet20.jsonl, then a Markdown table. LAMP is left
# out: it scores weights, not filters.
#
# usage: scripts/criteria_resnet20.sh [R] [E]    (needs models/resnet20.onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
ratio=${1:-0.5}
epochs=${2:-2}
mkdir -p results out
go build -o shears ./cmd/shears
out=results/criteria-resnet20.jsonl
: >"$out"
for c in random l1 l2 bn apoz mean-act taylor snip fpgm; do
	echo "$(date -u +%FT%TZ) $c" >&2
	./shears prune --recipe recipes/l1-filter-resnet20.yaml --criterion "$c" --ratio "$ratio" \
		--finetune-epochs "$epochs" --latency-runs 0 --threads 2 --quiet \
		--out "out/resnet20-crit-$c.onnx" --json 2>>results/criteria-resnet20.log | tail -1 >>"$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
needs = {"apoz": "calibration images", "mean-act": "calibration images", "taylor": "calibration images + labels", "snip": "calibration images + labels"}
print("| criterion | needs | MACs | params | top-1 pruned | top-1 fine-tuned |")
print("| --- | --- | --- | --- | --- | --- |")
for line in open(sys.argv[1]):
    r = json.loads(line)
    m = r["metrics"]
    print("| %s | %s | %.2f M (%.2f×) | %d | %.2f%% | %.2f%% |" % (r["criterion"], needs.get(r["criterion"], "nothing"),
        m["slim_macs"] / 1e6, m["macs"] / m["slim_macs"], m["slim_params"], 100 * m["accuracy_pruned"], 100 * m["accuracy_finetuned"]))
PY
