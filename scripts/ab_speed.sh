#!/usr/bin/env bash
# Speed A/B of two shears builds on what users run: `shears run` latency
# (the median of --repeat timed passes, as its --json reports it) and
# `shears train` throughput (images/s), the two builds alternating round by
# round so that a shared machine's slow phases fall on both. Prints, per
# case, each round's NEW/OLD ratio and their median (< 1: the new build is
# faster at inference; > 1: faster at training, since that ratio is of
# throughputs).
#
#   scripts/ab_speed.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# MODELS (default lenet5 resnet20 mobilenetv2-s, plus resnet18 and
# mobilenet_v2 from .cache/torchvision when exported), BATCHES (1 64),
# THREADS (2), TRAIN_MODELS (lenet5 resnet20 mobilenetv2-s) and TRAIN_LIMIT
# (2560 images, one epoch) choose the cases; TRAIN_MODELS= skips training;
# REPEAT (20) sets the timed passes per shears run call.
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") rounds=${3:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${THREADS:-2}
models=${MODELS:-"lenet5 resnet20 mobilenetv2-s"}
if [ -z "${MODELS:-}" ]; then
	for m in resnet18 mobilenet_v2; do
		[ -f "$root/.cache/torchvision/$m.onnx" ] && models="$models $root/.cache/torchvision/$m.onnx"
	done
fi
batches=${BATCHES:-"1 64"}
train_models=${TRAIN_MODELS-"lenet5 resnet20 mobilenetv2-s"}
train_limit=${TRAIN_LIMIT:-2560}
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
median() { python3 -c "import statistics,sys; print('%.3f' % statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
echo "| case | NEW/OLD per round | median |"
echo "| --- | --- | --- |"
for m in $models; do
	for b in $batches; do
		ratios=()
		for _ in $(seq "$rounds"); do
			o=$("$old" run "$m" --random-input --batch "$b" --threads "$threads" --repeat "${REPEAT:-20}" --json 2>/dev/null | field latency_ms)
			n=$("$new" run "$m" --random-input --batch "$b" --threads "$threads" --repeat "${REPEAT:-20}" --json 2>/dev/null | field latency_ms)
			ratios+=("$(python3 -c "print('%.3f' % ($n / $o))")")
		done
		echo "| run $(basename "$m" .onnx) batch $b (latency) | ${ratios[*]} | $(median "${ratios[@]}") |"
	done
done
data_for() { case $1 in lenet*) echo mnist ;; *) echo fashion-mnist ;; esac; }
for m in $train_models; do
	ratios=()
	for _ in $(seq "$rounds"); do
		rm -f /tmp/ab_speed_old.onnx.ckpt /tmp/ab_speed_new.onnx.ckpt
		o=$("$old" train --model "$m" --data "$(data_for "$m")" --epochs 1 --limit "$train_limit" --threads "$threads" --out /tmp/ab_speed_old.onnx --json --quiet 2>/dev/null | field images_per_second)
		n=$("$new" train --model "$m" --data "$(data_for "$m")" --epochs 1 --limit "$train_limit" --threads "$threads" --out /tmp/ab_speed_new.onnx --json --quiet 2>/dev/null | field images_per_second)
		rm -f /tmp/ab_speed_old.onnx.ckpt /tmp/ab_speed_new.onnx.ckpt
		ratios+=("$(python3 -c "print('%.3f' % ($n / $o))")")
	done
	echo "| train $m (images/s) | ${ratios[*]} | $(median "${ratios[@]}") |"
done
rm -f /tmp/ab_speed_old.onnx /tmp/ab_speed_new.onnx /tmp/ab_speed_old.onnx.ckpt /tmp/ab_speed_new.onnx.ckpt
