"""The real dogs / food / vehicles course images (a sample of 100 per class)."""

from __future__ import annotations

from pathlib import Path

import torch

from trainlab.config import DataConfig
from trainlab.data import build_dataset


def test_course_images(cnn_dataset_dir: Path, tmp_path: Path) -> None:
    cfg = DataConfig(source="image_folder", path=cnn_dataset_dir, image_size=64, channels=3, max_per_class=100)
    bundle = build_dataset(cfg, tmp_path / "cache")
    assert bundle.classes == ["dogs", "food", "vehicles"]
    assert [len(split) for split in bundle.splits().values()] == [210, 45, 45]
    assert bundle.counts()["test"] == {"dogs": 15, "food": 15, "vehicles": 15}
    assert bundle.image_shape == (3, 64, 64) and bundle.train.images.dtype == torch.uint8
    assert bundle.skipped == []
    mean, std = bundle.channel_stats()
    assert all(0.2 < m < 0.8 for m in mean)
    assert all(0.1 < s < 0.5 for s in std)
