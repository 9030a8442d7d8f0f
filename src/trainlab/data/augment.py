"""Batched, on-device augmentation: every sample gets its own random crop/flip, all in one grid_sample call.

Per-sample torchvision transforms run on the CPU one image at a time; here the random parameters of a whole batch are
drawn at once and turned into one affine matrix per sample, so the work happens where the batch already is (the GPU
when the data is device-resident).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.config import AugmentationConfig

LUMA = (0.299, 0.587, 0.114)


class BatchAugment(nn.Module):
    """Random-resized-crop + horizontal flip (one ``affine_grid``/``grid_sample``) and random grayscale.

    Expects a float batch [N, C, H, W] in [0, 1]. The crop covers an area fraction drawn uniformly from
    ``crop_scale`` with an aspect ratio drawn log-uniformly from ``crop_ratio``, at a uniform random position, and is
    resized back to H×W. The ratio is relative to the image's own aspect (the same as in pixels for the square images
    trainlab makes), so ``crop_scale=(1, 1), crop_ratio=(1, 1)`` is the whole image for any shape. A crop side that
    would not fit is clamped to the image side (torchvision retries instead). In ``eval()`` mode this is the identity.
    """

    def __init__(self, cfg: AugmentationConfig) -> None:
        super().__init__()
        self.crop_scale = (float(cfg.crop_scale[0]), float(cfg.crop_scale[1]))
        self.log_ratio = (math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]))
        self.hflip = float(cfg.hflip)
        self.grayscale = float(cfg.grayscale)

    def extra_repr(self) -> str:
        ratio = tuple(round(math.exp(v), 4) for v in self.log_ratio)
        return f"crop_scale={self.crop_scale}, crop_ratio={ratio}, hflip={self.hflip}, grayscale={self.grayscale}"

    def _uniform(
        self, n: int, low: float, high: float, like: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, device=like.device, dtype=torch.float32)

    def crop_flip_theta(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """[N, 2, 3] affine matrices mapping output to input coordinates (normalized to [-1, 1])."""
        n = x.shape[0]
        area = self._uniform(n, *self.crop_scale, x, generator)
        ratio = torch.exp(self._uniform(n, *self.log_ratio, x, generator))
        # Crop sides as fractions w, h of the image sides, with w·h = area and w / h = ratio.
        w = torch.sqrt(area * ratio).clamp(max=1.0)
        h = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (1.0 - w) * (2.0 * torch.rand(n, generator=generator, device=x.device) - 1.0)
        cy = (1.0 - h) * (2.0 * torch.rand(n, generator=generator, device=x.device) - 1.0)
        flip = torch.rand(n, generator=generator, device=x.device) < self.hflip
        sign = torch.where(flip, -1.0, 1.0)
        zero = torch.zeros_like(w)
        theta = torch.stack([torch.stack([w * sign, zero, cx], dim=1), torch.stack([zero, h, cy], dim=1)], dim=1)
        return theta.to(x.dtype)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training or x.shape[0] == 0:
            return x
        if not x.is_floating_point():
            raise TypeError(f"BatchAugment expects a float batch in [0, 1], got {x.dtype}")
        theta = self.crop_flip_theta(x, generator)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        if self.grayscale > 0 and x.shape[1] == 3:
            pick = torch.rand(x.shape[0], generator=generator, device=x.device) < self.grayscale
            weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            gray = (x * weights).sum(dim=1, keepdim=True).expand_as(x)
            x = torch.where(pick.view(-1, 1, 1, 1), gray, x)
        return x


def prepare_batch(
    images: torch.Tensor,
    mean: torch.Tensor | Sequence[float],
    std: torch.Tensor | Sequence[float],
    augment: BatchAugment | None,
    channels_last: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 batch → float in [0, 1] → augment (if given) → ``(x - mean) / std`` → channels_last (if asked)."""
    x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    if augment is not None:
        x = augment(x, generator)
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
    x = (x - mean_t) / std_t
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
