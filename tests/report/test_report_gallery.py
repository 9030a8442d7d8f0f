"""Example galleries: which examples are shown, and that the PNG shows them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from trainlab.data import TensorSplit
from trainlab.report.gallery import most_confident_mistakes, plot_misclassified, plot_samples

CLASSES = ["a", "b"]
COLORS = {"red": (255, 0, 0), "green": (0, 160, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


def _split() -> TensorSplit:
    """Four 8×8 images of one colour each: red and green are class a, blue and yellow class b."""
    images = torch.stack([torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, 8, 8)
                          for rgb in COLORS.values()])
    return TensorSplit(images.contiguous(), torch.tensor([0, 0, 1, 1]), tuple(f"{name}.png" for name in COLORS))


def _predictions() -> pd.DataFrame:
    # red: a predicted b with 0.9; green: a predicted a; blue: b predicted a with 0.6; yellow: b predicted a with 0.7
    return pd.DataFrame({
        "index": [0, 1, 2, 3], "id": [f"{name}.png" for name in COLORS],
        "true": ["a", "a", "b", "b"], "predicted": ["b", "a", "a", "a"],
        "p_a": [0.1, 0.8, 0.6, 0.7], "p_b": [0.9, 0.2, 0.4, 0.3],
    })


def test_mistakes_are_ranked_by_the_probability_of_the_wrong_answer() -> None:
    mistakes = most_confident_mistakes(_predictions(), CLASSES, per_class=5)
    assert mistakes["a"]["id"].tolist() == ["red.png"] and mistakes["a"]["confidence"].tolist() == [0.9]
    assert mistakes["b"]["id"].tolist() == ["yellow.png", "blue.png"]  # 0.7 before 0.6
    assert most_confident_mistakes(_predictions(), CLASSES, per_class=1)["b"]["id"].tolist() == ["yellow.png"]


def test_the_misclassified_gallery_shows_the_mistakes_only(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    path = plot_misclassified(_split(), _predictions(), CLASSES, tmp_path / "m.png", "mistakes", per_class=2)
    assert pixel_count(path, "#ff0000", 30) > 1000 and pixel_count(path, "#ffff00", 30) > 1000
    assert pixel_count(path, "#0000ff", 30) > 1000
    assert pixel_count(path, "#00a000", 30) == 0  # green was classified right


def test_the_sample_gallery_draws_every_class(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    path = plot_samples(_split(), CLASSES, tmp_path / "s.png", per_class=2)
    for color in ("#ff0000", "#00a000", "#0000ff", "#ffff00"):
        assert pixel_count(path, color, 30) > 1000, color
