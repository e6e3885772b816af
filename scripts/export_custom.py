#!/usr/bin/python3
"""Export small hand-built PyTorch models to ONNX, for shears' import, ONNX
Runtime and pruning tests.

    /usr/bin/python3 scripts/export_custom.py [--out .cache/custom]

torchvision's architectures (scripts/export_torchvision.py) are built from a
few idioms. These models are not: each one strings together export patterns
that real models use and torchvision does not, so that the tests meet them:

    nobias_meanpool        convs without bias, x.mean((2, 3)) as ReduceMean,
                           a Linear without bias (MatMul)
    se_flatten_mlp         SiLU (Sigmoid·Mul), squeeze-excitation gated by
                           Hardsigmoid, adaptive 2×2 pool flattened into an
                           MLP (each channel owns 4 features), LeakyReLU
    concat_grouped_proj    ReLU6 (Clip), Concat of two branches into a grouped
                           conv, a 1×1 projection shortcut, AveragePool
    conv1d_amax_matmul     1-D convs with BatchNorm1d, GELU (Erf), x.amax(2)
                           as ReduceMax, x @ W with a raw parameter
    dilated_dw_prenorm     input normalisation in the graph (Sub, Div),
                           HardSwish, a dilated depthwise conv, adaptive max
                           pool, Sigmoid output
    dense_concat_softmax   DenseNet-style chained Concats, Reshape, Softmax
    prelu_elu_logsoftmax   per-channel PReLU on maps and on features, ELU,
                           SELU, Softplus, x.sum((2, 3)) as ReduceSum,
                           LogSoftmax
    unet_convtranspose     a small U-Net: strided convs down, ConvTranspose
                           (2×2/2, and 3×3/2 with output_padding) up, skip
                           Concats, a per-pixel 3-class output
    instnorm_reflect       InstanceNorm (affine) in a residual block with
                           reflection padding (a ConstantOfShape subgraph)
    bert_encoder           two BERT encoder layers on N×16×32 token embeddings,
                           written as Hugging Face's: Q/K/V Linears split into
                           4 heads (view, permute), Q·Kᵀ, softmax, the heads
                           merged back, post-LayerNorm residuals, GELU MLP
    fpn_interpolate        an FPN: F.interpolate (Resize) nearest ×2 added to
                           lateral 1×1 convs, bilinear to a size= taken from
                           the tensor (a shape subgraph), bilinear with
                           align_corners, bicubic

Each model gets random weights (seeded) and BatchNorm statistics from a few
random batches, and is written twice at opset 13 with a dynamic batch axis:
NAME.onnx (eval export, BatchNorm folded) and NAME_bn.onnx (BatchNorm kept,
training=TrainingMode.PRESERVE). Existing files are kept. The folder is a
cache: never commit it. Uses Debian's python3-torch; takes a few seconds.
"""

import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class NoBiasMeanPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10, bias=False)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu(self.b2(self.c2(x)))
        return self.fc(x.mean((2, 3)))


class SEFlattenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 12, 3, padding=1)
        self.c2 = nn.Conv2d(12, 24, 3, padding=1)
        self.se1 = nn.Conv2d(24, 6, 1)
        self.se2 = nn.Conv2d(6, 24, 1)
        self.fc1 = nn.Linear(24 * 4, 40)
        self.fc2 = nn.Linear(40, 10)

    def forward(self, x):
        x = F.silu(self.c1(x))
        x = self.c2(x)
        w = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(x, 1)))))
        x = F.adaptive_avg_pool2d(F.relu(x * w), 2)
        return self.fc2(F.leaky_relu(self.fc1(torch.flatten(x, 1)), 0.1))


