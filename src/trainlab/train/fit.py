"""Train, restore and evaluate one variant with Lightning, then write its artifacts.

This is the only training loop in trainlab: every model and dataset goes through ``fit_variant``.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies import StrategyRegistry
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from trainlab.config import Recipe, Variant
from trainlab.data import DataBundle, Split, TensorSplit, make_loader
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text, write_json
from trainlab.models import build_model
from trainlab.report.plots import HISTORY_COLUMNS, best_epoch, plot_variant
from trainlab.report.summary import model_summary
from trainlab.train.callbacks import TrainThroughput
from trainlab.train.runtime import Runtime
from trainlab.train.task import ClassificationTask

LIGHTNING_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class BundleDataModule(L.LightningDataModule):
    """Serves a DataBundle: in memory, on CUDA the tensors live on the GPU (one copy per process under DDP);
    from files (FileSplits), ``training.num_workers`` processes decode batches that Lightning moves to the device."""

    def __init__(self, bundle: DataBundle, recipe: Recipe) -> None:
        super().__init__()
        self.bundle = bundle
        self.batch_size = recipe.training.batch_size
        self.seed = recipe.seed
        self.device_resident = recipe.data.device_resident
        self.num_workers = recipe.training.num_workers
        # Keyed by the split objects themselves (identity-hashed dataclasses), which also keeps them alive.
        self._loaders: dict[tuple[Split, bool], torch.utils.data.DataLoader] = {}
        self._resident: dict[Split, TensorSplit] = {}

    def loader(self, split: Split, shuffle: bool) -> torch.utils.data.DataLoader:
        """In-memory data goes to the GPU when resident there; file data stays on the CPU (``root`` decides pinning).

        Evaluation loaders of a distributed run are sharded without padding, so each sample counts exactly once.
        Loaders are made once per (split, shuffle) and reused by the final evaluations, so resident data is copied to
        the GPU once and worker pools are not started twice.
        """
        key = (split, shuffle)
        if key not in self._loaders:
            self._loaders[key] = self._make_loader(split, shuffle)
        return self._loaders[key]

    def _make_loader(self, split: Split, shuffle: bool) -> torch.utils.data.DataLoader:
        trainer = self.trainer
        root = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        resident = isinstance(split, TensorSplit) and self.device_resident and root.type == "cuda"
        keep_on_cpu = isinstance(split, TensorSplit) and not resident
        if resident:  # one device copy per split, shared by its shuffled and unshuffled loaders
            if split not in self._resident:
                self._resident[split] = TensorSplit(split.images.to(root), split.labels.to(root))
            split = self._resident[split]
        distributed = trainer is not None and trainer.world_size > 1
        return make_loader(
            split,
            batch_size=self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            device="cpu" if keep_on_cpu else root,
            num_workers=0 if resident else self.num_workers,
            shard=(trainer.global_rank, trainer.world_size) if distributed and not shuffle else None,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return self.loader(self.bundle.train, shuffle=True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        return self.loader(self.bundle.val, shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        return self.loader(self.bundle.test, shuffle=False)


def quiet_lightning() -> None:
    """Keep the console to trainlab's own lines and the progress bar: no GPU/TPU banners, tips or known notices."""
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


@dataclass(frozen=True)
class VariantResult:
    metrics: dict[str, Any]
    history: pd.DataFrame


def build_variant_model(recipe: Recipe, bundle: DataBundle) -> torch.nn.Module:
    channels, size, _ = bundle.image_shape
    return build_model(
        recipe.model.name,
        in_channels=channels,
        num_classes=len(bundle.classes),
        image_size=size,
        dropout=recipe.regularization.dropout,
        width=recipe.model.width,
        options=dict(recipe.model.options),
    )


def collapse_lightning_log(metrics_csv: Path) -> pd.DataFrame:
    """Collapse Lightning's CSV log (train and val metrics on separate rows) into one row per epoch.

    Epochs are numbered from 1 here, as people count them ("stopped after 10 epochs, best was epoch 6").
    """
    frame = pd.read_csv(metrics_csv)
    history = frame.groupby("epoch", as_index=False).first()
    history["epoch"] = history["epoch"].astype(int) + 1
    for column in HISTORY_COLUMNS:
        if column not in history:
            history[column] = float("nan")
    return history[list(HISTORY_COLUMNS)]


def _callbacks(recipe: Recipe, out_dir: Path) -> tuple[list[L.Callback], ModelCheckpoint, TrainThroughput]:
    checkpoint = ModelCheckpoint(
        dirpath=out_dir / "checkpoints", filename="best", monitor="val_loss", mode="min",
        save_top_k=1, save_weights_only=True, enable_version_counter=False,
    )
    throughput = TrainThroughput()
    callbacks: list[L.Callback] = [checkpoint, throughput]
    stopping = recipe.regularization.early_stopping
    if stopping is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=stopping.patience,
                                       min_delta=stopping.min_delta))
    if recipe.training.progress_bar:
        callbacks.append(RichProgressBar(leave=False))
    return callbacks, checkpoint, throughput


