#!/usr/bin/env bash
# Compare shears' pure-Go GEMM with OpenBLAS on the same machine, in one run.
#
#   scripts/bench_gemm.sh                 # 2 threads, the standard shapes
#   THREADS=1 SHAPES=64x196x576,576x196x64:TN scripts/bench_gemm.sh
#
# It builds internal/gemm/cmd/gemmbench twice: the default build (pure Go +
# assembly, what shears ships) and a -tags openblas build (cgo, Debian's
# libopenblas-dev), then times the two alternately, shape by shape, so that
# both see the same machine conditions. Each figure is the best of TRIALS
# timed trials. Prints a Markdown table of GFLOP/s and shears/OpenBLAS.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SHAPES=${SHAPES:-256x256x256,512x512x512,1024x1024x1024,8192x64x576}
TRIALS=${TRIALS:-5}
TRIALTIME=${TRIALTIME:-300ms}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gemmbench-shears" ./internal/gemm/cmd/gemmbench
go build -tags openblas -o "$tmp/gemmbench-openblas" ./internal/gemm/cmd/gemmbench
export OPENBLAS_NUM_THREADS=$THREADS

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "threads: $THREADS (shears threads=$THREADS, OPENBLAS_NUM_THREADS=$THREADS), best of $TRIALS trials of >= $TRIALTIME"
echo
echo "| M | N | K | op | shears GFLOP/s | OpenBLAS GFLOP/s | shears/OpenBLAS |"
echo "|---:|---:|---:|:---:|---:|---:|---:|"
IFS=, read -ra shapes <<<"$SHAPES"
kern=""
core=""
for s in "${shapes[@]}"; do
	# Output: m n k transA transB impl threads gflops
	read -r m n k ta tb impl _ gs < <("$tmp/gemmbench-shears" -impl shears -threads "$THREADS" -trials "$TRIALS" -trialtime "$TRIALTIME" -shapes "$s")
	read -r _ _ _ _ _ oimpl _ go < <("$tmp/gemmbench-openblas" -impl openblas -threads "$THREADS" -trials "$TRIALS" -trialtime "$TRIALTIME" -shapes "$s")
	kern=$impl
	core=$oimpl
	op=$([ "$ta" = true ] && echo T || echo N)$([ "$tb" = true ] && echo T || echo N)
	ratio=$(awk -v a="$gs" -v b="$go" 'BEGIN { printf "%.2f", a / b }')
	echo "| $m | $n | $k | $op | $gs | $go | $ratio |"
done
echo
echo "implementations: $kern vs $core"
