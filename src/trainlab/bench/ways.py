"""The three ways of training the same model on the same data, and how one of them is measured.

Every way builds its model and optimizer from the same recipe with trainlab's builders (same seed, same weights at the
start), trains on the same uint8 train split (``steps`` batches of ``batch_size``), makes one untimed pass over it
(warm-up: lazy init, allocator growth, cuDNN autotuning) and then one timed pass. What differs is only how the loop is
written, which is what the bench is there to show:

* **course-style**: what the course notebooks do. fp32, a ``DataLoader`` over a CPU ``TensorDataset`` of float
  images (one Python call per sample, then a collate), normalized on the CPU batch by batch, ``.to(device)`` for each
  batch, ``loss.item()`` every step for the running loss. No device-resident data, autocast or channels-last.
* **plain optimized**: what a careful PyTorch user writes. The uint8 data lives on the device, each batch is one
  index, converted and normalized there (:func:`~trainlab.data.augment.prepare_batch`); on CUDA bf16 autocast and
  channels-last, and torch.compile when ``training.compile`` resolves to it: the same choices the trainer's runtime
  makes (:func:`~trainlab.train.runtime.resolve_runtime`).
* **trainer**: trainlab's Lightning trainer itself, :func:`~trainlab.train.fit.fit_variant`, for two epochs of
  ``steps`` steps; its ``TrainThroughput`` callback times the second. It writes its run folder into a temporary
  directory that is removed afterwards. Its final evaluation, predictions and plots run outside the timed epoch.
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.config import Recipe, Variant
from trainlab.data import BatchAugment, DataBundle, TensorSplit
from trainlab.data.augment import prepare_batch
from trainlab.errors import TrainlabError
from trainlab.models.recipe import build_recipe_model
from trainlab.train.compile import compile_in_place
from trainlab.train.inputs import image_normalization
from trainlab.train.optim import build_optimizer
from trainlab.train.runtime import Runtime


@dataclass(frozen=True)
class BenchSetup:
    """What every way trains: the recipe (its base variant, two epochs), the data (a train split of exactly
    ``steps × batch_size`` uint8 images in memory), the runtime the trainer resolved, and the timed steps."""

    recipe: Recipe
    bundle: DataBundle
    runtime: Runtime
    steps: int

    @property
    def device(self) -> torch.device:
        return torch.device("cuda" if self.runtime.accelerator == "gpu" else "cpu")

    @property
    def train(self) -> TensorSplit:
        assert isinstance(self.bundle.train, TensorSplit), "the bench decodes its train split into memory"
        return self.bundle.train

    @property
    def batch_size(self) -> int:
        return self.recipe.training.batch_size


@dataclass(frozen=True)
class Measurement:
    """One way's steady-state speed, and its peak device memory (CUDA only; None on the CPU)."""

    samples_per_s: float
    peak_memory_bytes: int | None


@dataclass(frozen=True)
class Way:
    """A way of training: its label in the table, what it does in a few words, and the function that times it."""

    label: str
    description: str
    samples_per_s: Callable[[BenchSetup], float]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model_and_optimizer(setup: BenchSetup) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The recipe's model on the device, seeded, with the recipe's optimizer: the same start for every way."""
    recipe = setup.recipe
    torch.manual_seed(recipe.seed)
    model = build_recipe_model(recipe, len(setup.bundle.classes), setup.bundle.input_spec).to(setup.device)
    model.train()
    return model, build_optimizer(model, recipe.training, recipe.regularization.weight_decay)


def _augment(recipe: Recipe) -> BatchAugment | None:
    augmentation = recipe.regularization.augmentation
    return BatchAugment(augmentation) if augmentation else None


def _timed_pass(one_pass: Callable[[], int], setup: BenchSetup) -> float:
    """Samples per second of the second of two passes (the first is warm-up)."""
    one_pass()
    _sync(setup.device)
    started = time.perf_counter()
    samples = one_pass()
    _sync(setup.device)
    return samples / (time.perf_counter() - started)


def course_style(setup: BenchSetup) -> float:
    """The course notebooks' loop: fp32, CPU TensorDataset of floats, normalize on the CPU, ``.to(device)``."""
    device, split = setup.device, setup.train
    model, optimizer = _model_and_optimizer(setup)
    mean, std = (torch.tensor(values).view(1, -1, 1, 1) for values in image_normalization(setup.bundle, model))
    augment = _augment(setup.recipe)
    dataset = TensorDataset(split.images.float().div(255.0), split.labels)
    generator = torch.Generator()
    generator.manual_seed(setup.recipe.seed)
    loader = DataLoader(dataset, batch_size=setup.batch_size, shuffle=True, generator=generator)
    criterion = nn.CrossEntropyLoss()

    def one_pass() -> int:
        running_loss, seen = 0.0, 0
        for images, labels in loader:
            if augment is not None:
                images = augment(images)
            images = (images - mean) / std
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            seen += len(labels)
        return seen

    return _timed_pass(one_pass, setup)


