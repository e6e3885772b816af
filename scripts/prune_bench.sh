#!/usr/bin/env bash
# Runs pruning recipes one after the other and keeps their output in
# results/prune-NAME/: prune-NAME.jsonl (the JSON report of every run),
# prune-NAME.log (progress and per-layer tables) and prune-NAME.out (the
# whole standard output), NAME being the recipe's file name without .yaml.
# Extra flags after -- go to every run.
#
# usage: scripts/prune_bench.sh RECIPE.yaml... [-- FLAGS...]
# Most recipes start from models/*.onnx (scripts/train_zoo.sh). Long runs
# (minutes to an hour each on 2 cores): run them alone on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
# SHEARS=path runs a prebuilt binary (e.g. a queue that must not pick up
# later edits of the tree); by default ./shears is built from this tree.
bin=${SHEARS:-./shears}
[ -n "${SHEARS:-}" ] || go build -o shears ./cmd/shears
recipes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do recipes+=("$1"); shift; done
[ $# -gt 0 ] && shift
for r in "${recipes[@]}"; do
	name=$(basename "$r" .yaml)
	dir=results/prune-$name
	mkdir -p "$dir"
	echo "$(date -u +%FT%TZ) $r" >&2
	"$bin" prune --recipe "$r" --threads 2 "$@" 2>"$dir/prune-$name.log" \
		| tee "$dir/prune-$name.out" | grep '^{' >"$dir/prune-$name.jsonl" || {
		echo "$r failed: see $dir/prune-$name.log" >&2
	}
done
