#!/usr/bin/env bash
# Dense inference latency: shears vs ONNX Runtime (CPU) on the same ONNX
# models, in one process, in alternating blocks (see internal/cmd/benchinfer).
#
#   scripts/bench_infer.sh                           # 2 threads, batch 1 and 64, the standard models
#   THREADS=1 BATCHES=1 MODELS=resnet20 scripts/bench_infer.sh
#
# Needs ONNX Runtime (npm install --prefix .cache/ort --ignore-scripts
# onnxruntime-node@1.30.0, as .ci/run does; or SHEARS_ORT_LIB) and, for the
# 224×224 models, the torchvision exports
# (/usr/bin/python3 scripts/export_torchvision.py). Prints a Markdown table
# of median latencies and shears/ORT. Run it on a quiet machine: it warns
# when the load average is above 1.5.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-1,64}
MODELS=${MODELS:-lenet5,resnet20,mobilenetv2-s,resnet18,mobilenet_v2}
MINTIME=${MINTIME:-2s}

load=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN{exit !($load > 1.5)}"; then
	echo "warning: load average $load > 1.5; the figures will be noisy" >&2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=1 go build -o "$tmp/benchinfer" ./internal/cmd/benchinfer
"$tmp/benchinfer" -threads "$THREADS" -batches "$BATCHES" -models "$MODELS" -mintime "$MINTIME"
