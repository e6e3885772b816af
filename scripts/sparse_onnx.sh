#!/bin/sh
# sparse_onnx.sh: a 98%-sparse lenet300 (global magnitude, one shot, no
# fine-tuning) written dense and with ONNX sparse initializers: file sizes,
# MNIST test accuracy of both, and ONNX Runtime's outputs for the sparse
# file against the dense one. Writes results/sparse-onnx/.
#
#   scripts/sparse_onnx.sh [DENSE_MODEL]   (default /work/dense/lenet300.onnx)
set -eu
model=${1:-/work/dense/lenet300.onnx}
out=results/sparse-onnx
mkdir -p "$out"
bin=$(mktemp -d)/shears
go build -o "$bin" ./cmd/shears
run() { echo "\$ shears $*" >>"$out/run.log"; nice -n 10 "$bin" "$@" >>"$out/run.log" 2>&1; }
: >"$out/run.log"
prune="prune $model --criterion l1 --granularity weight --global --ratio 0.98 --finetune-epochs 0 --latency-runs 0 --data mnist --threads 1 --quiet"
run $prune --out "$out/lenet300-98-dense.onnx"
run $prune --out "$out/lenet300-98-sparse.onnx" --sparse-initializers
run eval "$out/lenet300-98-dense.onnx" --data mnist --threads 1 --quiet
run eval "$out/lenet300-98-sparse.onnx" --data mnist --threads 1 --quiet
dense=$(stat -c %s "$out/lenet300-98-dense.onnx")
sparse=$(stat -c %s "$out/lenet300-98-sparse.onnx")
orig=$(stat -c %s "$model")
echo "\$ SHEARS_SPARSE_MODEL=$out/lenet300-98-sparse.onnx go test ./onnx -run TestSparseInitializersORT -v -count=1" >>"$out/run.log"
SHEARS_SPARSE_MODEL="$PWD/$out/lenet300-98-sparse.onnx" nice -n 10 go test ./onnx -run TestSparseInitializersORT -v -count=1 >>"$out/run.log" 2>&1
{
	echo "file	bytes"
	echo "$model (trained, dense)	$orig"
	echo "lenet300-98-dense.onnx	$dense"
	echo "lenet300-98-sparse.onnx	$sparse"
	awk -v d="$dense" -v s="$sparse" 'BEGIN { printf "ratio dense/sparse	%.2f\n", d / s }'
} >"$out/sizes.tsv"
rm -f "$out"/lenet300-98-*.onnx
cat "$out/sizes.tsv"
