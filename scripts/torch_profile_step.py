"""PyTorch CPU profile of one resnet20 training step (batch 128, 2 threads):
time per step, then torch.profiler's table of ops by self CPU time over 5
steps. BENCHMARKS.md's per-op comparison with shears comes from it.

usage: /usr/bin/python3 scripts/torch_profile_step.py"""
import sys, torch, torch.nn as nn, time
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import MODELS
torch.set_num_threads(2)
m = MODELS['resnet20'](); m.train()
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(128,1,28,28); y = torch.randint(0,10,(128,))
lf = nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); l = lf(m(x), y); l.backward(); opt.step()
for _ in range(5): step()
t=time.perf_counter()
for _ in range(10): step()
print("step ms", (time.perf_counter()-t)/10*1e3)
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(5): step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
