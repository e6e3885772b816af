#!/usr/bin/python3
"""Write the small ONNX models of prune/testdata/shapes: shape subgraphs that
read a pruned value's channel count (PyTorch exports), and the habits of
models converted from TensorFlow by tf2onnx (built with onnx.helper, since
tf2onnx is not installed here).

    /usr/bin/python3 scripts/export_shapes.py [--out prune/testdata/shapes]

PyTorch cases, each written twice: NAME.onnx with a dynamic batch axis and
NAME_static.onnx with the batch fixed to 1 (the form shipped models often
have, where the import folds the whole shape subgraph into a constant that
holds the channel count):

    interp_size        issue 13's minimal case: u = F.interpolate(l,
                       size=h.shape[2:]) concatenated with h; the sizes are
                       Concat(Slice(Shape(l), 0:2), Slice(Shape(h), 2:4))
    view_channels      x.view(x.size(0), x.size(1), -1).mean(2) and
                       x.reshape(x.shape[0], -1) (Reshape to shapes built
                       from Shape(x))
    expand_as          a 1-channel gate and a per-channel gate expanded to
                       another value's shape (Expand(g, Shape(x)))
    const_of_shape     torch.full_like(x, 0.5) and zero channels padded on
                       with x.new_zeros((N, 4, H, W)) (ConstantOfShape)

tf2onnx-style cases (opset 13, NHWC input [N,H,W,C] with N symbolic as
tf2onnx writes it, "unk__N"; tf_*_static.onnx with N = 1):

    tf_resnet          Transpose(0,3,1,2) of the input, convs without bias
                       followed by BiasAdd as an Add of a C×1×1 constant,
                       explicit Pad before a stride-2 conv, a shortcut that
                       is max-pooled and zero-padded on the channels with
                       Concat(x, ConstantOfShape(...)), an NHWC stretch
                       (Transpose(0,2,3,1), per-channel Mul and Add on the
                       last axis, Transpose back), and two outputs: a Dense
                       head (ReduceMean over H, W of NHWC, MatMul + Add) and
                       an NHWC map (Transpose(0,2,3,1) before the output)

    tf_nhwc_concat     two branches transposed to NHWC and concatenated on the
                       last axis (Concat axis -1), a BiasAdd on the last axis,
                       a Pad of H and W in NHWC, a depthwise conv after
                       transposing back, an NHWC output

Weights are random (seeded); the files are small and committed, so the tests
do not depend on a cache. Running the script again rewrites them.
"""

import argparse
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper


