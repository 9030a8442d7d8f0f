"""Helpers of the style tests (imported by name: the test folders are not packages): tiny random VGG weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainlab.models.vgg import CFGS, make_layers

TINY = 1 / 16  # 4 channels first, 32 last


def vgg_state(name: str = "vgg11", width: float = TINY, batch_norm: bool = False, seed: int = 0,
              in_channels: int = 3) -> dict[str, torch.Tensor]:
    """A random VGG ``features`` state keyed ``features.N.*`` (BatchNorm running stats made non-trivial)."""
    torch.manual_seed(seed)
    features = make_layers(CFGS[name], in_channels, width, batch_norm)
    for module in features.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return {f"features.{key}": value for key, value in features.state_dict().items()}


def save_state(state: dict[str, Any], path: Path) -> Path:
    torch.save(state, path)
    return path