class ConcatGroupedProj(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.a = nn.Conv2d(16, 8, 1)
        self.b = nn.Conv2d(16, 8, 3, padding=1)
        self.g = nn.Conv2d(16, 32, 3, padding=1, groups=4)
        self.proj = nn.Conv2d(16, 32, 1)
        self.head = nn.Conv2d(32, 10, 1)

    def forward(self, x):
        x = F.relu6(self.bn(self.c1(x)))
        y = torch.cat([self.a(x), self.b(x)], 1)
        z = F.avg_pool2d(F.relu(self.g(y) + self.proj(x)), 2)
        return self.head(z).mean((2, 3))


class Conv1dAmaxMatmul(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 16, 5, padding=2)
        self.bn = nn.BatchNorm1d(16)
        self.c2 = nn.Conv1d(16, 24, 3, stride=2, padding=1)
        self.w = nn.Parameter(torch.randn(24, 10) * 0.1)

    def forward(self, x):
        x = F.relu(self.bn(self.c1(x)))
        return F.gelu(self.c2(x)).amax(2) @ self.w


class DilatedDWPrenorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(3, 24, 3, padding=1, bias=False)
        self.b0 = nn.BatchNorm2d(24)
        self.dw = nn.Conv2d(24, 24, 3, padding=2, dilation=2, groups=24, bias=False)
        self.b1 = nn.BatchNorm2d(24)
        self.pw = nn.Conv2d(24, 40, 1, bias=False)
        self.b2 = nn.BatchNorm2d(40)
        self.fc = nn.Linear(40, 5)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        x = F.hardswish(self.b0(self.c0(x)))
        x = F.relu(self.b1(self.dw(x)))
        x = F.adaptive_max_pool2d(self.b2(self.pw(x)), 1).flatten(1)
        return torch.sigmoid(self.fc(x))


class DenseConcatSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(1, 8, 3, padding=1)
        self.l1 = nn.Sequential(nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 6, 3, padding=1))
        self.l2 = nn.Sequential(nn.BatchNorm2d(14), nn.ReLU(), nn.Conv2d(14, 6, 3, padding=1))
        self.t = nn.Sequential(nn.BatchNorm2d(20), nn.ReLU(), nn.Conv2d(20, 10, 1), nn.AvgPool2d(2))
        self.fc = nn.Linear(10 * 14 * 14, 10)

    def forward(self, x):
        x0 = self.c0(x)
        x1 = torch.cat([x0, self.l1(x0)], 1)
        x2 = torch.cat([x1, self.l2(x1)], 1)
        y = self.t(x2)
        return F.softmax(self.fc(y.reshape(y.shape[0], -1)), 1)


class PReluEluLogSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.p1 = nn.PReLU(16)
        self.c2 = nn.Conv2d(16, 24, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(24)
        self.c3 = nn.Conv2d(24, 32, 3, padding=1)
        self.fc1 = nn.Linear(32, 20)
        self.p2 = nn.PReLU(20)
        self.fc2 = nn.Linear(20, 10)

    def forward(self, x):
        x = self.p1(self.c1(x))
        x = F.elu(self.bn(self.c2(x)))
        x = F.softplus(F.selu(self.c3(x)))
        x = x.sum((2, 3)) / (x.shape[2] * x.shape[3])
        return F.log_softmax(self.fc2(self.p2(self.fc1(x))), 1)


class UNetConvTranspose(nn.Module):
    def __init__(self):
        super().__init__()
        self.e1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.e2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(16, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24), nn.ReLU())
        self.u2 = nn.ConvTranspose2d(24, 16, 3, stride=2, padding=1, output_padding=1)
        self.d2 = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.u1 = nn.ConvTranspose2d(16, 8, 2, stride=2, bias=False)
        self.d1 = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        b2 = self.d2(torch.cat([F.relu(self.u2(c)), b], 1))
        return self.head(self.d1(torch.cat([self.u1(b2), a], 1)))


