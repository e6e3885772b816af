#!/usr/bin/env bash
# The README's "slimmed model N× faster" rows (structured L1 filters on
# resnet20, vgg-s and mobilenetv2-s), measured on the path `shears run`
# deploys: each row's recipe (recipes/l1-filter-*.yaml, at the ratio its
# MACs figure comes from) prunes a freshly initialised zoo model without
# fine-tuning — latency depends on the architecture, not on the weights'
# values — and the pruning report's own latencies (prune.Latencies: the
# dense, masked and slimmed models compiled with CompileInference, timed
# taking turns, medians) give the speedups. Prints a Markdown table.
#
# usage: scripts/slim_speedup.sh [RUNS]   (timed passes per model and batch size, default 21)
# SHEARS=path runs a prebuilt binary; THREADS (default 2) sets --threads.
# About a minute on 2 idle cores; on a loaded machine the ratios still hold
# (the models alternate), the milliseconds do not.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
threads=${THREADS:-2}
bin=${SHEARS:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/shears
	go build -o "$bin" ./cmd/shears
fi
out=$(mktemp -d)
echo "| model (recipe, ratio) | MACs dense → slim | batch 1: dense / slim ms | speedup | batch 64: dense / slim ms | speedup |"
echo "| --- | --- | --- | --- | --- | --- |"
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
	jq -r --arg m "$model" --arg r "$ratio" --arg recipe "$recipe" '.metrics as $x | $x.latency_ms as $l |
		"| \($m) (\($recipe), r = \($r)) | \($x.macs / 1e5 | round / 10) M → \($x.slim_macs / 1e5 | round / 10) M (\($x.macs / $x.slim_macs * 100 | round / 100)×) | " +
		"\($l.dense["1"]) / \($l.slim["1"]) | \($l.dense["1"] / $l.slim["1"] * 100 | round / 100)× | " +
		"\($l.dense["64"]) / \($l.slim["64"]) | \($l.dense["64"] / $l.slim["64"] * 100 | round / 100)× |"' "$out/$model.json"
done
echo
echo "$runs timed passes per model and batch, $threads threads, $(date -u +%FT%TZ), $(git rev-parse --short HEAD); reports in $out"
