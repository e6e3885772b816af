#!/usr/bin/env bash
# Trains zoo models with their ZOO.md dense recipe (the CLI defaults) and
# appends one JSON line per model to results/dense-recipes/dense.jsonl
# (progress in results/dense-recipes/MODEL.log).
#
# usage: scripts/train_zoo.sh [MODEL...]   (default: all five, fastest first)
# Takes hours on 2 cores for the Fashion-MNIST models; run it alone. An
# interrupted model resumes from its checkpoint when the script runs again.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results/dense-recipes models
# SHEARS=path runs a prebuilt binary (e.g. a queue that must not pick up
# later edits of the tree); by default ./shears is built from this tree.
bin=${SHEARS:-./shears}
[ -n "${SHEARS:-}" ] || go build -o shears ./cmd/shears
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(lenet300 lenet5 resnet20 vgg-s mobilenetv2-s)
for m in "${models[@]}"; do
	# An interrupted run left its checkpoint (written after every epoch):
	# continue from it, bit-identically.
	start=(--model "$m")
	if [ -f "models/$m.onnx.ckpt" ]; then
		data=fashion-mnist
		case $m in lenet*) data=mnist ;; esac
		start=(--resume "models/$m.onnx.ckpt" --data "$data")
		echo "resuming $m from models/$m.onnx.ckpt" >&2
	fi
	"$bin" train "${start[@]}" --seed 1 --threads 2 --out "models/$m.onnx" --json 2>>"results/dense-recipes/$m.log" \
		| tail -1 | tee -a results/dense-recipes/dense.jsonl
done