class FPNInterpolate(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.c2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.c3 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.l3 = nn.Conv2d(32, 12, 1)
        self.l2 = nn.Conv2d(16, 12, 1)
        self.l1 = nn.Conv2d(8, 12, 1)
        self.smooth = nn.Conv2d(12, 12, 3, padding=1)
        self.head = nn.Conv2d(36, 4, 1)

    def forward(self, x):
        a = self.c1(x)
        b = self.c2(a)
        c = self.c3(b)
        p3 = self.l3(c)
        p2 = self.l2(b) + F.interpolate(p3, scale_factor=2, mode="nearest")
        p1 = self.l1(a) + F.interpolate(p2, size=a.shape[-2:], mode="bilinear", align_corners=False)
        p1 = self.smooth(p1)
        up2 = F.interpolate(p2, scale_factor=2, mode="bilinear", align_corners=True)
        up3 = F.interpolate(p3, scale_factor=4, mode="bicubic", align_corners=False)
        return self.head(torch.cat([p1, up2, up3], 1))


class InstNormReflect(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 5, padding=2)
        self.c2 = nn.Conv2d(16, 24, 3, stride=2, padding=1)
        self.n2 = nn.InstanceNorm2d(24, affine=True)
        self.r1 = nn.Conv2d(24, 24, 3)
        self.rn1 = nn.InstanceNorm2d(24, affine=True)
        self.r2 = nn.Conv2d(24, 24, 3, padding=1)
        self.rn2 = nn.InstanceNorm2d(24, affine=True)
        self.out = nn.Conv2d(24, 3, 1)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.relu(self.n2(self.c2(x)))
        y = F.relu(self.rn1(self.r1(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
        x = x + self.rn2(self.r2(y))
        return torch.tanh(self.out(x))


class BertLayer(nn.Module):
    """One post-norm BERT encoder layer written as Hugging Face's is:
    view(b, t, heads, d).permute(0, 2, 1, 3) per projection."""

    def __init__(self, e=32, heads=4, hidden=64):
        super().__init__()
        self.h, self.d = heads, e // heads
        self.q, self.k, self.v = nn.Linear(e, e), nn.Linear(e, e), nn.Linear(e, e)
        self.o = nn.Linear(e, e)
        self.n1 = nn.LayerNorm(e)
        self.fc1, self.fc2 = nn.Linear(e, hidden), nn.Linear(hidden, e)
        self.n2 = nn.LayerNorm(e)

    def heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.d).permute(0, 2, 1, 3)

    def forward(self, x):
        b, t, e = x.shape
        q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / self.d ** 0.5, dim=-1)
        c = (p @ v).permute(0, 2, 1, 3).reshape(b, t, e)
        x = self.n1(x + self.o(c))
        return self.n2(x + self.fc2(F.gelu(self.fc1(x))))


class BertEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(BertLayer(), BertLayer())
        self.cls = nn.Linear(32, 5)

    def forward(self, x):
        return self.cls(self.layers(x).mean(1))


MODELS = {
    "nobias_meanpool": (NoBiasMeanPool, (3, 32, 32)),
    "se_flatten_mlp": (SEFlattenMLP, (1, 28, 28)),
    "concat_grouped_proj": (ConcatGroupedProj, (3, 16, 16)),
    "conv1d_amax_matmul": (Conv1dAmaxMatmul, (4, 50)),
    "dilated_dw_prenorm": (DilatedDWPrenorm, (3, 20, 20)),
    "dense_concat_softmax": (DenseConcatSoftmax, (1, 28, 28)),
    "prelu_elu_logsoftmax": (PReluEluLogSoftmax, (3, 24, 24)),
    "unet_convtranspose": (UNetConvTranspose, (1, 28, 28)),
    "fpn_interpolate": (FPNInterpolate, (3, 32, 32)),
    "instnorm_reflect": (InstNormReflect, (3, 24, 24)),
    "bert_encoder": (BertEncoder, (16, 32)),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "custom"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for i, (name, (cls, shape)) in enumerate(MODELS.items()):
        paths = [os.path.join(args.out, name + s + ".onnx") for s in ("", "_bn")]
        if all(os.path.exists(p) for p in paths):
            continue
        torch.manual_seed(i)
        m = cls()
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)):
                nn.init.uniform_(mod.weight, 0.5, 1.5)
                nn.init.uniform_(mod.bias, -0.2, 0.2)
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.momentum = None  # cumulative average over the batches below
            if isinstance(mod, nn.PReLU):
                nn.init.uniform_(mod.weight, 0.05, 0.5)
        m.train()
        with torch.no_grad():
            for _ in range(4):
                m(torch.randn(16, *shape))
        m.eval()
        x = torch.randn(1, *shape)
        for path, mode in zip(paths, (torch.onnx.TrainingMode.EVAL, torch.onnx.TrainingMode.PRESERVE)):
            tmp = path + ".tmp"
            torch.onnx.export(m, x, tmp, opset_version=13, training=mode,
                              do_constant_folding=mode == torch.onnx.TrainingMode.EVAL,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
            os.replace(tmp, path)
        print("exported", name)


if __name__ == "__main__":
    main()
