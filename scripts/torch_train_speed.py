"""Training throughput of PyTorch CPU on a zoo model: SGD steps on batches
of 28×28 images, warm-up excluded. Prints one JSON line.

usage: torch_train_speed.py MODEL [--batch 128] [--threads 2] [--steps 60]"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn

from torch_models import MODELS

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--steps", type=int, default=60)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = MODELS[a.model]()
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
x = torch.randn(a.batch, 1, 28, 28)
y = torch.randint(0, 10, (a.batch,))
loss_fn = nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


for _ in range(5):
    step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"framework": "pytorch " + torch.__version__, "model": a.model, "batch": a.batch, "threads": a.threads,
                  "images_per_second": a.steps * a.batch / dt,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
