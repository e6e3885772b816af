#!/bin/sh
# Pruning with calibration images only, no fine-tuning (issue 14's Must show).
#
#   scripts/calib_prune.sh structured MODEL DATA [METHOD...]
#       prunes every prunable channel group of MODEL with the same ratio, to 1.5× and
#       2× fewer MACs (the ratio found by bisection on the slimmed MACs), with CALIB
#       calibration images (first of DATA's training split), and prints top-1 on the
#       test split before, after pruning and after the method's own recovery.
#       METHOD is CRITERION or CRITERION+reconstruct (least-squares refit with
#       BatchNorm re-estimation); default: l1 random taylor thinet lasso
#       l1+reconstruct thinet+reconstruct lasso+reconstruct.
#   scripts/calib_prune.sh weights MODEL DATA [METHOD...]
#       one-shot unstructured pruning at 50/70/90% (global ranking) and 2:4, default
#       methods l1 (global magnitude) and obs (layer-wise OBS/SparseGPT).
#
# Environment: SHEARS (the binary; built from this checkout when unset), CALIB
# (calibration images, default 1024), THREADS (default 1), FACTORS (default
# "1.5 2"), RATIOS (default "0.5 0.7 0.9"), OBS_GLOBAL (1: OBS ranks globally too;
# default 0: the same sparsity in every layer, as SparseGPT). Output: one
# tab-separated line per run on stdout; the full JSON reports under $OUT (default
# /tmp/calib_prune). LIMIT=N uses only the first N training and test images (a
# shortened protocol: top-1 on N test images; N must be ≥ CALIB).
set -eu
mode=${1:?usage: calib_prune.sh structured|weights MODEL DATA [METHOD...]}
model=${2:?model}
data=${3:?data set}
shift 3
CALIB=${CALIB:-1024}
THREADS=${THREADS:-1}
OUT=${OUT:-/tmp/calib_prune}
mkdir -p "$OUT"
if [ -z "${SHEARS:-}" ]; then
	SHEARS=$OUT/shears
	go build -o "$SHEARS" ./cmd/shears
fi
name=$(basename "$model" .onnx)

# run TAG ARGS...: one prune run, its JSON report saved as $OUT/TAG.json.
run() {
	tag=$1
	shift
	nice -n 10 "$SHEARS" prune "$model" --finetune-epochs 0 --latency-runs 0 --threads "$THREADS" \
		--limit "${LIMIT:-0}" --out "$OUT/$tag.onnx" --json "$@" >"$OUT/$tag.log" 2>&1 || {
		echo "FAILED: $tag: $(grep -v '^{' "$OUT/$tag.log" | tail -1)" >&2
		return 1
	}
	grep '^{' "$OUT/$tag.log" >"$OUT/$tag.json"
}

# field JSON KEY: a metric (accuracies in %, "-" when absent).
field() {
	python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
k = sys.argv[2]
v = m.get(k)
if k == "ratio": print("%.3f" % (m["macs"] / m["slim_macs"]))
elif v is None: print("-")
elif k.startswith("accuracy"): print("%.2f" % (100 * v))
else: print(v)' "$1" "$2"
}

# ratio_for FACTOR: the channel ratio whose slimmed model has FACTOR× fewer MACs.
ratio_for() {
	python3 - "$1" "$SHEARS" "$model" "$OUT" <<'EOF'
import json, subprocess, sys
factor, shears, model, out = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def macs_factor(r):
    p = subprocess.run([shears, "prune", model, "--criterion", "l1", "--granularity", "filter", "--ratio", "%.4f" % r,
                        "--finetune-epochs", "0", "--latency-runs", "0", "--threads", "1", "--out", out + "/ratio.onnx", "--json"],
                       capture_output=True, text=True, check=True)
    line = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith("{")][-1]
    m = json.loads(line)["metrics"]
    return m["macs"] / m["slim_macs"]
lo, hi = 0.0, 0.9
for _ in range(9):
    mid = (lo + hi) / 2
    if macs_factor(mid) < factor:
        lo = mid
    else:
        hi = mid
print("%.4f" % hi)
EOF
}

printf 'model\tmethod\ttarget\tratio\tMACs fewer\ttop-1 dense\ttop-1 pruned\ttop-1 recovered\n'
case $mode in
structured)
	[ $# -gt 0 ] || set -- l1 random taylor thinet lasso l1+reconstruct thinet+reconstruct lasso+reconstruct
	for f in ${FACTORS:-1.5 2}; do
		r=$(ratio_for "$f")
		for m in "$@"; do
			crit=${m%+reconstruct}
			extra=""
			[ "$crit" = "$m" ] || extra=--reconstruct
			tag=$name-$m-$f
			run "$tag" --criterion "$crit" --granularity filter --ratio "$r" --data "$data" --calib "$CALIB" $extra || continue
			printf '%s\t%s\t%s×\t%s\t%s\t%s\t%s\t%s\n' "$name" "$m" "$f" "$r" "$(field "$OUT/$tag.json" ratio)" \
				"$(field "$OUT/$tag.json" accuracy_before)" "$(field "$OUT/$tag.json" accuracy_pruned)" "$(field "$OUT/$tag.json" accuracy_finetuned)"
		done
	done
	;;
weights)
	[ $# -gt 0 ] || set -- l1 obs
	for s in ${RATIOS:-0.5 0.7 0.9} 2:4; do
		for m in "$@"; do
			tag=$name-$m-$s
			if [ "$s" = 2:4 ]; then
				set_args="--granularity 2:4"
			elif [ "$m" = obs ] && [ "${OBS_GLOBAL:-0}" != 1 ]; then
				set_args="--granularity weight --ratio $s"
			else
				set_args="--granularity weight --ratio $s --global"
			fi
			# shellcheck disable=SC2086
			run "$tag" --criterion "$m" $set_args --data "$data" --calib "$CALIB" || continue
			printf '%s\t%s\t%s\t%s\t-\t%s\t%s\t-\n' "$name" "$m" "$s" "$(echo $set_args | sed 's/--granularity //; s/ --ratio / /')" \
				"$(field "$OUT/$tag.json" accuracy_before)" "$(field "$OUT/$tag.json" accuracy_pruned)"
		done
	done
	;;
*)
	echo "unknown mode $mode (structured, weights)" >&2
	exit 2
	;;
esac
