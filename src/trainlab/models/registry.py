"""The model registry, in its own module so that model families can register without importing the package."""

from __future__ import annotations

from torch import nn

from trainlab.registry import Registry

MODELS: Registry[nn.Module] = Registry[nn.Module]("model")
