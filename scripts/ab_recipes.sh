#!/usr/bin/env bash
# Behaviour A/B of two shears builds on the ZOO.md pruning protocols: both
# binaries train lenet5 the same way, then run every recipe in recipes/
# (shortened: --limit, one fine-tune epoch, no latency timing) with the same
# seed and threads; the script compares the written model files byte for
# byte and the JSON reports with provenance, timings, output paths and the
# flag-override record left out.
#
#   scripts/ab_recipes.sh OLD_BINARY NEW_BINARY [LIMIT]
#
# Build the old one from a commit with e.g.
#   git worktree add /tmp/old COMMIT && (cd /tmp/old && go build -o /tmp/shears-old ./cmd/shears)
# Prints one line per model file (SAME or DIFFERENT) and per recipe
# (IDENTICAL-JSON or the differing keys); exits 1 on any difference.
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") limit=${3:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p models
status=0
same() { if cmp -s "$1" "$2"; then echo "SAME $(basename "$1")"; else echo "DIFFERENT $(basename "$1")"; status=1; fi; }
for v in old new; do
	bin=$old; [ $v = new ] && bin=$new
	"$bin" train --model lenet5 --data mnist --epochs 2 --limit 2000 --seed 3 --threads 2 --out $v-lenet5.onnx --quiet >/dev/null
done
same old-lenet5.onnx new-lenet5.onnx
cp old-lenet5.onnx models/lenet5.onnx
for m in lenet300 resnet20 vgg-s mobilenetv2-s; do "$old" export $m --seed 1 --out models/$m.onnx >/dev/null; done
for recipe in "$root"/recipes/*.yaml; do
	r=$(basename "$recipe" .yaml)
	for v in old new; do
		bin=$old; [ $v = new ] && bin=$new
		"$bin" prune --recipe "$recipe" --limit "$limit" --finetune-epochs 1 --seed 3 --threads 2 \
			--out "$v-$r-{ratio}.onnx" --latency-runs 0 --json --quiet 2>"$v-$r.err" | tail -1 >"$v-$r.json" || true
	done
	for f in old-"$r"-*.onnx; do [ -e "$f" ] && same "$f" "new-${f#old-}"; done
	python3 - "$r" <<'PY' || status=1
import json, sys
r = sys.argv[1]
def load(v):
    try:
        return json.load(open(f"{v}-{r}.json"))
    except ValueError:
        return {"error": open(f"{v}-{r}.err").read().strip()}
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("provenance", "seconds", "version", "outputs", "overrides")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    if isinstance(x, str):
        return x.replace("old-", "").replace("new-", "")
    return x
a, b = strip(load("old")), strip(load("new"))
if a == b:
    print(f"{r}: IDENTICAL-JSON")
    sys.exit(0)
for k in sorted(set(a) | set(b)):
    if a.get(k) != b.get(k):
        print(f"{r}: DIFF {k}: {str(a.get(k))[:200]} | {str(b.get(k))[:200]}")
sys.exit(1)
PY
done
exit $status
