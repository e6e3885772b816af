#!/usr/bin/env bash
# Trains zoo models with their ZOO.md dense recipe (the CLI defaults) and
# appends one JSON line per model to results/dense.jsonl.
#
# usage: scripts/train_zoo.sh [MODEL...]   (default: all five, fastest first)
# Takes hours on 2 cores for the Fashion-MNIST models; run it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results models
go build -o shears ./cmd/shears
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(lenet300 lenet5 resnet20 vgg-s mobilenetv2-s)
for m in "${models[@]}"; do
	./shears train --model "$m" --seed 1 --threads 2 --out "models/$m.onnx" --json 2>"results/$m.log" \
		| tail -1 | tee -a results/dense.jsonl
done
