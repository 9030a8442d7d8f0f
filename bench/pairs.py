"""What the text and forecasting benchmarks share: the trainer's side of a pair (``trainlab bench``'s own), and the
trainer / plain-loop pairs run in ABBA order (a steady drift in machine speed then hits both sides alike)."""

from __future__ import annotations

from collections.abc import Callable

from trainlab.bench.ways import trainer_samples_per_s

__all__ = ["abba_pairs", "trainer_samples_per_s"]


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
