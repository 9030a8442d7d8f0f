from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainlab.errors import TrainlabError
from trainlab.report import plot_variant
from trainlab.report.plots import plot_confusion, plot_curves, plot_study_comparison

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


def test_plot_curves_writes_two_pngs(tmp_path: Path) -> None:
    paths = plot_curves(_history(), tmp_path / "plots")
    assert [p.name for p in paths] == ["accuracy.png", "loss.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC)
    assert not list((tmp_path / "plots").glob(".*.tmp"))  # atomic writes leave no temp files


def test_plot_curves_without_validation_values(tmp_path: Path) -> None:
    history = _history()
    history["val_loss"] = float("nan")
    assert len(plot_curves(history, tmp_path)) == 2


def test_plot_confusion(tmp_path: Path) -> None:
    path = plot_confusion([[3, 1], [0, 4]], ["a $cat$", "<b>x"], tmp_path / "c.png", "Confusion")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(TrainlabError, match="not 2x2"):
        plot_confusion([[1, 2, 3]], ["a", "b"], tmp_path / "d.png", "bad")


def test_plot_variant_writes_three_pngs(fake_run: Path) -> None:
    paths = plot_variant(fake_run / "base")
    assert [p.name for p in paths] == ["accuracy.png", "loss.png", "confusion.png"]
    assert all(p.parent == fake_run / "base" / "plots" and p.read_bytes().startswith(PNG_MAGIC) for p in paths)


def test_plot_variant_without_metrics(fake_run: Path) -> None:
    with pytest.raises(TrainlabError, match=r"history\.csv is missing"):
        plot_variant(fake_run / "plus-dropout")
    (fake_run / "plus-dropout" / "history.csv").write_text((fake_run / "base" / "history.csv").read_text())
    with pytest.raises(TrainlabError, match=r"metrics\.json is missing"):
        plot_variant(fake_run / "plus-dropout")


def test_plot_study_comparison_skips_unfinished(tmp_path: Path) -> None:
    rows = [
        {"name": "base", "test_accuracy": 0.8, "f1_macro": 0.79},
        {"name": "+l2", "test_accuracy": 0.825, "f1_macro": 0.82},
        {"name": "+dropout", "test_accuracy": None, "f1_macro": None},
    ]
    path = plot_study_comparison(rows, tmp_path / "comparison.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