def plain_optimized(setup: BenchSetup) -> float:
    """A careful hand-written loop: data on the device, one index per batch, the trainer's precision and layout."""
    device, runtime, split = setup.device, setup.runtime, setup.train
    model, optimizer = _model_and_optimizer(setup)
    channels_last = runtime.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if runtime.compile:  # the trainer compiles (training.compile), so the hand-written loop does too
        example = torch.zeros(1, *split.images.shape[1:], device=device)
        compile_in_place(model.to(device), (example,))
    mean, std = (torch.tensor(values, device=device).view(1, -1, 1, 1)
                 for values in image_normalization(setup.bundle, model))
    augment = _augment(setup.recipe)
    images, labels = split.images.to(device), split.labels.to(device)
    precision = runtime.precision
    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16
    mixed = precision.endswith("-mixed")
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
    count, batch_size = len(labels), setup.batch_size

    def one_pass() -> int:
        order = torch.randperm(count, device=device)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            batch = prepare_batch(images[index], mean, std, augment, channels_last)
            with torch.autocast(device.type, dtype=dtype, enabled=mixed):
                loss = F.cross_entropy(model(batch).float(), labels[index])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return count

    return _timed_pass(one_pass, setup)


def trainer_samples_per_s(variant: Variant, bundle: DataBundle, runtime: Runtime, out_dir: Path) -> float:
    """One ``fit_variant`` run's steady-state training speed (epochs after the first, as its callback measured it);
    also the trainer's side of bench/bench_text.py and bench/bench_forecast.py."""
    from trainlab.train.fit import fit_variant  # Lightning: loaded only when the trainer way runs

    result = fit_variant(variant, bundle, out_dir, runtime)
    if result is None or result.metrics is None:
        reason = result.failure.reason if result is not None and result.failure is not None else "no metrics"
        raise TrainlabError(f"the trainer's benchmark run failed: {reason}")
    return result.metrics.train_images_per_s


def trainer(setup: BenchSetup) -> float:
    """trainlab's trainer on the same recipe and data, two epochs; the speed of the second. The run folder lives in a
    temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="trainlab-bench-") as scratch:
        recipe = setup.recipe.with_overrides({"output.dir": scratch}, origin="trainlab bench")
        variant = Variant(name="base", techniques=(), recipe=recipe)
        return trainer_samples_per_s(variant, setup.bundle, setup.runtime, Path(scratch) / "base")


WAYS: dict[str, Way] = {
    "course": Way("course-style", "fp32, DataLoader over a CPU TensorDataset, normalized on the CPU, .to(device) "
                                  "per batch, loss.item() per step", course_style),
    "plain": Way("plain optimized", "data on the device, one index per batch, prepare_batch there; the trainer's "
                                    "precision and channels-last", plain_optimized),
    "trainer": Way("trainer", "trainlab's Lightning trainer (fit_variant), second of two epochs", trainer),
}


@contextlib.contextmanager
def _deterministic(enabled: bool | None) -> Iterator[None]:
    """Deterministic kernels as ``enabled`` says (None: as the code inside sets them), restored afterwards.

    Lightning turns them on for a CPU run and leaves them on; without this the ways measured after the trainer would
    run under its setting instead of their own.
    """
    before = torch.are_deterministic_algorithms_enabled()
    if enabled is not None:
        torch.use_deterministic_algorithms(enabled)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def measure(name: str, setup: BenchSetup) -> Measurement:
    """Time way ``name`` once: its speed and, on CUDA, its peak allocated memory (counted from this call's start).

    The course-style loop runs with PyTorch's default kernels; the plain loop with the trainer's choice
    (deterministic on the CPU), which the trainer sets itself.
    """
    gc.collect()
    cuda = setup.device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(setup.device)
    deterministic = {"course": False, "plain": setup.runtime.deterministic}.get(name)
    with _deterministic(deterministic):
        speed = WAYS[name].samples_per_s(setup)
    peak = int(torch.cuda.max_memory_allocated(setup.device)) if cuda else None
    return Measurement(samples_per_s=speed, peak_memory_bytes=peak)
