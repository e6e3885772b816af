#!/usr/bin/env bash
# Runs pruning recipes one after the other and keeps their output:
# results/prune-NAME.jsonl (the JSON report of every run) and
# results/prune-NAME.log (progress and per-layer tables), NAME being the
# recipe's file name without .yaml. Extra flags after -- go to every run.
#
# usage: scripts/prune_bench.sh RECIPE.yaml... [-- FLAGS...]
# Most recipes start from models/*.onnx (scripts/train_zoo.sh). Long runs
# (minutes to an hour each on 2 cores): run them alone on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results out
# SHEARS=path runs a prebuilt binary (e.g. a queue that must not pick up
# later edits of the tree); by default ./shears is built from this tree.
bin=${SHEARS:-./shears}
[ -n "${SHEARS:-}" ] || go build -o shears ./cmd/shears
recipes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do recipes+=("$1"); shift; done
[ $# -gt 0 ] && shift
for r in "${recipes[@]}"; do
	name=$(basename "$r" .yaml)
	echo "$(date -u +%FT%TZ) $r" >&2
	"$bin" prune --recipe "$r" --threads 2 "$@" 2>"results/prune-$name.log" \
		| tee "results/prune-$name.out" | grep '^{' >"results/prune-$name.jsonl" || {
		echo "$r failed: see results/prune-$name.log" >&2
	}
done
