#!/usr/bin/python3
"""Training throughput and peak memory, shears vs PyTorch CPU, side by side
in one run on the same machine.

For each model: `shears train` on the first N MNIST images for one epoch
(its JSON images_per_second counts training steps only, evaluation and the
first, buffer-allocating step excluded) and scripts/torch_train_speed.py on
random batches of the same shape (5 warm-up steps excluded); batch 128, the same thread count. Peak resident memory of each
process comes from wait4. Prints a Markdown table with the ratio
shears/PyTorch (> 1 means shears is faster).

usage: scripts/bench_train.py [--models lenet5,resnet20] [--threads 2] [--images 12800] [--repeat 2]"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_rss(cmd, env=None):
    """Like run but measures the peak RSS of the child through wait4."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), err.decode()))
    return json.loads(out.decode().strip().splitlines()[-1]), ru.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=12800)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    shears = os.path.join(ROOT, "shears")
    subprocess.check_call(["go", "build", "-o", shears, "./cmd/shears"], cwd=ROOT)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    print("| model | shears images/s | PyTorch images/s | ratio | shears peak RSS MiB | PyTorch peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for m in a.models.split(","):
        best_s, best_t, rss_s, rss_t = 0, 0, 0, 0
        for _ in range(a.repeat):
            # Alternate the two so that machine noise hits both alike.
            js, rs = run_rss([shears, "train", "--model", m, "--data", "mnist", "--limit", str(a.images), "--epochs", "1",
                              "--batch", "128", "--threads", str(a.threads), "--out", "/tmp/bench_train_%s.onnx" % m,
                              "--json", "--quiet"])
            jt, rt = run_rss(["/usr/bin/python3", os.path.join(HERE, "torch_train_speed.py"), m, "--batch", "128",
                              "--threads", str(a.threads), "--steps", str(max(20, a.images // 128 // 2))], env)
            best_s, best_t = max(best_s, js["images_per_second"]), max(best_t, jt["images_per_second"])
            rss_s, rss_t = max(rss_s, rs), max(rss_t, rt)
        print("| %s | %.0f | %.0f | %.2f× | %.0f | %.0f |" % (m, best_s, best_t, best_s / best_t, rss_s, rss_t))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
