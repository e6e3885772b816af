#!/usr/bin/python3
"""Export torchvision models to ONNX with random weights, for shears' import tests.

    /usr/bin/python3 scripts/export_torchvision.py [--out .cache/torchvision] [MODEL ...]
    /usr/bin/python3 scripts/export_torchvision.py --models a,b,c --out DIR

Without models it exports the default nine (MODELS), which CI runs. A second,
opt-in set (EXTRA: architectures the default set does not cover: MobileNetV3's
hard-swish and squeeze-excitation, MnasNet, RegNet X/Y, ResNeXt's grouped
convs, Wide ResNet, AlexNet, SqueezeNet 1.0, ShuffleNetV2 x0.5, EfficientNet-B1,
Inception v3 at 299x299, ConvNeXt's LayerNorm and GELU, the latter also at
opset 17 as convnext_tiny_opset17, with LayerNormalization; the LR-ASPP and
DeepLabV3 segmentation models on MobileNetV3, whose output is a 21-class map
at the input's size) is exported with

    /usr/bin/python3 scripts/export_torchvision.py --models extra --out .cache/torchvision-extra
    go test -run TestTorchvisionORT ./onnx/ -v
    go test -run TestTorchvisionMaskedEqualsSlimmed ./prune/ -v

(--models takes model names and the set names "default", "extra", "transformers" and "all").
Models of the extra set without BatchNorm (alexnet, squeezenet1_0,
convnext_tiny) get no _bn file: it would be the same graph.
It is a separate set because it takes a few more minutes to export and test
on two cores and needs about 1.6 GB; .ci/run exports both, and the tests read
both folders.

Uses Debian's python3-torch (1.13) and python3-torchvision (0.14). Every model
gets random weights (torchvision's own initialisation, seeded), random BatchNorm
scale and shift, and BatchNorm statistics re-estimated from random batches (a
few forward passes in train mode with momentum=None, a cumulative average), so
that the outputs are not degenerate. Each model is written twice, at opset 13
with a dynamic batch axis (input "input" N×3×224×224, N×3×299×299 for
inception_v3, output "output" N×1000, N×21×224×224 for the segmentation
models):

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

EXTRA = {
    "mobilenet_v3_small": lambda: tvm.mobilenet_v3_small(weights=None),
    "mobilenet_v3_large": lambda: tvm.mobilenet_v3_large(weights=None),
    "mnasnet0_5": lambda: tvm.mnasnet0_5(weights=None),
    "regnet_x_400mf": lambda: tvm.regnet_x_400mf(weights=None),
    "regnet_y_400mf": lambda: tvm.regnet_y_400mf(weights=None),
    "resnext50_32x4d": lambda: tvm.resnext50_32x4d(weights=None),
    "wide_resnet50_2": lambda: tvm.wide_resnet50_2(weights=None),
    "alexnet": lambda: tvm.alexnet(weights=None),
    "squeezenet1_0": lambda: tvm.squeezenet1_0(weights=None),
    "shufflenet_v2_x0_5": lambda: tvm.shufflenet_v2_x0_5(weights=None),
    "efficientnet_b1": lambda: tvm.efficientnet_b1(weights=None),
    "inception_v3": lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=True),
    "convnext_tiny": lambda: tvm.convnext_tiny(weights=None),
    # ConvNeXt again at opset 17, where PyTorch writes LayerNormalization
    # instead of its ReduceMean/Sub/Pow/Sqrt/Div decomposition.
    "convnext_tiny_opset17": lambda: tvm.convnext_tiny(weights=None),
    # Segmentation: dilated backbones, ASPP / LR-ASPP heads, bilinear
    # upsampling to the input's size (Resize with sizes from Shape).
    "lraspp_mobilenet_v3_large": lambda: tvm.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None),
    "deeplabv3_mobilenet_v3_large": lambda: tvm.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, aux_loss=False),
}

# Transformers: attention heads and MLP hidden units as dependency groups.
TRANSFORMERS = {
    "vit_b_16": lambda: tvm.vit_b_16(weights=None),
    "swin_t": lambda: tvm.swin_t(weights=None),
}

ALL = {**MODELS, **EXTRA, **TRANSFORMERS}
SETS = {"default": list(MODELS), "extra": list(EXTRA), "transformers": list(TRANSFORMERS), "all": list(ALL)}

# Input side per model (224 otherwise): Inception v3 is built for 299x299.
SIZE = {"inception_v3": 299}

# Opset per model (13 otherwise).
OPSET = {"convnext_tiny_opset17": 17}


def randomise(model, seed, size):
    """Random BN affine parameters, then BN statistics from random batches.

    ConvNeXt's layer scales start at 1e-6, which makes each residual branch
    all but vanish from the output (pruning it would change nothing the
    tests can see); they get random values in [0.5, 1.5) like BN scales,
    from their own generator so that the default models are unaffected.
    """
    with torch.no_grad():
        gs = torch.Generator().manual_seed(seed + 2)
        for m in model.modules():
            p = getattr(m, "layer_scale", None)
            if isinstance(p, torch.nn.Parameter):
                p.copy_(0.5 + torch.rand(p.shape, generator=gs))
            # ViT's classifier starts at zero, which makes its output the
            # same for every input: give it random weights too.
            if isinstance(m, torch.nn.Linear) and not m.weight.any():
                m.weight.copy_(0.02 * torch.randn(m.weight.shape, generator=gs))
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
                model(torch.randn(8, 3, size, size, generator=g))
    model.eval()


def export(name, out, seed):
    torch.manual_seed(seed)
    model = ALL[name]()
    size = SIZE.get(name, 224)
    randomise(model, seed, size)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))
    kw = dict(
        input_names=["input"],
        output_names=["output"],
        # The transformers are written at batch 1: they expand their class
        # token (ViT) or build their window masks (Swin) from the batch
        # size, which shears folds only when the batch is fixed.
        dynamic_axes=None if name in TRANSFORMERS else {"input": {0: "N"}, "output": {0: "N"}},
        opset_version=OPSET.get(name, 13),
        do_constant_folding=True,
    )
    variants = [("", torch.onnx.TrainingMode.EVAL), ("_bn", torch.onnx.TrainingMode.PRESERVE)]
    if name not in MODELS and not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        # Without BatchNorm the _bn export is the same graph: the extra set
        # skips it (the default set keeps its files as they always were).
        variants = variants[:1]
    for suffix, training in variants:
        path = os.path.join(out, name + suffix + ".onnx")
        if os.path.exists(path):
            print(f"{path}: exists, kept")
            continue
        tmp = path + ".tmp"
        t = time.time()
        if name in TRANSFORMERS:
            # Under no_grad nn.MultiheadAttention takes its fused fast path
            # (aten::_native_multi_head_attention), which has no ONNX export.
            torch.onnx.export(model, x, tmp, training=training, **kw)
        else:
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
    ap.add_argument("--models", dest="models_list", default="", help="comma-separated models or sets (default, extra, all)")
    ap.add_argument("models", nargs="*", help="models to export (default: the default set): " + ", ".join(MODELS))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    names = []
    requested = a.models + [m.strip() for m in a.models_list.split(",") if m.strip()]
    for n in requested or ["default"]:
        for m in SETS.get(n, [n]):
            if m not in ALL:
                sys.exit(f"unknown model {m!r}; known: {', '.join(ALL)} (sets: {', '.join(SETS)})")
            if m not in names:
                names.append(m)
    os.makedirs(a.out, exist_ok=True)
    for n in names:
        export(n, os.path.abspath(a.out), a.seed)


if __name__ == "__main__":
    main()
