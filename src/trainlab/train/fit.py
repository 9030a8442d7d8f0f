"""Train, restore and evaluate one variant with Lightning, then write its artifacts.

This is the only training loop in trainlab: every model and dataset goes through ``fit_variant``. A variant that finds
``checkpoints/last.ckpt`` (left by an interrupted run) continues from it; one whose loss diverges writes
``failure.json`` instead of ``metrics.json`` and the study goes on.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger
from lightning.pytorch.strategies import StrategyRegistry
from lightning.pytorch.trainer.states import TrainerStatus
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from trainlab.artifacts import (
    CONFIG_FILE,
    FAILURE_FILE,
    FINAL_CHECKPOINT,
    HISTORY_FILE,
    INPUT_FILE,
    METRICS_FILE,
    MISCLASSIFIED_FILE,
    PREDICTIONS_FILE,
    SUMMARY_FILE,
    SplitScore,
    VariantFailure,
    VariantMetrics,
    input_record,
    write_predictions,
)
from trainlab.config import Recipe, Variant
from trainlab.data import DataBundle, Split, TensorSplit, make_loader
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text
from trainlab.models.recipe import build_recipe_model
from trainlab.report.gallery import plot_misclassified
from trainlab.report.plots import best_epoch, plot_variant
from trainlab.report.summary import model_summary
from trainlab.train.callbacks import (
    DivergenceGuard,
    EpochProgressBar,
    FrozenBackbone,
    HistoryRecorder,
    TrainingDiverged,
    TrainThroughput,
)
from trainlab.train.inputs import ImageInput, InputAdapter, build_input_adapter
from trainlab.train.loggers import build_loggers
from trainlab.train.resume import LAST_CHECKPOINT, ResumePoint
from trainlab.train.runtime import Runtime
from trainlab.train.task import TaskModule
from trainlab.train.tasks import build_task, primary_metric

LIGHTNING_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
T = TypeVar("T")


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
        # The shuffle order and worker seeds of the train loader; saved in checkpoints (state_dict below) so that a
        # resumed run draws the orders an uninterrupted one would. It is restored before the loader first iterates.
        self.train_generator = torch.Generator()
        self.train_generator.manual_seed(self.seed)
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
            generator=self.train_generator if shuffle else None,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"train_generator": self.train_generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_generator.set_state(state_dict["train_generator"])

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
    # A resumed variant reopens its checkpoints/ folder (best.ckpt, last.ckpt) on purpose.
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")


@dataclass(frozen=True)
class VariantResult:
    """What one run of one variant gave: its metrics and history, or the failure that stopped it."""

    metrics: VariantMetrics | None
    history: pd.DataFrame | None
    failure: VariantFailure | None = None


class _Callbacks:
    """The callbacks of one variant's Trainer, by role (Lightning gets them as a list)."""

    def __init__(self, recipe: Recipe, out_dir: Path, model: torch.nn.Module) -> None:
        self.checkpoint = ModelCheckpoint(
            dirpath=out_dir / "checkpoints", filename="best", monitor="val_loss", mode="min",
            save_top_k=1, save_weights_only=True, enable_version_counter=False,
        )
        self.throughput = TrainThroughput()
        self.history = HistoryRecorder(primary_metric(recipe.task).name)
        self.resume = ResumePoint(out_dir / "checkpoints" / LAST_CHECKPOINT)
        self.all: list[L.Callback] = [self.checkpoint, self.throughput, self.history, DivergenceGuard(), self.resume]
        stopping = recipe.regularization.early_stopping
        if stopping is not None:
            self.all.append(EarlyStopping(monitor="val_loss", mode="min", patience=stopping.patience,
                                          min_delta=stopping.min_delta))
        if FrozenBackbone.needed(model):
            self.all.append(FrozenBackbone())
        if show_progress(recipe):
            self.all.append(EpochProgressBar(leave=False))


def show_progress(recipe: Recipe) -> bool:
    """``training.progress_bar``, on a terminal only: redirected to a file, the bars would bury trainlab's lines."""
    return recipe.training.progress_bar and sys.stdout.isatty()


