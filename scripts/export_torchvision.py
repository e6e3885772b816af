#!/usr/bin/python3
"""Export torchvision models to ONNX with random weights, for shears' import tests.

    /usr/bin/python3 scripts/export_torchvision.py [--out .cache/torchvision] [MODEL ...]

Uses Debian's python3-torch (1.13) and python3-torchvision (0.14). Every model
gets random weights (torchvision's own initialisation, seeded), random BatchNorm
scale and shift, and BatchNorm statistics re-estimated from random batches (a
few forward passes in train mode with momentum=None, a cumulative average), so
that the outputs are not degenerate. Each model is written twice, at opset 13
with a dynamic batch axis (input "input" N×3×224×224, output "output" N×1000):

    NAME.onnx      the default eval export (the exporter folds BatchNorm into Conv)
    NAME_bn.onnx   BatchNormalization kept (training=TrainingMode.PRESERVE, model in eval)

Existing files are kept (delete them to export again). The folder is a cache:
never commit it. shears' tests only read it (onnx/torchvision_test.go).
"""

import argparse
import os
import sys
import time
import warnings

import torch
import torchvision.models as tvm

MODELS = {
    "resnet18": lambda: tvm.resnet18(weights=None),
    "resnet50": lambda: tvm.resnet50(weights=None),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(weights=None),
    "vgg11_bn": lambda: tvm.vgg11_bn(weights=None),
    "densenet121": lambda: tvm.densenet121(weights=None),
    "squeezenet1_1": lambda: tvm.squeezenet1_1(weights=None),
    "googlenet": lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=True),
    "shufflenet_v2_x1_0": lambda: tvm.shufflenet_v2_x1_0(weights=None),
    "efficientnet_b0": lambda: tvm.efficientnet_b0(weights=None),
}


def randomise(model, seed):
    """Random BN affine parameters, then BN statistics from random batches."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average
        if bns:
            model.train()
            for _ in range(4):
                model(torch.randn(8, 3, 224, 224, generator=g))
    model.eval()


def export(name, out, seed):
    torch.manual_seed(seed)
    model = MODELS[name]()
    randomise(model, seed)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(seed + 1))
    kw = dict(
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        opset_version=13,
        do_constant_folding=True,
    )
    for suffix, training in (("", torch.onnx.TrainingMode.EVAL), ("_bn", torch.onnx.TrainingMode.PRESERVE)):
        path = os.path.join(out, name + suffix + ".onnx")
        if os.path.exists(path):
            print(f"{path}: exists, kept")
            continue
        tmp = path + ".tmp"
        t = time.time()
        with torch.no_grad():
            torch.onnx.export(model, x, tmp, training=training, **kw)
        os.replace(tmp, path)
        print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB in {time.time() - t:.1f} s")


def main():
    # PRESERVE warns about constant folding for models in training mode; ours are in eval.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "torchvision"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("models", nargs="*", help="models to export (default: all): " + ", ".join(MODELS))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    names = a.models or list(MODELS)
    for n in names:
        if n not in MODELS:
            sys.exit(f"unknown model {n!r}; known: {', '.join(MODELS)}")
    os.makedirs(a.out, exist_ok=True)
    for n in names:
        export(n, os.path.abspath(a.out), a.seed)


if __name__ == "__main__":
    main()
