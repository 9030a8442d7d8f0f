"""Split arithmetic on label arrays alone (no images)."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.data.splits import split_sizes, stratified_split, take_stratified
from trainlab.errors import TrainlabError

CLASSES = ["dogs", "food", "vehicles"]


def test_course_split_is_exact_and_stratified() -> None:
    labels = np.repeat(np.arange(3), 10_000)
    np.random.default_rng(0).shuffle(labels)
    train, val, test = stratified_split(labels, val=0.15, test=0.15, seed=0, classes=CLASSES)
    assert (len(train), len(val), len(test)) == (21_000, 4_500, 4_500)
    for indices, per_class in ((train, 7_000), (val, 1_500), (test, 1_500)):
        assert np.bincount(labels[indices], minlength=3).tolist() == [per_class] * 3
    combined = np.concatenate([train, val, test])
    assert len(np.unique(combined)) == 30_000  # disjoint and complete


def test_split_is_seeded() -> None:
    labels = np.repeat(np.arange(3), 50)
    first = stratified_split(labels, val=0.15, test=0.15, seed=3, classes=CLASSES)
    again = stratified_split(labels, val=0.15, test=0.15, seed=3, classes=CLASSES)
    other = stratified_split(labels, val=0.15, test=0.15, seed=4, classes=CLASSES)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[2], other[2])


def test_zero_val_fraction_gives_an_empty_val_split() -> None:
    labels = np.repeat(np.arange(3), 20)
    train, val, test = stratified_split(labels, val=0.0, test=0.2, seed=0, classes=CLASSES)
    assert (len(train), len(val), len(test)) == (48, 0, 12)


def test_split_sizes_round_to_whole_images() -> None:
    assert split_sizes(1797, 0.15, 0.15) == (1257, 270, 270)
    assert split_sizes(30_000, 0.1, 0.2) == (21_000, 3_000, 6_000)


def test_a_class_too_small_for_every_split_is_named() -> None:
    labels = np.array([0] * 40 + [1] * 40 + [2] * 2)
    with pytest.raises(TrainlabError, match="'vehicles'"):
        stratified_split(labels, val=0.15, test=0.15, seed=0, classes=CLASSES)


def test_too_few_images_for_the_classes() -> None:
    labels = np.repeat(np.arange(3), 4)
    with pytest.raises(TrainlabError, match="fewer than the 3 classes"):
        stratified_split(labels, val=0.15, test=0.15, seed=0, classes=CLASSES)


def test_take_stratified_takes_exactly() -> None:
    labels = np.repeat(np.arange(3), 10)
    kept, taken = take_stratified(np.arange(30), labels, 6, 0, CLASSES, "val")
    assert len(taken) == 6 and np.bincount(labels[taken]).tolist() == [2, 2, 2]
    assert sorted(np.concatenate([kept, taken]).tolist()) == list(range(30))
