"""Small Lightning callbacks that trainlab needs beyond Lightning's own: speed, per-epoch history, divergence, and a
frozen backbone for feature extraction."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import BaseFinetuning, RichProgressBar
from torch.nn.modules.batchnorm import _BatchNorm

from trainlab.errors import TrainlabError
from trainlab.models.transfer import frozen_modules
from trainlab.report.plots import history_columns
from trainlab.train.inputs import batch_size


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
        self._epoch_samples += batch_size(batch)

    def _close_epoch(self, trainer: L.Trainer) -> None:
        if self._started is None:
            return
        elapsed = self._now(trainer) - self._started
        self._started = None
        if self.first_epoch_seconds == 0.0:
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


class EpochProgressBar(RichProgressBar):
    """Lightning's Rich bar with epochs counted from 1 ("Epoch 3/8", as history.csv and the report count them) and
    without the logger's version number among the metrics."""

    def _get_train_description(self, current_epoch: int) -> str:
        description = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs is not None:
            description += f"/{self.trainer.max_epochs}"
        return f"{description:{len(self.validation_description)}}"

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, int | str | float | dict]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


class HistoryRecorder(L.Callback):
    """One row per finished epoch (``history_columns(metric)``, epochs counted from 1), from the epoch values
    Lightning logged.

    The rows are part of the checkpoint state, so a variant resumed from ``last.ckpt`` keeps the epochs it trained
    before the interruption and ends with exactly the history of an uninterrupted run.
    """

    def __init__(self, metric: str = "accuracy") -> None:
        self.rows: list[dict[str, float]] = []
        self.columns = history_columns(metric)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logged = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch + 1)}
        for column in self.columns[1:]:
            value = logged.get(column)
            row[column] = float(value) if value is not None else math.nan
        self.rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(row) for row in self.rows]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [dict(row) for row in state_dict["rows"]]

    def frame(self) -> pd.DataFrame:
        history = pd.DataFrame(self.rows, columns=list(self.columns))
        return history.astype({"epoch": int})


class TrainingDiverged(TrainlabError):  # noqa: N818 (reads as what happened, like KeyboardInterrupt)
    """The loss became NaN or infinite: the variant stops, the study goes on, the report marks the variant failed."""

    def __init__(self, message: str, *, epoch: int, batch: int | None, lr: float) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.lr = epoch, batch, lr


class DivergenceGuard(L.Callback):
    """Stop a variant whose training or validation loss is NaN or infinite, naming the epoch, the batch and the lr.

    The check must not make a GPU wait at every step: each batch only updates two tensors on the loss's device (a
    batch counter, and the first batch whose loss was not finite), and the host reads them every ``check_every``
    batches, before each validation and at the end of each epoch. The lr reported is the one the epoch trained with.
    """

    def __init__(self, check_every: int = 50) -> None:
        self.check_every = check_every
        self._batches: torch.Tensor | None = None  # batches seen this epoch, on the loss's device
        self._first_bad: torch.Tensor | None = None  # the first of them with a non-finite loss (1-based), or 0
        self._epoch_lr = math.nan

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._batches = self._first_bad = None
        self._epoch_lr = float(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        if self._batches is None or self._first_bad is None:
            self._batches = torch.zeros((), dtype=torch.long, device=loss.device)
            self._first_bad = torch.zeros((), dtype=torch.long, device=loss.device)
        self._batches += 1
        bad = ~torch.isfinite(loss.detach()).all() & (self._first_bad == 0)
        self._first_bad = torch.where(bad, self._batches, self._first_bad)
        if (batch_idx + 1) % self.check_every == 0:
            self._check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if trainer.state.fn == "fit" and value is not None and not math.isfinite(float(value)):
            self._fail(trainer, f"the validation loss became {float(value)}", batch=None)

    def _check(self, trainer: L.Trainer) -> None:
        if self._first_bad is not None and (batch := int(self._first_bad.item())) > 0:
            self._fail(trainer, "the training loss became NaN or infinite", batch=batch)

    def _fail(self, trainer: L.Trainer, what: str, batch: int | None) -> None:
        epoch = trainer.current_epoch + 1
        where = f"epoch {epoch}" + (f", batch {batch}" if batch is not None else "")
        raise TrainingDiverged(f"{what} at {where} (lr {self._epoch_lr:g}); lower training.lr or check the data",
                               epoch=epoch, batch=batch, lr=self._epoch_lr)


class FrozenBackbone(BaseFinetuning):
    """Feature extraction: the model's frozen modules (pretrained, ``requires_grad`` off; see
    :func:`trainlab.models.transfer.frozen_modules`) stay frozen, and their BatchNorm layers stay in eval mode.

    Lightning's :class:`BaseFinetuning` freezes them (and stops their BatchNorm layers from tracking statistics) before
    the optimizer is made and keeps its parameter groups right on resume. A BatchNorm layer that no longer tracks
    statistics would still normalize with each training batch's own mean and variance in train mode, and so differ
    from the frozen network it came from; eval mode makes it use its pretrained running statistics in training too.
    """

    @staticmethod
    def needed(model: torch.nn.Module) -> bool:
        """True when the model has frozen BatchNorm layers (frozen layers without statistics need nothing more than
        ``requires_grad`` off, which the model's builder did)."""
        return any(isinstance(module, _BatchNorm) for module in frozen_modules(model))

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        self.freeze(frozen_modules(pl_module.model), train_bn=False)

    def finetune_function(self, pl_module: L.LightningModule, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        """Nothing is unfrozen during training: the backbone stays frozen for every epoch."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        for module in frozen_modules(pl_module.model):
            if isinstance(module, _BatchNorm):
                module.eval()