class InterpSize(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        h = F.relu(self.c1(x))
        l = F.relu(self.c2(h))
        u = F.interpolate(l, size=h.shape[2:], mode="bilinear", align_corners=False)
        return self.c3(torch.cat([u, h], 1))


class ViewChannels(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, padding=1)
        self.c2 = nn.Conv2d(12, 8, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(12, 8)
        self.fc2 = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x):
        a = F.relu(self.c1(x))
        m = a.view(a.size(0), a.size(1), -1).mean(2)  # N×12
        b = F.relu(self.c2(a)) * torch.sigmoid(self.fc1(m)).sum(1, keepdim=True).view(-1, 1, 1, 1)
        return self.fc2(b.reshape(b.shape[0], -1))


class ExpandAs(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.spatial = nn.Conv2d(16, 1, 1)
        self.se = nn.Conv2d(16, 16, 1)
        self.c2 = nn.Conv2d(16, 6, 3, padding=1)

    def forward(self, x):
        a = F.relu(self.c1(x))
        s = torch.sigmoid(self.spatial(a)).expand_as(a)  # N×1×H×W → N×16×H×W
        c = torch.sigmoid(self.se(a.mean((2, 3), keepdim=True))).expand_as(a)  # N×16×1×1 → N×16×H×W
        return self.c2(a * s + a * c)


class ConstOfShape(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, padding=1)
        self.c2 = nn.Conv2d(12, 16, 3, padding=1)
        self.c3 = nn.Conv2d(16, 5, 1)

    def forward(self, x):
        a = F.relu(self.c1(x))
        a = a * torch.full_like(a, 0.5) + 0.25
        pad = a.new_zeros((a.shape[0], 4, a.shape[2], a.shape[3]))
        y = F.relu(self.c2(a)) + torch.cat([a, pad], 1)
        return self.c3(y)


TORCH = {
    "interp_size": (InterpSize, (3, 16, 16)),
    "view_channels": (ViewChannels, (3, 16, 16)),
    "expand_as": (ExpandAs, (3, 12, 12)),
    "const_of_shape": (ConstOfShape, (3, 10, 10)),
}


def export_torch(out):
    torch.set_num_threads(1)
    for i, (name, (cls, shape)) in enumerate(TORCH.items()):
        torch.manual_seed(100 + i)
        m = cls().eval()
        x = torch.randn(1, *shape)
        for suffix, dyn in (("", {"input": {0: "N"}, "output": {0: "N"}}), ("_static", None)):
            path = os.path.join(out, name + suffix + ".onnx")
            torch.onnx.export(m, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                              dynamic_axes=dyn)
            print("exported", path)


def tf_resnet(batch):
    """A tf2onnx-style residual network on NHWC input; batch None: symbolic."""
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def const(name, a):
        inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def w(name, *shape):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return const(name, (rng.standard_normal(shape) / np.sqrt(fan)).astype(np.float32))

    def node(op, ins, name, **attrs):
        nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    def conv_bias(x, name, cin, cout, k, stride=1, pads=None):
        y = node("Conv", [x, w(name + "/kernel", cout, cin, k, k)], name + "/Conv2D",
                 kernel_shape=[k, k], strides=[stride, stride], pads=pads or [0, 0, 0, 0])
        b = const(name + "/bias", (0.3 * rng.standard_normal((cout, 1, 1))).astype(np.float32))
        return node("Add", [y, b], name + "/BiasAdd")

    n = "unk__27" if batch is None else batch
    x = "input_1"
    t = node("Transpose", [x], "model/conv1/Conv2D__6", perm=[0, 3, 1, 2])
    a = node("Relu", [conv_bias(t, "model/conv1", 3, 8, 3, pads=[1, 1, 1, 1])], "model/relu1")
    # Explicit padding before a stride-2 conv ("SAME" padding of an even
    # input, which TensorFlow pads at the end).
    p = node("Pad", [a, const("model/pad/paddings", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))], "model/pad")
    b = node("Relu", [conv_bias(p, "model/conv2", 8, 16, 3, stride=2)], "model/relu2")
    b = conv_bias(b, "model/conv3", 16, 16, 3, pads=[1, 1, 1, 1])
    # The shortcut: max-pooled to 8×8 and zero-padded from 8 to 16 channels.
    s = node("MaxPool", [a], "model/shortcut/pool", kernel_shape=[2, 2], strides=[2, 2])
    shp = node("Shape", [s], "model/shortcut/Shape")
    nb = node("Slice", [shp, const("model/shortcut/s0", np.array([0], np.int64)),
                        const("model/shortcut/s1", np.array([1], np.int64))], "model/shortcut/batch")
    zs = node("Concat", [nb, const("model/shortcut/rest", np.array([8, 8, 8], np.int64))], "model/shortcut/zshape", axis=0)
    z = node("ConstantOfShape", [zs], "model/shortcut/zeros",
             value=helper.make_tensor("value", TensorProto.FLOAT, [1], [0.0]))
    sc = node("Concat", [s, z], "model/shortcut/pad", axis=1)
    r = node("Relu", [node("Add", [b, sc], "model/add")], "model/relu3")
    # An NHWC stretch: per-channel scale and shift on the last axis.
    h = node("Transpose", [r], "model/bn/transpose", perm=[0, 2, 3, 1])
    h = node("Mul", [h, const("model/bn/scale", (1 + 0.2 * rng.standard_normal(16)).astype(np.float32))], "model/bn/mul")
    h = node("Add", [h, const("model/bn/offset", (0.2 * rng.standard_normal(16)).astype(np.float32))], "model/bn/add")
    r2 = node("Transpose", [h], "model/bn/transpose_back", perm=[0, 3, 1, 2])
    # Dense head on the NHWC mean.
    gap = node("ReduceMean", [h], "model/gap", axes=[1, 2], keepdims=0)
    logits = node("MatMul", [gap, w("model/dense/kernel", 16, 10)], "model/dense/MatMul")
    node("Add", [logits, const("model/dense/bias", (0.1 * rng.standard_normal(10)).astype(np.float32))], "logits")
    # A map output in NHWC.
    m = conv_bias(r2, "model/head", 16, 4, 1)
    node("Transpose", [m], "map", perm=[0, 2, 3, 1])
    graph = helper.make_graph(
        nodes, "tf_resnet",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, 16, 16, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [n, 10]),
         helper.make_tensor_value_info("map", TensorProto.FLOAT, [n, 8, 8, 4])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def tf_nhwc_concat(batch):
    """Branches concatenated channels-last; batch None: symbolic."""
    rng = np.random.default_rng(8)
    inits, nodes = [], []

    def const(name, a):
        inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def w(name, *shape):
        fan = int(np.prod(shape[1:]))
        return const(name, (rng.standard_normal(shape) / np.sqrt(fan)).astype(np.float32))

    def node(op, ins, name, **attrs):
        nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    n = "unk__31" if batch is None else batch
    t = node("Transpose", ["input_1"], "model/a/Conv2D__4", perm=[0, 3, 1, 2])
    branches = []
    for name, c in (("a", 8), ("b", 6)):
        y = node("Conv", [t, w("model/%s/kernel" % name, c, 3, 3, 3), const("model/%s/bias" % name, (0.2 * rng.standard_normal(c)).astype(np.float32))],
                 "model/%s/Conv2D" % name, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        y = node("Relu", [y], "model/%s/Relu" % name)
        branches.append(node("Transpose", [y], "model/%s/Relu__nhwc" % name, perm=[0, 2, 3, 1]))
    cat = node("Concat", branches, "model/concat", axis=-1)
    cat = node("Add", [cat, const("model/concat/bias", (0.2 * rng.standard_normal(14)).astype(np.float32))], "model/concat/BiasAdd")
    y = node("Relu", [cat], "model/concat/Relu")
    y = node("Pad", [y, const("model/dw/pad/paddings", np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64))], "model/dw/pad")
    y = node("Transpose", [y], "model/dw/Conv2D__9", perm=[0, 3, 1, 2])
    y = node("Conv", [y, w("model/dw/depthwise_kernel", 14, 1, 3, 3)], "model/dw/depthwise", kernel_shape=[3, 3], pads=[0, 0, 0, 0], group=14)
    y = node("Relu", [y], "model/dw/Relu")
    y = node("Conv", [y, w("model/pw/kernel", 5, 14, 1, 1), const("model/pw/bias", (0.2 * rng.standard_normal(5)).astype(np.float32))],
             "model/pw/Conv2D", kernel_shape=[1, 1])
    node("Transpose", [y], "output", perm=[0, 2, 3, 1])
    graph = helper.make_graph(
        nodes, "tf_nhwc_concat",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [n, 12, 12, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [n, 12, 12, 5])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "prune", "testdata", "shapes"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    export_torch(args.out)
    for name, build in (("tf_resnet", tf_resnet), ("tf_nhwc_concat", tf_nhwc_concat)):
        for suffix, batch in (("", None), ("_static", 1)):
            path = os.path.join(args.out, name + suffix + ".onnx")
            onnx.save(build(batch), path)
            print("wrote", path)


if __name__ == "__main__":
    main()
