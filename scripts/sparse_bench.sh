#!/usr/bin/env bash
# Sparse kernels against shears' dense kernels on the same shapes, in one run.
#
#   scripts/sparse_bench.sh                       # all of internal/sparse's benchmarks
#   ROUNDS=3 BENCH='Gemm1024x4096$' scripts/sparse_bench.sh
#
# It builds internal/sparse's test binary once and runs its benchmarks ROUNDS
# times. Within a round each shape's kernels run one after the other (dense
# first, then every sparse format), so a sparse kernel and its dense baseline
# see the same machine conditions; the speedup of a round is dense time /
# sparse time, and the table gives the median of the rounds' speedups with
# the median times. Threads are 1 unless the benchmark name ends in T2.
# Prints a Markdown table; RAW=FILE keeps the benchmark output.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-100ms}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/sparse.test" ./internal/sparse

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- internal/sparse || echo '+changes'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= ROUNDS; r++)); do
	"$tmp/sparse.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" |
		awk -v r="$r" '/^Benchmark/ { print r, $1, $3 }' >>"$tmp/raw.txt"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of -benchtime $BENCHTIME"
if [[ -n ${RAW:-} ]]; then cp "$tmp/raw.txt" "$RAW"; fi
echo
echo "| benchmark | kernel | median time | dense median | speedup (dense/sparse, median of rounds) |"
echo "|:---|:---|---:|---:|---:|"
# Lines: round name ns/op, name = Benchmark.../kernel=FORMAT-GOMAXPROCS.
awk '
	function fmt(ns) { return ns >= 1e6 ? sprintf("%.2f ms", ns / 1e6) : sprintf("%.1f µs", ns / 1e3) }
	function median(list,    a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		name = $2; sub(/-[0-9]+$/, "", name)
		k = index(name, "/kernel="); shape = substr(name, 1, k - 1); kern = substr(name, k + 8)
		t[$1, shape, kern] = $3
		times[shape, kern] = times[shape, kern] " " $3
		if (!((shape, kern) in seen)) { seen[shape, kern] = 1; order[n++] = shape SUBSEP kern }
	}
	END {
		for (i = 0; i < n; i++) {
			split(order[i], p, SUBSEP); shape = p[1]; kern = p[2]
			if (kern == "dense") continue
			ratios = ""
			for (r = 1; r <= 1000; r++) if ((r, shape, kern) in t && (r, shape, "dense") in t) ratios = ratios " " t[r, shape, "dense"] / t[r, shape, kern]
			sub(/^Benchmark/, "", shape)
			printf "| %s | %s | %s | %s | %.2f× |\n", shape, kern, fmt(median(times[p[1], kern])), fmt(median(times[p[1], "dense"])), median(ratios)
		}
	}' "$tmp/raw.txt"