def _restore_best(task: TaskModule, checkpoint: ModelCheckpoint) -> None:
    """Early stopping's promise: evaluate the weights of the best validation epoch, not the last."""
    state = torch.load(checkpoint.best_model_path, map_location=task.device, weights_only=True)
    task.load_state_dict(state["state_dict"])


def _save_weights(task: TaskModule, path: Path) -> None:
    """The weights the test used, in the layout of Lightning's weights-only checkpoints (``state_dict``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.tmp")
    torch.save({"state_dict": task.state_dict()}, partial)
    partial.replace(path)


def interruptible(trainer: L.Trainer, call: Callable[[], T]) -> T:
    """Run a Trainer entry point; Ctrl-C inside it comes back as KeyboardInterrupt, not as Lightning's exit(1).

    Lightning catches KeyboardInterrupt, shuts down and calls ``sys.exit(1)`` after ignoring SIGINT; the study runner
    must see the interrupt to say how to resume, and a second Ctrl-C must work again afterwards.
    """
    try:
        return call()
    except SystemExit:
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt from None


def _evaluate(trainer: L.Trainer, task: TaskModule, datamodule: BundleDataModule, split: Split,
              metric: str) -> SplitScore:
    """The loss and the primary metric of the evaluated weights on ``split`` (through the validation loop)."""
    loader = datamodule.loader(split, shuffle=False)
    (result,) = interruptible(trainer, lambda: trainer.validate(task, dataloaders=loader, verbose=False))
    value, loss = float(result[f"val_{metric}"]), float(result["val_loss"])
    if metric == "accuracy":
        return SplitScore(accuracy=value, loss=loss)
    return SplitScore(loss=loss, scores={metric: value})


def _build_trainer(recipe: Recipe, runtime: Runtime, out_dir: Path | None, callbacks: list[L.Callback],
                   logger: list[Logger] | bool) -> L.Trainer:
    """The one Trainer construction; Lightning's rejections of the training settings become a TrainlabError."""
    training = recipe.training
    try:
        return L.Trainer(
            max_epochs=training.epochs, accelerator=runtime.accelerator, devices=training.devices,
            num_nodes=training.num_nodes, strategy=training.strategy, precision=runtime.precision,
            deterministic=runtime.deterministic, logger=logger, callbacks=callbacks,
            enable_checkpointing=any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
            enable_progress_bar=show_progress(recipe), enable_model_summary=False, num_sanity_val_steps=0,
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


def _failure(variant: Variant, diverged: TrainingDiverged, wall_time_s: float) -> VariantFailure:
    return VariantFailure(variant=variant.name, techniques=list(variant.techniques), seed=variant.recipe.seed,
                          reason=str(diverged), epoch=diverged.epoch, batch=diverged.batch, lr=diverged.lr,
                          wall_time_s=wall_time_s)


def _write_predictions(variant: Variant, bundle: DataBundle, task: TaskModule, out_dir: Path) -> None:
    """predictions.csv (the task's rows: each test example's class probabilities, or each forecast value) and, for
    images, the gallery of the most confidently misclassified test images drawn from it."""
    table = task.predictions(bundle)
    write_predictions(out_dir / PREDICTIONS_FILE, table)
    if bundle.is_image:
        title = f"Most confidently misclassified test images - {variant.name} (seed {variant.recipe.seed})"
        plot_misclassified(bundle.test, table, bundle.classes, out_dir / MISCLASSIFIED_FILE, title)


def _summary(model: torch.nn.Module, inputs: InputAdapter, bundle: DataBundle) -> str:
    """torchinfo's summary for one sample (images by shape, as always; other inputs by example tensors)."""
    if bundle.is_image:
        return model_summary(model, (1, *bundle.image_shape))
    return model_summary(model, None, input_data=inputs.example_input())


def fit_variant(variant: Variant, bundle: DataBundle, out_dir: Path, runtime: Runtime) -> VariantResult | None:
    """Train one variant and write config.yaml, summary.txt, history.csv, metrics.json and plots into ``out_dir``.

    Returns None on non-zero ranks of a distributed run (only rank 0 writes).
    """
    recipe = variant.recipe
    quiet_lightning()
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    model = build_recipe_model(recipe, len(bundle.classes), bundle.input_spec)
    channels_last = runtime.channels_last and bundle.is_image
    inputs = build_input_adapter(bundle, recipe, channels_last, model)
    summary_text = _summary(model, inputs, bundle)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    task = build_task(model, inputs, bundle, recipe)
    task.compile_on_fit = runtime.compile
    callbacks = _Callbacks(recipe, out_dir, model)
    trainer = _build_trainer(recipe, runtime, out_dir, callbacks.all, build_loggers(variant, out_dir))
    datamodule = BundleDataModule(bundle, recipe)
    last = callbacks.resume.path if callbacks.resume.path.is_file() else None
    try:
        interruptible(trainer, lambda: trainer.fit(task, datamodule=datamodule, ckpt_path=last, weights_only=True))
    except TrainingDiverged as diverged:
        failure = _failure(variant, diverged, callbacks.resume.elapsed_s)
        if trainer.is_global_zero:
            failure.write(out_dir / FAILURE_FILE)
            callbacks.resume.path.unlink(missing_ok=True)
        return VariantResult(metrics=None, history=None, failure=failure)
    history = callbacks.history.frame()
    stopped_early = any(isinstance(cb, EarlyStopping) and cb.stopped_epoch > 0 for cb in trainer.callbacks)
    restored = recipe.regularization.early_stopping is not None and bool(callbacks.checkpoint.best_model_path)
    if restored:
        _restore_best(task, callbacks.checkpoint)
    metric = primary_metric(recipe.task).name
    train_score = _evaluate(trainer, task, datamodule, bundle.train, metric)
    val_score = _evaluate(trainer, task, datamodule, bundle.val, metric)
    (test_logged,) = interruptible(trainer, lambda: trainer.test(task, datamodule=datamodule, verbose=False))
    if not trainer.is_global_zero:
        return None
    _write_predictions(variant, bundle, task, out_dir)
    metrics = VariantMetrics(
        variant=variant.name,
        techniques=list(variant.techniques),
        task=recipe.task,
        input_kind=bundle.input_spec.kind,
        model=recipe.model.name,
        params=sum(p.numel() for p in task.model.parameters()),
        trainable_params=sum(p.numel() for p in task.model.parameters() if p.requires_grad),
        notes=dict(getattr(task.model, "notes", {}) or {}),
        seed=recipe.seed,
        epochs_run=len(history),
        best_epoch=best if (best := best_epoch(history)) is not None else -1,  # -1: validation never ran
        stopped_early=bool(stopped_early),
        wall_time_s=callbacks.resume.elapsed_s,
        train_images_per_s=callbacks.throughput.images_per_second,
        runtime=runtime.to_dict(),
        classes=list(bundle.classes),
        train=train_score,
        val=val_score,
        test=task.test_record(float(test_logged["test_loss"])),
    )
    atomic_write_text(out_dir / CONFIG_FILE, recipe.to_yaml())
    if not restored and metrics.best_epoch != metrics.epochs_run:
        _save_weights(task, out_dir / FINAL_CHECKPOINT)
    normalize = inputs.normalization() if isinstance(inputs, ImageInput) else None
    input_record(recipe.task, bundle, normalize).write(out_dir / INPUT_FILE)
    atomic_write_text(out_dir / SUMMARY_FILE, summary_text)
    atomic_write_text(out_dir / HISTORY_FILE, history.to_csv(index=False))
    metrics.write(out_dir / METRICS_FILE)
    callbacks.resume.path.unlink(missing_ok=True)  # the variant is done; the full-state checkpoint is not needed
    plot_variant(out_dir)
    return VariantResult(metrics=metrics, history=history)
