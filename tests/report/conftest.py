"""A fake run folder written by hand from the trainer's contract (no training involved)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from forecast_run import write_forecast_run

CLASSES = ["cat", "dog", "<b>x"]
SKIPPED_PATH = "raw/dog/broken_001.jpg"
# Test split: 14 cat, 13 dog, 13 "<b>x" = 40 images.
BASE_MATRIX = [[12, 1, 1], [2, 10, 1], [1, 2, 10]]  # 32 / 40 correct = 80.00 %
L2_MATRIX = [[12, 1, 1], [1, 11, 1], [1, 2, 10]]  # 33 / 40 correct = 82.50 %


def _per_class(matrix: list[list[int]]) -> dict[str, dict[str, Any]]:
    out = {}
    for i, name in enumerate(CLASSES):
        tp = matrix[i][i]
        predicted = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        precision, recall = tp / predicted, tp / support
        out[name] = {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall),
            "support": support,
        }
    return out


def metrics_payload(
    name: str, techniques: list[str], matrix: list[list[int]], train: float, val: float, params: int = 837
) -> dict[str, Any]:
    per_class = _per_class(matrix)
    total = sum(map(sum, matrix))
    return {
        "variant": name,
        "techniques": techniques,
        "params": params,
        "epochs_run": 4,
        "best_epoch": 2,
        "stopped_early": bool(techniques),
        "wall_time_s": 12.5,
        "train_images_per_s": 321.0,
        "classes": CLASSES,
        "train": {"accuracy": train, "loss": 0.21},
        "val": {"accuracy": val, "loss": 0.48},
        "test": {
            "accuracy": sum(matrix[i][i] for i in range(len(CLASSES))) / total,
            "loss": 0.5123,
            "precision_macro": sum(c["precision"] for c in per_class.values()) / len(CLASSES),
            "recall_macro": sum(c["recall"] for c in per_class.values()) / len(CLASSES),
            "f1_macro": sum(c["f1"] for c in per_class.values()) / len(CLASSES),
            "per_class": per_class,
            "confusion_matrix": matrix,
        },
    }


HISTORY = (
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr\n"
    "0,1.05,0.45,1.00,0.50,0.01\n"
    "1,0.70,0.68,0.75,0.66,0.01\n"
    "2,0.45,0.82,0.48,0.78,0.005\n"
    "3,0.21,0.95,0.55,0.76,0.005\n"
)


def write_fake_run(root: Path, base_matrix: list[list[int]] | None = None, name: str = "tiny study") -> Path:
    """base (80.00 %) and +l2 (82.50 %) finished, +dropout interrupted (folder without metrics.json)."""
    root.mkdir(parents=True, exist_ok=True)
    variants = [
        {"name": "base", "folder": "base", "techniques": []},
        {"name": "+l2", "folder": "plus-l2", "techniques": ["l2"]},
        {"name": "+dropout", "folder": "plus-dropout", "techniques": ["l2", "dropout"]},
    ]
    counts = {
        "train": {"cat": 70, "dog": 65, "<b>x": 66},
        "val": {"cat": 15, "dog": 14, "<b>x": 14},
        "test": {"cat": 14, "dog": 13, "<b>x": 13},
    }
    study = {
        "name": name,
        "description": "Regularization & friends on a tiny set",
        "mode": "cumulative",
        "base": "base",
        "variants": variants,
        "started": "2025-01-01T10:00:00",
        "finished": "2025-01-01T10:01:05",
        "wall_time_s": 65.0,
        "seed": 42,
        "versions": {
            "python": "3.11.9",
            "torch": "2.14.1",
            "lightning": "2.5.0",
            "torchmetrics": "1.6.0",
            "trainlab": "0.1.0",
        },
        "device": "cpu (2 threads)",
        "precision": "32-true",
        "data": {
            "source": "/data/tiny",
            "classes": CLASSES,
            "counts": counts,
            "image_shape": [3, 8, 8],
            "skipped": [{"path": SKIPPED_PATH, "reason": "cannot identify image file"}],
            "mean": [0.5, 0.4, 0.3],
            "std": [0.2, 0.2, 0.2],
        },
    }
    (root / "study.json").write_text(json.dumps(study), encoding="utf-8")
    (root / "recipe.yaml").write_text("name: tiny\n", encoding="utf-8")
    finished = [
        ("base", [], base_matrix or BASE_MATRIX, 0.95, 0.78),
        ("plus-l2", ["l2"], L2_MATRIX, 0.90, 0.81),
    ]
    for (folder, techniques, matrix, train, val), variant in zip(finished, variants, strict=False):
        vdir = root / folder
        vdir.mkdir()
        (vdir / "config.yaml").write_text("model: tiny\n", encoding="utf-8")
        payload = metrics_payload(variant["name"], techniques, matrix, train, val)
        (vdir / "metrics.json").write_text(json.dumps(payload), encoding="utf-8")
        (vdir / "history.csv").write_text(HISTORY, encoding="utf-8")
        (vdir / "summary.txt").write_text(f"SUMMARY OF {folder}\nTotal params: 837\n", encoding="utf-8")
    (root / "plus-dropout").mkdir()
    (root / "plus-dropout" / "config.yaml").write_text("model: tiny\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def make_run() -> Callable[..., Path]:
    """``make_run(root, base_matrix=None, name="tiny study")`` writes a fake run folder at ``root``."""
    return write_fake_run


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    return write_fake_run(tmp_path / "run")


@pytest.fixture(scope="session")
def make_metrics() -> Callable[..., dict[str, Any]]:
    """``make_metrics(name, techniques, matrix, train, val)``: a metrics.json payload consistent with ``matrix``."""
    return metrics_payload


@pytest.fixture(scope="session")
def make_forecast_run() -> Callable[..., Path]:
    """``make_forecast_run(root, wmae=DEEP_WINS, name=..., baselines=True, with_dropout=True)`` writes a forecasting
    run folder at ``root`` (see ``forecast_run.py``)."""
    return write_forecast_run
