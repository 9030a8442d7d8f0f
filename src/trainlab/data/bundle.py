"""What every dataset builder returns: uint8 image tensors per split, class names, and what was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

# Bytes of float64 work per chunk in channel_stats: 16M values = 128 MiB, whatever the dataset size.
_STATS_CHUNK_VALUES = 1 << 24


@dataclass(frozen=True, eq=False)
class TensorSplit:
    """One split: ``images`` uint8 [N, C, H, W] and ``labels`` int64 [N] (indices into ``DataBundle.classes``)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.ndim != 1:
            raise ValueError(f"labels must be int64 [N], got {self.labels.dtype} {tuple(self.labels.shape)}")
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.shape[0]} labels")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def empty(cls, channels: int, height: int, width: int) -> TensorSplit:
        """A zero-length split (e.g. validation when ``split.val`` is 0)."""
        return cls(torch.empty((0, channels, height, width), dtype=torch.uint8), torch.empty(0, dtype=torch.int64))


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not used, with why (``path`` is relative to the data root)."""

    path: str
    reason: str


@dataclass(frozen=True, eq=False)
class DataBundle:
    """The data of one study: built once, shared by every variant."""

    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    classes: list[str]
    skipped: list[SkippedFile] = field(default_factory=list)
    source: str = ""

    def splits(self) -> dict[str, TensorSplit]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def counts(self) -> dict[str, dict[str, int]]:
        """split → class → number of images."""
        result: dict[str, dict[str, int]] = {}
        for name, split in self.splits().items():
            per_class = torch.bincount(split.labels.cpu(), minlength=len(self.classes)).tolist()
            result[name] = {cls: int(n) for cls, n in zip(self.classes, per_class, strict=True)}
        return result

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        channels, height, width = self.train.images.shape[1:]
        return int(channels), int(height), int(width)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and (population) std of the TRAIN split, in [0, 1] units.

        Summed in float64 chunks so that a large split never needs a float copy of itself.
        """
        images = self.train.images
        if len(self.train) == 0:
            raise ValueError("channel_stats needs a non-empty train split")
        channels, height, width = self.image_shape
        chunk = max(1, _STATS_CHUNK_VALUES // (channels * height * width))
        total = torch.zeros(channels, dtype=torch.float64, device=images.device)
        total_sq = torch.zeros_like(total)
        for start in range(0, images.shape[0], chunk):
            block = images[start : start + chunk].to(torch.float64)
            total += block.sum(dim=(0, 2, 3))
            total_sq += block.square().sum(dim=(0, 2, 3))
        count = images.shape[0] * height * width
        mean = total / count / 255.0
        var = (total_sq / count / (255.0 * 255.0) - mean.square()).clamp_min(0.0)
        return [float(v) for v in mean.cpu()], [float(v) for v in var.sqrt().cpu()]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (goes into the run record and the report)."""
        mean, std = self.channel_stats() if len(self.train) else ([], [])
        return {
            "source": self.source,
            "classes": list(self.classes),
            "counts": self.counts(),
            "image_shape": list(self.image_shape),
            "skipped": [{"path": item.path, "reason": item.reason} for item in self.skipped],
            "mean": mean,
            "std": std,
        }
