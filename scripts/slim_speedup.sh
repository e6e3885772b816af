#!/usr/bin/env bash
# The README's "slimmed model N× faster" rows (structured L1 filters on
# resnet20, vgg-s and mobilenetv2-s), measured on the path `shears run`
# deploys: each row's recipe (recipes/l1-filter-*.yaml, at the ratio its
# MACs figure comes from) prunes a freshly initialised zoo model without
# fine-tuning — latency depends on the architecture, not on the weights'
# values — and the pruning report's own latencies (prune.Latencies: the
# dense, masked and slimmed models compiled with CompileInference, timed
# taking turns, medians) give the speedups. As a cross-check, `shears run
# MODEL --random-input --json` times the dense and the slimmed model
# alternately, PAIRS times each (median of its 10 passes per call), and the
# "shears run" columns give the median of the pairs' ratios. Prints a
# Markdown table.
#
# usage: scripts/slim_speedup.sh [RUNS [PAIRS]]
#   RUNS: timed passes per model and batch size in the report (default 21)
#   PAIRS: alternating shears run calls per model and batch (default 7, 0: none)
# SHEARS=path runs a prebuilt binary; THREADS (default 2) sets --threads.
# About a minute on 2 idle cores; on a loaded machine the ratios still hold
# (the models alternate), the milliseconds do not.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
pairs=${2:-7}
threads=${THREADS:-2}
bin=${SHEARS:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/shears
	go build -o "$bin" ./cmd/shears
fi
out=$(mktemp -d)

# cli_speedup DENSE SLIM BATCH: the median over $pairs alternating pairs of
# shears run calls of the dense call's latency over the slimmed one's.
cli_speedup() {
	[ "$pairs" -gt 0 ] || { echo "-"; return; }
	for _ in $(seq "$pairs"); do
		for m in "$1" "$2"; do
			"$bin" run "$m" --random-input --batch "$3" --threads "$threads" --json | tail -n 1 | jq -r .latency_ms
		done | paste -sd ' '
	done | awk '{ print $1 / $2 }' | sort -g | awk '{ r[NR] = $1 } END { printf "%.2f×", r[int((NR + 1) / 2)] }'
}

echo "| model (recipe, ratio) | MACs dense → slim | batch 1: dense / slim ms | speedup | shears run | batch 64: dense / slim ms | speedup | shears run |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for row in resnet20:0.55 vgg-s:0.32 mobilenetv2-s:0.6; do
	model=${row%:*} ratio=${row#*:}
	recipe=recipes/l1-filter-$model.yaml
	"$bin" prune "$model" --recipe "$recipe" --ratio "$ratio" --finetune-epochs 0 --data '' \
		--threads "$threads" --latency-runs "$runs" --out "$out/$model.onnx" --masked-out '' --json --quiet \
		2>"$out/$model.log" | tail -n 1 >"$out/$model.json" || {
		echo "$model failed:" >&2
		cat "$out/$model.log" >&2
		exit 1
	}
	cli1=$(cli_speedup "$model" "$out/$model.onnx" 1)
	cli64=$(cli_speedup "$model" "$out/$model.onnx" 64)
	jq -r --arg m "$model" --arg r "$ratio" --arg recipe "$recipe" --arg cli1 "$cli1" --arg cli64 "$cli64" '.metrics as $x | $x.latency_ms as $l |
		"| \($m) (\($recipe), r = \($r)) | \($x.macs / 1e5 | round / 10) M → \($x.slim_macs / 1e5 | round / 10) M (\($x.macs / $x.slim_macs * 100 | round / 100)×) | " +
		"\($l.dense["1"]) / \($l.slim["1"]) | \($l.dense["1"] / $l.slim["1"] * 100 | round / 100)× | \($cli1) | " +
		"\($l.dense["64"]) / \($l.slim["64"]) | \($l.dense["64"] / $l.slim["64"] * 100 | round / 100)× | \($cli64) |"' "$out/$model.json"
done
echo
echo "report: $runs timed passes per model and batch; shears run: $pairs alternating pairs of calls; $threads threads, $(date -u +%FT%TZ), $(git rev-parse --short HEAD); reports in $out"
