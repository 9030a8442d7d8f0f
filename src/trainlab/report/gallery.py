"""Example galleries as PNG files: sample training images per class, and the most confidently misclassified test
examples per class.

They are drawn when the data is at hand (the study's start, each variant's end) and saved in the run folder, so the
report embeds them as it embeds every other figure: it reads files, it never needs the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from trainlab.artifacts import probability_column
from trainlab.data import Split
from trainlab.report.plots import plain_label, save_figure

CELL_INCHES = 1.15


def _as_picture(image: torch.Tensor) -> np.ndarray:
    """uint8 [C, H, W] → what ``imshow`` takes: [H, W] for one channel, [H, W, 3] for three."""
    array = image.cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def image_grid(rows: Sequence[tuple[str, Sequence[tuple[torch.Tensor, str]]]], columns: int, title: str,
               path: Path) -> Path:
    """One row per ``(row label, [(image, caption), ...])``; rows with fewer images leave their cells empty."""
    height = CELL_INCHES * 1.25 * len(rows) + 0.6
    fig = Figure(figsize=(CELL_INCHES * columns + 1.2, height))
    fig.suptitle(plain_label(title), fontsize=11, y=1.0 - 0.12 / height)
    grid = fig.subplots(len(rows), columns, squeeze=False)
    for (label, cells), axes in zip(rows, grid, strict=True):
        axes[0].set_ylabel(plain_label(label), rotation=0, ha="right", va="center", fontsize=9)
        for column, ax in enumerate(axes):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(column < len(cells))
            if column < len(cells):
                image, caption = cells[column]
                ax.imshow(_as_picture(image), cmap="gray" if image.shape[0] == 1 else None, vmin=0, vmax=255)
                ax.set_title(plain_label(caption), fontsize=7)
            elif column == 0:
                ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=8, color="#666666")
    fig.subplots_adjust(left=0.12, right=0.98, top=1.0 - 0.55 / height, bottom=0.1 / height, wspace=0.08, hspace=0.45)
    return save_figure(fig, Path(path))


def plot_samples(split: Split, classes: Sequence[str], path: Path, per_class: int = 8, seed: int = 0) -> Path:
    """``per_class`` images of each class drawn at random (with ``seed``) from ``split``, one row per class."""
    generator = np.random.default_rng(seed)
    labels = split.labels.cpu().numpy()
    rows = []
    for index, name in enumerate(classes):
        members = np.flatnonzero(labels == index)
        chosen = generator.choice(members, size=min(per_class, len(members)), replace=False)
        rows.append((name, [(split.read(int(row)), "") for row in sorted(chosen)]))
    return image_grid(rows, per_class, "Training images per class (random sample)", path)


def most_confident_mistakes(predictions: pd.DataFrame, classes: Sequence[str],
                            per_class: int) -> dict[str, pd.DataFrame]:
    """For each true class, its misclassified rows of ``predictions`` (a predictions.csv) with the highest
    probability on the wrong answer first (``confidence`` column added), at most ``per_class`` of them."""
    wrong = predictions[predictions["true"] != predictions["predicted"]]
    confidence = [float(row[probability_column(row["predicted"])]) for _, row in wrong.iterrows()]
    ranked = wrong.assign(confidence=confidence).sort_values(["confidence", "index"], ascending=[False, True])
    return {name: ranked[ranked["true"] == name].head(per_class) for name in classes}


def plot_misclassified(split: Split, predictions: pd.DataFrame, classes: Sequence[str], path: Path, title: str,
                       per_class: int = 6) -> Path:
    """The :func:`most_confident_mistakes` of each class as an image grid, captioned ``→ predicted (probability)``;
    ``predictions`` is the variant's predictions.csv (rows in the split's order)."""
    rows = []
    for name, mistakes in most_confident_mistakes(predictions, classes, per_class).items():
        cells = [(split.read(int(row["index"])), f"→ {row['predicted']} ({row['confidence']:.0%})")
                 for _, row in mistakes.iterrows()]
        rows.append((f"true: {name}", cells))
    return image_grid(rows, per_class, title, path)
