"""DataBundle bookkeeping: counts, shapes and channel statistics."""

from __future__ import annotations

import json

import pytest
import torch

from trainlab.data import DataBundle, SkippedFile, TensorSplit


def make_bundle(train_images: torch.Tensor) -> DataBundle:
    n = train_images.shape[0]
    labels = torch.arange(n) % 2
    small = TensorSplit(train_images[:2].clone(), torch.tensor([0, 1]))
    return DataBundle(
        train=TensorSplit(train_images, labels),
        val=small,
        test=small,
        classes=["a", "b"],
        skipped=[SkippedFile("a/bad.jpg", "unreadable image")],
        source="test",
    )


def test_tensor_split_validates() -> None:
    with pytest.raises(ValueError, match="uint8"):
        TensorSplit(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels"):
        TensorSplit(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))
    assert len(TensorSplit.empty(3, 8, 8)) == 0


def test_counts_shape_and_summary() -> None:
    images = torch.randint(0, 256, (10, 3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    bundle = make_bundle(images)
    assert bundle.counts() == {"train": {"a": 5, "b": 5}, "val": {"a": 1, "b": 1}, "test": {"a": 1, "b": 1}}
    assert bundle.image_shape == (3, 5, 7)
    summary = json.loads(json.dumps(bundle.summary()))
    assert summary["skipped"] == [{"path": "a/bad.jpg", "reason": "unreadable image"}]
    assert summary["image_shape"] == [3, 5, 7] and summary["classes"] == ["a", "b"]


def test_channel_stats_match_a_direct_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("trainlab.data.bundle._STATS_CHUNK_VALUES", 3 * 5 * 7 * 3)  # force several chunks
    images = torch.randint(0, 256, (10, 3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    mean, std = make_bundle(images).channel_stats()
    x = images.double() / 255
    assert mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(x.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)


def test_channel_stats_of_constant_images() -> None:
    images = torch.full((4, 2, 3, 3), 51, dtype=torch.uint8)
    mean, std = make_bundle(images).channel_stats()
    assert mean == pytest.approx([0.2, 0.2]) and std == pytest.approx([0.0, 0.0], abs=1e-6)
