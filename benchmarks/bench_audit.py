"""The audit's cost on a ResNet-style model, as a ratio to one plain forward + backward pass.

The audit runs exactly one forward and one backward pass (counted); the rest is per-layer
statistics and singular values. Prints times and the ratio.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from initlab.torch import audit


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.shortcut = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet(width: int = 32) -> nn.Module:
    """A ResNet-18-shaped network for 32x32 images: 4 stages of 2 blocks."""
    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c = width
    for stage, mult in enumerate((1, 2, 4, 8)):
        for block in range(2):
            layers.append(Block(c, width * mult, 2 if stage > 0 and block == 0 else 1))
            c = width * mult
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def main() -> None:
    torch.manual_seed(0)
    model = resnet()
    x = torch.randn(32, 3, 32, 32)
    n_params = sum(p.numel() for p in model.parameters())

    def plain():
        model.zero_grad()
        model(x).sum().backward()

    plain()
    t = time.perf_counter()
    for _ in range(3):
        plain()
    t_plain = (time.perf_counter() - t) / 3
    audit(model, x)
    t = time.perf_counter()
    rep = audit(model, x)
    t_audit = time.perf_counter() - t
    print(
        f"ResNet-style model: {n_params / 1e6:.2f}M parameters, {len(rep.layers)} audited layers, "
        f"batch (32, 3, 32, 32), torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"passes used by the audit: {rep.passes['forward']} forward, {rep.passes['backward']} backward")
    print(f"one forward + backward pass: {1000 * t_plain:8.1f} ms")
    print(f"initlab audit:               {1000 * t_audit:8.1f} ms  ({t_audit / t_plain:.2f}x one pass)")
    print(f"findings: {len(rep.findings)}; first: {rep.findings[0]['message'] if rep.findings else '-'}")


if __name__ == "__main__":
    main()
