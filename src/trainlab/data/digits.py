"""The ``digits`` dataset: scikit-learn's bundled 1,797 real 8×8 handwritten digits, so trainlab runs with no data.

``load_digits`` reads a file shipped inside scikit-learn (nothing is downloaded). Pixel values 0..16 are scaled to
uint8 0..255 and resized with bilinear interpolation to ``data.image_size``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from trainlab.config import DataConfig
from trainlab.data.bundle import DataBundle, TensorSplit
from trainlab.data.registry import DATASETS
from trainlab.data.splits import stratified_split

CLASSES = [str(digit) for digit in range(10)]


def digits_tensors(image_size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as uint8 [N, channels, image_size, image_size] and int64 labels [N]."""
    data = load_digits()
    pixels = torch.from_numpy(np.asarray(data.images, dtype=np.float32)).unsqueeze(1) * (255.0 / 16.0)
    if image_size != pixels.shape[-1]:
        pixels = F.interpolate(
            pixels, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=False
        )
    images = pixels.round().clamp(0, 255).to(torch.uint8)
    if channels == 3:
        images = images.expand(-1, 3, -1, -1).contiguous()
    return images, torch.from_numpy(np.asarray(data.target, dtype=np.int64))


def _first_per_class(labels: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first ``limit`` samples of each class, in dataset order."""
    keep = np.concatenate([np.flatnonzero(labels == label)[:limit] for label in np.unique(labels)])
    return np.sort(keep)


@DATASETS.register("digits", packaged=True)
def build_digits(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """Digits split by ``cfg.split`` with ``cfg.split_seed``; ``cache_dir`` is unused (building takes milliseconds)."""
    del cache_dir
    images, labels = digits_tensors(cfg.image_size, cfg.channels)
    source_rows = torch.arange(len(labels))  # the row of load_digits() each image is, for predictions.csv
    if cfg.max_per_class:
        keep = torch.from_numpy(_first_per_class(labels.numpy(), cfg.max_per_class))
        images, labels, source_rows = images[keep], labels[keep], source_rows[keep]
    train, val, test = stratified_split(
        labels.numpy(), val=cfg.split.val, test=cfg.split.test, seed=cfg.split_seed, classes=CLASSES
    )

    def tensor_split(picked: np.ndarray) -> TensorSplit:
        index = torch.from_numpy(picked)
        ids = tuple(f"load_digits row {row}" for row in source_rows[index].tolist())
        return TensorSplit(images.index_select(0, index), labels.index_select(0, index), ids)

    return DataBundle(
        train=tensor_split(train),
        val=tensor_split(val),
        test=tensor_split(test),
        classes=list(CLASSES),
        skipped=[],
        source="digits (scikit-learn load_digits, 1,797 8x8 images)",
    )
