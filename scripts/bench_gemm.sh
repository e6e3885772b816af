#!/usr/bin/env bash
# Compare shears' pure-Go GEMM with OpenBLAS on the same machine, in one run.
#
#   scripts/bench_gemm.sh                 # 2 threads, the standard shapes
#   THREADS=1 SHAPES=64x196x576,576x196x64:TN scripts/bench_gemm.sh
#
# It builds internal/gemm/cmd/gemmbench twice: the default build (pure Go +
# assembly, what shears ships) and a -tags openblas build (cgo, Debian's
# libopenblas-dev), then times them alternately, one trial of each per shape
# per round, so both see the same machine conditions. Each figure is the best
# trial over ROUNDS rounds: on a shared machine noise only ever slows a run
# down. Prints a Markdown table of GFLOP/s and the ratio shears/OpenBLAS.
# Shapes are MxNxK with an optional :TN, :NT or :TT (transA, transB) suffix.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SHAPES=${SHAPES:-256x256x256,512x512x512,1024x1024x1024,8192x64x576}
ROUNDS=${ROUNDS:-5}
TRIALTIME=${TRIALTIME:-300ms}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gemmbench-shears" ./internal/gemm/cmd/gemmbench
go build -tags openblas -o "$tmp/gemmbench-openblas" ./internal/gemm/cmd/gemmbench
export OPENBLAS_NUM_THREADS=$THREADS

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -ra shapes <<<"$SHAPES"
for ((r = 0; r < ROUNDS; r++)); do
	for s in "${shapes[@]}"; do
		# Each prints: m n k transA transB impl threads gflops
		"$tmp/gemmbench-shears" -impl shears -threads "$THREADS" -trials 1 -trialtime "$TRIALTIME" -shapes "$s" >>"$tmp/shears.txt"
		"$tmp/gemmbench-openblas" -impl openblas -threads "$THREADS" -trials 1 -trialtime "$TRIALTIME" -shapes "$s" >>"$tmp/openblas.txt"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); threads: $THREADS (shears threads=$THREADS, OPENBLAS_NUM_THREADS=$THREADS); best of $ROUNDS alternating trials of >= $TRIALTIME"
echo "implementations: $(awk 'NR==1 {print $6}' "$tmp/shears.txt") vs $(awk 'NR==1 {print $6}' "$tmp/openblas.txt")"
echo
echo "| M | N | K | op | shears GFLOP/s | OpenBLAS GFLOP/s | shears/OpenBLAS |"
echo "|---:|---:|---:|:---:|---:|---:|---:|"
awk '
	function op(ta, tb) { return (ta == "true" ? "T" : "N") (tb == "true" ? "T" : "N") }
	{ key = $1 " " $2 " " $3 " " op($4, $5) }
	FNR == NR { if (!(key in s)) order[n++] = key; if ($8 > s[key]) s[key] = $8; next }
	{ if ($8 > o[key]) o[key] = $8 }
	END {
		for (i = 0; i < n; i++) {
			k = order[i]; split(k, f, " ")
			printf "| %s | %s | %s | %s | %.1f | %.1f | %.2f |\n", f[1], f[2], f[3], f[4], s[k], o[k], s[k] / o[k]
		}
	}' "$tmp/shears.txt" "$tmp/openblas.txt"
