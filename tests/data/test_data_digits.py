"""The bundled scikit-learn digits."""

from __future__ import annotations

from pathlib import Path

import torch

from trainlab.config import DataConfig
from trainlab.data import build_dataset


def test_digits_rgb_32(tmp_path: Path) -> None:
    bundle = build_dataset(DataConfig(source="digits", image_size=32, channels=3), tmp_path)
    splits = bundle.splits()
    assert sum(len(split) for split in splits.values()) == 1797
    assert [len(split) for split in splits.values()] == [1257, 270, 270]
    assert bundle.classes == [str(d) for d in range(10)]
    assert bundle.image_shape == (3, 32, 32)
    everything = torch.cat([split.images for split in splits.values()])
    assert everything.dtype == torch.uint8
    assert int(everything.min()) == 0 and int(everything.max()) == 255
    assert torch.equal(everything[:, 0], everything[:, 2])
    assert all(n > 0 for per_class in bundle.counts().values() for n in per_class.values())
    assert bundle.skipped == []


def test_digits_native_size_gray_and_max_per_class(tmp_path: Path) -> None:
    bundle = build_dataset(DataConfig(source="digits", image_size=8, channels=1, max_per_class=20), tmp_path)
    assert bundle.image_shape == (1, 8, 8)
    assert sum(len(split) for split in bundle.splits().values()) == 200
    assert set(torch.unique(bundle.train.images).tolist()) <= {round(v * 255 / 16) for v in range(17)}
