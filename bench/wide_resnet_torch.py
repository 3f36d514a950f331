"""bench/wide_resnet_torch.py: the Wide-ResNet of ntklab.wide_resnet in PyTorch, float64, for
bench/wide_resnet.lua to time in the same sitting (Debian's python3-torch; a benchmark only, never
a dependency of ntklab).

    /usr/bin/python3 bench/wide_resnet_torch.py K B P REPS THREADS [channels_last]

Prints "best_seconds S" for one training step (forward, squared loss, backward) at P samples of
3 x 32 x 32, the fastest of REPS after a warm-up step. Same layers as ntklab: a first 3x3 conv to
16 channels, three groups of B pre-activation blocks (relu, conv 3x3, relu, conv 3x3, plus the
input or a 1x1 projection with the block's stride), global average pooling, dense to 1 output;
no conv biases, no batch norm."""
import sys
import time

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        h = self.conv2(torch.relu(self.conv1(torch.relu(x))))
        return h + (x if self.proj is None else self.proj(x))


class WideResNet(nn.Module):
    def __init__(self, k, b, outputs=1):
        super().__init__()
        layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)]
        cin = 16
        for group, width in enumerate([16 * k, 32 * k, 64 * k]):
            for block in range(b):
                stride = 2 if (block == 0 and group > 0) else 1
                layers.append(Block(cin, width, stride))
                cin = width
        self.body = nn.Sequential(*layers)
        self.dense = nn.Linear(cin, outputs)

    def forward(self, x):
        return self.dense(self.body(x).mean(dim=(2, 3)))


def main():
    k, b, P, reps, threads = (int(a) for a in sys.argv[1:6])
    channels_last = len(sys.argv) > 6 and sys.argv[6] == "channels_last"
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = WideResNet(k, b).double()
    x = torch.randn(P, 3, 32, 32, dtype=torch.float64)
    y = torch.zeros(P, 1, dtype=torch.float64)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    def step():
        net.zero_grad(set_to_none=False)
        loss = 0.5 * ((net(x) - y) ** 2).sum() / P
        loss.backward()

    step()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    print("best_seconds", best)


if __name__ == "__main__":
    main()
