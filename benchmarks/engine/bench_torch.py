#!/usr/bin/python3
"""PyTorch side of `npm run bench:engine`: times one model in one mode and prints one JSON line.

Usage: /usr/bin/python3 benchmarks/engine/bench_torch.py '{"model": "resnet18", "mode": "train",
  "batch": 128, "threads": 2, "steps": 3, "warmup": 2, "channelsLast": true, "bf16": false}'

The models are written out here layer by layer to match duiad's (src/models/resnet.ts and the
small CNN in benchmarks/engine/bench.ts): same shapes, bias-free convolutions before batch
norms, SGD with momentum 0.9 and weight decay 5e-4.
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(h))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, cin = [], 64
        for s, cout in enumerate([64, 128, 256, 512]):
            for b in range(2):
                blocks.append(BasicBlock(cin, cout, 2 if s > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        h = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(h.mean((2, 3)))


class SmallCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, cin = [], 3
        for cout in [32, 64, 128, 256]:
            layers += [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    model = ResNet18() if cfg["model"] == "resnet18" else SmallCnn()
    fmt = torch.channels_last if cfg["channelsLast"] else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(cfg["batch"], 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (cfg["batch"],))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def infer_step():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
            return model(x).float().sum().item()

    if cfg["mode"] == "train":
        model.train()
        step = train_step
    else:
        model.eval()
        step = infer_step
    for _ in range(cfg["warmup"]):
        step()
    start = time.perf_counter()
    for _ in range(cfg["steps"]):
        step()
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "imagesPerSecond": cfg["batch"] * cfg["steps"] / seconds,
        "secondsPerStep": seconds / cfg["steps"],
        "peakRssMiB": peak_kib / 1024,
        "threads": torch.get_num_threads(),
        "version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
