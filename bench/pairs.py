"""What both speed benchmarks share: the trainer's side of a pair, and the trainer / plain-loop pairs run in ABBA
order (a steady drift in machine speed then hits both sides alike)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainlab.config import Variant
from trainlab.data import DataBundle
from trainlab.train.fit import fit_variant
from trainlab.train.runtime import Runtime


def trainer_samples_per_s(variant: Variant, bundle: DataBundle, runtime: Runtime, out_dir: Path) -> float:
    """One ``fit_variant`` run's steady-state training speed (epochs after the first)."""
    result = fit_variant(variant, bundle, out_dir, runtime)
    assert result is not None and result.metrics is not None, "the benchmark run failed"
    return result.metrics.train_images_per_s


def abba_pairs(repeats: int, plain: Callable[[], float], trainer: Callable[[int], float]
               ) -> tuple[list[float], list[float]]:
    """``(trainer speeds, plain-loop speeds)`` of ``repeats`` pairs: plain first in even pairs, trainer first in odd."""
    trainer_runs, plain_runs = [], []
    for repeat in range(repeats):
        if repeat % 2 == 0:
            plain_runs.append(plain())
            trainer_runs.append(trainer(repeat))
        else:
            trainer_runs.append(trainer(repeat))
            plain_runs.append(plain())
    return trainer_runs, plain_runs
