"""Helpers shared by the model families."""

from __future__ import annotations


def scaled(channels: int, width: float) -> int:
    """A channel count or hidden size under the width multiplier: ``max(1, round(channels * width))``."""
    return max(1, round(channels * width))
