"""Small Lightning callbacks that trainlab needs beyond Lightning's own."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch


class TrainThroughput(L.Callback):
    """Training images per second, counting only the training batches (validation time is excluded).

    The first epoch is measured too but kept apart, so one-off costs (cuDNN autotuning, lazy init, cache warm-up)
    can be told from steady-state speed.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.seconds = 0.0
        self.first_epoch_samples = 0
        self.first_epoch_seconds = 0.0
        self.world_size = 1
        self._started: float | None = None
        self._epoch_samples = 0

    def _now(self, trainer: L.Trainer) -> float:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)
        return time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_samples = 0
        self.world_size = trainer.world_size
        self._started = self._now(trainer)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._epoch_samples += int(batch[1].shape[0])

    def _close_epoch(self, trainer: L.Trainer) -> None:
        if self._started is None:
            return
        elapsed = self._now(trainer) - self._started
        self._started = None
        if trainer.current_epoch == 0 and self.first_epoch_seconds == 0.0:
            self.first_epoch_samples, self.first_epoch_seconds = self._epoch_samples, elapsed
        else:
            self.samples += self._epoch_samples
            self.seconds += elapsed

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.training or trainer.state.fn == "fit":
            self._close_epoch(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._close_epoch(trainer)

    @property
    def images_per_second(self) -> float:
        """Steady-state speed over all processes (epochs after the first; the first alone when only one ran)."""
        if self.seconds > 0:
            return self.samples * self.world_size / self.seconds
        if self.first_epoch_seconds > 0:
            return self.first_epoch_samples * self.world_size / self.first_epoch_seconds
        return 0.0
