"""Continue an interrupted variant from its last finished epoch, bit-identical on the CPU to an uninterrupted run.

:class:`ResumePoint` saves ``checkpoints/last.ckpt`` at the end of every epoch: Lightning's full checkpoint (weights,
optimizer and scheduler state, loop counters, the state of every callback: early stopping, the best checkpoint, the
per-epoch history; and the datamodule's train-loader generator, which draws the shuffle order) plus the global random
state the next epoch draws from: the torch generators (dropout, augmentation) and Python's ``random``. ``fit_variant``
hands the file to ``trainer.fit(ckpt_path=...)`` when it finds one, and deletes it once the variant's ``metrics.json``
is written (with the optimizer's state it is several times the size of the weights).

Being a :class:`~lightning.pytorch.callbacks.Checkpoint`, it runs after early stopping and the best-checkpoint
callback at the epoch's end, so their states include that epoch; Lightning restores such a checkpoint as "the epoch
has ended" (it also takes the epoch's scheduler step then). The random state is put back in ``on_train_start``, after
the restore and before the first batch; the loader generator is restored with the datamodule, before the train loader
first iterates. A test compares a run interrupted mid-epoch and resumed with one never interrupted: weights, metrics
and history are equal. ``elapsed_s`` adds the training time of every session.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint

LAST_CHECKPOINT = "last.ckpt"


def capture_random_state() -> dict[str, Any]:
    """The global random streams a training epoch draws from, in a form ``torch.load(weights_only=True)`` accepts."""
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class ResumePoint(Checkpoint):
    """Write ``path`` (``checkpoints/last.ckpt``) at each epoch's end; restore the random state from it on resume."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.elapsed_before = 0.0  # training seconds of earlier sessions (from the checkpoint)
        self._session_started = time.perf_counter()
        self._pending: dict[str, Any] | None = None

    @property
    def elapsed_s(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._session_started

    def state_dict(self) -> dict[str, Any]:
        return {"random": capture_random_state(), "elapsed_s": self.elapsed_s}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict["random"]
        self.elapsed_before = float(state_dict["elapsed_s"])
        self._session_started = time.perf_counter()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            restore_random_state(self._pending)
            self._pending = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        """Save beside ``path`` and rename, so a kill while writing never leaves a torn ``last.ckpt``."""
        partial = self.path.with_name(f".{self.path.name}.partial")
        trainer.save_checkpoint(partial, weights_only=False)
        if trainer.is_global_zero:
            os.replace(partial, self.path)
        trainer.strategy.barrier("trainlab-resume-point")
