"""Stratified train/val/test splits on label arrays (shared by every image dataset).

Sizes are computed as whole numbers first (``round(fraction * n)``) and handed to scikit-learn as counts, so 70/15/15
of 30,000 is exactly 21,000 / 4,500 / 4,500; scikit-learn then spreads each count over the classes in proportion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from trainlab.errors import TrainlabError

SPLIT_NAMES = ("train", "val", "test")


def take_stratified(
    indices: np.ndarray, labels: np.ndarray, count: int, seed: int, classes: Sequence[str], what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (kept, taken) with exactly ``count`` taken, stratified by ``labels[indices]``.

    ``what`` names the split being taken, for error messages. Both outputs are sorted.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if count <= 0:
        return np.sort(indices), np.empty(0, dtype=np.int64)
    present = np.unique(labels[indices])
    if count >= len(indices):
        raise TrainlabError(
            f"the {what} split would take {count} of {len(indices)} images, leaving none for the rest; "
            "change data.split"
        )
    per_class = np.bincount(labels[indices], minlength=len(classes))
    for label in present:
        if per_class[label] < 2:
            raise TrainlabError(
                f"class {classes[label]!r} has only {per_class[label]} image(s), too few to put one in the {what} "
                "split and keep one; add images or change data.split"
            )
    if count < len(present):
        raise TrainlabError(
            f"the {what} split would get {count} image(s), fewer than the {len(present)} classes, so some class "
            f"would have 0 {what} images; use more data (data.max_per_class) or a larger data.split.{what}"
        )
    try:
        kept, taken = train_test_split(indices, test_size=count, stratify=labels[indices], random_state=seed)
    except ValueError as error:  # scikit-learn's own checks, should ours miss a case
        raise TrainlabError(f"cannot make a stratified {what} split: {error}") from None
    return np.sort(kept), np.sort(taken)


def split_sizes(n: int, val: float, test: float) -> tuple[int, int, int]:
    """Whole-number (train, val, test) sizes for ``n`` items."""
    n_test = round(test * n)
    n_val = round(val * n)
    return n - n_val - n_test, n_val, n_test


def stratified_split(
    labels: Sequence[int] | np.ndarray, *, val: float, test: float, seed: int, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, val, test) of a stratified split of ``labels`` with the given val/test fractions.

    ``val`` may be 0 (an empty validation split); every class must land in every non-empty split.
    """
    labels = np.asarray(labels, dtype=np.int64)
    _, n_val, n_test = split_sizes(len(labels), val, test)
    for name, fraction, size in (("val", val, n_val), ("test", test, n_test)):
        if fraction > 0 and size == 0:
            raise TrainlabError(f"{len(labels)} images are too few for a {name} fraction of {fraction:g}")
    everything = np.arange(len(labels), dtype=np.int64)
    rest, test_idx = take_stratified(everything, labels, n_test, seed, classes, "test")
    train_idx, val_idx = take_stratified(rest, labels, n_val, seed, classes, "val")
    check_coverage({"train": train_idx, "val": val_idx, "test": test_idx}, labels, classes)
    return train_idx, val_idx, test_idx


def check_coverage(splits: dict[str, np.ndarray], labels: np.ndarray, classes: Sequence[str]) -> None:
    """Every class must have at least one image in every non-empty split."""
    for name, indices in splits.items():
        if len(indices) == 0:
            continue
        per_class = np.bincount(labels[indices], minlength=len(classes))
        missing = [classes[i] for i in range(len(classes)) if per_class[i] == 0]
        if missing:
            raise TrainlabError(
                f"the {name} split would have 0 images of class(es) {', '.join(map(repr, missing))}; "
                "add images to those classes or change data.split"
            )