def _restore_best(task: ClassificationTask, checkpoint: ModelCheckpoint) -> None:
    """Early stopping's promise: evaluate the weights of the best validation epoch, not the last."""
    state = torch.load(checkpoint.best_model_path, map_location=task.device, weights_only=True)
    task.load_state_dict(state["state_dict"])


def _evaluate(trainer: L.Trainer, task: ClassificationTask, datamodule: BundleDataModule,
              split: Split) -> dict[str, float]:
    (result,) = trainer.validate(task, dataloaders=datamodule.loader(split, shuffle=False), verbose=False)
    return {"accuracy": float(result["val_accuracy"]), "loss": float(result["val_loss"])}


def _build_trainer(recipe: Recipe, runtime: Runtime, out_dir: Path | None, callbacks: list[L.Callback],
                   logger: CSVLogger | bool) -> L.Trainer:
    """The one Trainer construction; Lightning's rejections of the training settings become a TrainlabError."""
    training = recipe.training
    try:
        return L.Trainer(
            max_epochs=training.epochs, accelerator=runtime.accelerator, devices=training.devices,
            num_nodes=training.num_nodes, strategy=training.strategy, precision=runtime.precision,
            deterministic=runtime.deterministic, logger=logger, callbacks=callbacks,
            enable_checkpointing=any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
            enable_progress_bar=training.progress_bar, enable_model_summary=False, num_sanity_val_steps=0,
            log_every_n_steps=1, default_root_dir=out_dir,
        )
    except (ValueError, TypeError, MisconfigurationException) as error:
        settings = (f"strategy={training.strategy!r}, devices={training.devices!r}, "
                    f"num_nodes={training.num_nodes}, accelerator={runtime.accelerator!r}")
        raise TrainlabError(f"training settings rejected by Lightning ({settings}): {error}") from None


def check_training_settings(recipe: Recipe, runtime: Runtime) -> None:
    """Fail now, before a run folder exists, on a strategy / devices / precision mix that Lightning refuses."""
    strategy = recipe.training.strategy
    known = ["auto", *StrategyRegistry.available_strategies()]
    if strategy not in known:
        raise TrainlabError(f"training.strategy={strategy!r} is not a Lightning strategy; use one of: "
                            + ", ".join(known))
    _build_trainer(recipe, runtime, None, [], logger=False)


def fit_variant(variant: Variant, bundle: DataBundle, out_dir: Path, runtime: Runtime) -> VariantResult | None:
    """Train one variant and write config.yaml, summary.txt, history.csv, metrics.json and plots into ``out_dir``.

    Returns None on non-zero ranks of a distributed run (only rank 0 writes).
    """
    recipe = variant.recipe
    started = time.perf_counter()
    quiet_lightning()
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    model = build_variant_model(recipe, bundle)
    summary_text = model_summary(model, (1, *bundle.image_shape))
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    mean, std = bundle.channel_stats()
    task = ClassificationTask(
        model, classes=bundle.classes, training=recipe.training, regularization=recipe.regularization,
        mean=mean, std=std, channels_last=runtime.channels_last,
    )
    callbacks, checkpoint, throughput = _callbacks(recipe, out_dir)
    logger = CSVLogger(save_dir=out_dir, name="logs", version=0)
    trainer = _build_trainer(recipe, runtime, out_dir, callbacks, logger)
    datamodule = BundleDataModule(bundle, recipe)
    trainer.fit(task, datamodule=datamodule)
    # Read the per-epoch log now: the evaluations below log through the same trainer and would add rows.
    history = collapse_lightning_log(Path(logger.log_dir) / "metrics.csv") if trainer.is_global_zero else None
    stopped_early = any(isinstance(cb, EarlyStopping) and cb.stopped_epoch > 0 for cb in trainer.callbacks)
    if recipe.regularization.early_stopping is not None and checkpoint.best_model_path:
        _restore_best(task, checkpoint)
    train_metrics = _evaluate(trainer, task, datamodule, bundle.train)
    val_metrics = _evaluate(trainer, task, datamodule, bundle.val)
    (test_logged,) = trainer.test(task, datamodule=datamodule, verbose=False)
    if history is None:
        return None
    metrics = {
        "variant": variant.name,
        "techniques": list(variant.techniques),
        "params": sum(p.numel() for p in task.model.parameters()),
        "seed": recipe.seed,
        "epochs_run": len(history),
        "best_epoch": best if (best := best_epoch(history)) is not None else -1,  # -1: validation never ran
        "stopped_early": bool(stopped_early),
        "wall_time_s": time.perf_counter() - started,
        "train_images_per_s": throughput.images_per_second,
        "runtime": runtime.to_dict(),
        "classes": list(bundle.classes),
        "train": train_metrics,
        "val": val_metrics,
        "test": {"loss": float(test_logged["test_loss"]), **task.test_results},
    }
    atomic_write_text(out_dir / "config.yaml", recipe.to_yaml())
    atomic_write_text(out_dir / "summary.txt", summary_text)
    atomic_write_text(out_dir / "history.csv", history.to_csv(index=False))
    write_json(out_dir / "metrics.json", metrics)
    plot_variant(out_dir)
    return VariantResult(metrics=metrics, history=history)
