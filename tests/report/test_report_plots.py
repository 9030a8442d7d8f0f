from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from trainlab.errors import TrainlabError
from trainlab.report import plot_variant
from trainlab.report.plots import BEST_COLOR, TRAIN_COLOR, VAL_COLOR, plot_confusion, plot_curves, plot_study_comparison

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DARKEST_BLUE = "#08306b"  # the top of matplotlib's "Blues" colormap


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "train_loss": [1.0, 0.6, 0.4],
            "train_accuracy": [0.5, 0.7, 0.8],
            "val_loss": [1.1, 0.7, 0.9],
            "val_accuracy": [0.45, 0.65, 0.6],
            "lr": [0.1, 0.1, 0.01],
        }
    )


def test_plot_curves_draws_train_validation_and_the_best_epoch(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    paths = plot_curves(_history(), tmp_path / "plots")
    assert [p.name for p in paths] == ["accuracy.png", "loss.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC)
        assert Image.open(path).size[1] > 300  # a 6.4×4 inch figure at 100 dpi, cropped to its content
        # both curves (hundreds of pixels each) and the best-epoch line and star
        assert pixel_count(path, TRAIN_COLOR) > 400 and pixel_count(path, VAL_COLOR) > 400
        assert pixel_count(path, BEST_COLOR) > 100
    assert not list((tmp_path / "plots").glob(".*.tmp"))  # atomic writes leave no temp files


def test_plot_curves_without_validation_values(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    history = _history()
    history["val_loss"] = float("nan")
    _, loss = plot_curves(history, tmp_path)
    assert pixel_count(loss, TRAIN_COLOR) > 400
    assert pixel_count(loss, VAL_COLOR) < 150  # only the legend's sample line: no validation curve
    assert pixel_count(loss, BEST_COLOR) == 0  # no best epoch without validation


def test_plot_confusion(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    path = plot_confusion([[3, 1], [0, 4]], ["a $cat$", "<b>x"], tmp_path / "c.png", "Confusion")
    assert path.read_bytes().startswith(PNG_MAGIC)
    # the cell holding the peak (4) is filled with the darkest blue: about a quarter of the heatmap
    assert pixel_count(path, DARKEST_BLUE) > 10_000
    empty = plot_confusion([[0, 0], [0, 0]], ["a", "b"], tmp_path / "e.png", "Nothing")
    assert pixel_count(empty, DARKEST_BLUE) < 1000  # no dark cell, only the colour bar's edge
    with pytest.raises(TrainlabError, match="not 2x2"):
        plot_confusion([[1, 2, 3]], ["a", "b"], tmp_path / "d.png", "bad")


def test_plot_variant_writes_three_pngs(fake_run: Path, pixel_count: Callable[..., int]) -> None:
    paths = plot_variant(fake_run / "base")
    assert [p.name for p in paths] == ["accuracy.png", "loss.png", "confusion.png"]
    assert all(p.parent == fake_run / "base" / "plots" and p.read_bytes().startswith(PNG_MAGIC) for p in paths)
    accuracy, _, confusion = paths
    assert pixel_count(accuracy, TRAIN_COLOR) > 400 and pixel_count(accuracy, VAL_COLOR) > 400
    assert pixel_count(confusion, DARKEST_BLUE) > 1000  # the diagonal of the base's matrix is dark


def test_plot_variant_without_metrics(fake_run: Path) -> None:
    with pytest.raises(TrainlabError, match=r"history\.csv is missing"):
        plot_variant(fake_run / "plus-dropout")
    (fake_run / "plus-dropout" / "history.csv").write_text((fake_run / "base" / "history.csv").read_text())
    with pytest.raises(TrainlabError, match=r"metrics\.json is missing"):
        plot_variant(fake_run / "plus-dropout")


def test_plot_study_comparison_skips_unfinished(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    rows = [
        {"name": "base", "test_accuracy": 0.8, "f1_macro": 0.79},
        {"name": "+l2", "test_accuracy": 0.825, "f1_macro": 0.82},
        {"name": "+dropout", "test_accuracy": None, "f1_macro": None},
    ]
    path = plot_study_comparison(rows, tmp_path / "comparison.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    two = plot_study_comparison(rows[:2], tmp_path / "two.png")
    # the unfinished variant adds no bars: the chart of three rows holds the same bars as the one of two
    bars = pixel_count(two, TRAIN_COLOR)
    assert bars > 1000 and pixel_count(path, TRAIN_COLOR) == pytest.approx(bars, rel=0.2)
