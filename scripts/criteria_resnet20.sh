#!/usr/bin/env bash
# Every pruning criterion on one structured protocol: resnet20 on
# Fashion-MNIST, ZOO.md's L1-filter setting (recipes/l1-filter-resnet20.yaml:
# filters of the first conv of each block, the stem and the residual groups
# kept) with the criterion swapped, ratio R (default 0.5), fine-tuned E
# epochs (default 10, ZOO.md's protocol). One JSON line per criterion in
# results/criteria-resnet20/criteria-resnet20-eE.jsonl (progress in the
# .log beside it), then a Markdown table. LAMP is left out: it scores
# weights, not filters.
#
# The run resumes: a criterion that already has a line in the output file is
# skipped (nine criteria × ten epochs is hours of this machine), so the
# script can be stopped and restarted; FRESH=1 starts over.
# SHEARS=path runs a prebuilt binary (a long run must not pick up a rebuild).
#
# usage: scripts/criteria_resnet20.sh [R] [E]    (needs models/resnet20.onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
ratio=${1:-0.5}
epochs=${2:-10}
mkdir -p results/criteria-resnet20 out
bin=${SHEARS:-./shears}
[ -n "${SHEARS:-}" ] || go build -o shears ./cmd/shears
out=results/criteria-resnet20/criteria-resnet20-e$epochs.jsonl
log=results/criteria-resnet20/criteria-resnet20-e$epochs.log
if [ "${FRESH:-0}" = 1 ]; then : >"$out"; fi
touch "$out"
for c in random l1 l2 bn apoz mean-act taylor snip fpgm; do
	if grep -q "\"criterion\":\"$c\"" "$out"; then continue; fi
	echo "$(date -u +%FT%TZ) $c" >&2
	line=$("$bin" prune --recipe recipes/l1-filter-resnet20.yaml --criterion "$c" --ratio "$ratio" \
		--finetune-epochs "$epochs" --latency-runs 0 --threads 2 --quiet \
		--out "out/resnet20-crit-$c.onnx" --json 2>>"$log" | tail -1)
	echo "$line" >>"$out"
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
