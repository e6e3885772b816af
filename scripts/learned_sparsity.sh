#!/usr/bin/env bash
# Learned and reversible sparsity, and distillation (issue 16): runs the
# recipes below from the trained dense models and writes one JSON report
# and log per run into results/learned-sparsity/, then summary.md.
#
#   scripts/learned_sparsity.sh DENSE_DIR [RUN...]
#
# DENSE_DIR holds lenet300.onnx, lenet5.onnx (and resnet20.onnx,
# mobilenetv2-s.onnx for the resnet runs), made by `shears train`. RUN
# names pick some of the runs (default: all that fit a shared machine;
# see the table). Runs use one thread at nice 10.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dense=$(realpath "$1"); shift
out=$root/results/learned-sparsity
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/shears
(cd "$root" && go build -o "$bin" ./cmd/shears)
cd "$work"
mkdir -p models
for m in "$dense"/*.onnx; do ln -s "$m" models/; done

# name | recipe | extra flags
runs=(
	"dns-lenet300-s1|dns-lenet300|--seed 1"
	"dns-lenet300-s2|dns-lenet300|--seed 2"
	"sfp-lenet5|sfp-lenet5|"
	"ft-l1-filter-lenet5-0.5|sfp-lenet5|--schedule oneshot --criterion l1 --finetune-epochs 3"
	"distill-l1-filter-lenet5-0.5|sfp-lenet5|--schedule oneshot --criterion l1 --finetune-epochs 3 --distill"
	"dns-lenet5-10ep|dns-lenet5|--finetune-epochs 10"
	"sparsevd-lenet300-12ep|sparsevd-lenet300|"
)
want=" $* "
for spec in "${runs[@]}"; do
	IFS='|' read -r name recipe extra <<<"$spec"
	if [ $# -gt 0 ] && [[ $want != *" $name "* ]]; then continue; fi
	echo "== $name: shears prune --recipe recipes/$recipe.yaml $extra" >&2
	# shellcheck disable=SC2086
	nice -n 10 "$bin" prune --recipe "$root/recipes/$recipe.yaml" $extra --threads 1 --latency-runs 0 \
		--out "out/$name.onnx" --json 2>"$out/$name.log" | tail -1 >"$out/$name.json"
	# Every saved model reloads and evaluates to the reported accuracy.
	nice -n 10 "$bin" eval "out/$name.onnx" --data mnist --threads 1 --json 2>/dev/null | tail -1 >"$out/$name.eval.json" || true
done

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = []
for f in sorted(os.listdir(out)):
    if not f.endswith(".json") or f.endswith(".eval.json"):
        continue
    name = f[:-5]
    try:
        r = json.loads(open(os.path.join(out, f)).read().strip().splitlines()[-1])
    except (IndexError, ValueError):
        continue
    m = r["metrics"]
    ev = ""
    try:
        e = json.loads(open(os.path.join(out, name + ".eval.json")).read().strip().splitlines()[-1])
        ev = "%.2f" % (100 * e["test_accuracy"])
    except (OSError, IndexError, ValueError, KeyError):
        pass
    acc = m.get("accuracy_finetuned") or m.get("accuracy_pruned")
    rows.append("| %s | %s | %s | %.2f | %.2f | %.2f | %s | %.1f× | %.2f× | %s |" % (
        name, r["schedule"], r["recovery"], 100 * m["accuracy_before"], 100 * acc, 100 * (1 - acc), ev,
        m["compression"], m.get("speedup") or 1, "; ".join(r["warnings"]) or "-"))
with open(os.path.join(out, "summary.md"), "w") as fh:
    fh.write("| run | schedule | recovery | dense top-1 % | pruned top-1 % | error % | reloaded top-1 % | params / non-zero | MACs speed-up | warnings |\n")
    fh.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    fh.write("\n".join(rows) + "\n")
print(open(os.path.join(out, "summary.md")).read())
PY
