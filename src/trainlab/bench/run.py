"""The bench's setup (recipe, runtime, data), its rounds in ABBA order, and its result.

A round measures each of the three ways once: course, plain, trainer in even rounds and the reverse in odd ones
(ABC / CBA), so every pair of ways is measured in ABBA order and a steady drift in machine speed (heat, other work)
hits both sides of a ratio alike. Each ratio is the median over rounds of that round's ratio, so one disturbed round
cannot move it much; each way's samples/s is the median of its rounds.
"""

from __future__ import annotations

import resource
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from trainlab.bench.ways import WAYS, BenchSetup, measure
from trainlab.config import Recipe, load_recipe
from trainlab.data import DataBundle, FileSplit, TensorSplit, build_dataset
from trainlab.errors import TrainlabError
from trainlab.models import INPUT_NAMES, model_input, model_names, model_options
from trainlab.models.recipe import build_recipe_model
from trainlab.train.runtime import Runtime, resolve_runtime, versions
from trainlab.validate import check_int

BASE_RECIPE = "vgg13-ablation"
# On the CPU the recipe's full VGG-13 at 64x64 takes seconds per step; these make a round take seconds.
CPU_SIZING: dict[str, Any] = {"model.width": 0.125, "data.image_size": 32}
DIGITS: dict[str, Any] = {"data.source": "digits", "data.path": None, "data.channels": 1}
RATIOS = (("trainer", "plain"), ("plain", "course"), ("trainer", "course"), ("course", "plain"))
MIB = 1 << 20
TEXT_AND_FORECAST = ("text and forecasting models are measured by bench/bench_text.py and bench/bench_forecast.py for "
                     "now")


@dataclass(frozen=True)
class BenchOptions:
    """The command's options; None means the default for the machine (see :func:`bench_recipe`)."""

    model: str = "vgg13"
    data: Path | None = None
    width: float | None = None
    image_size: int | None = None
    batch_size: int | None = None
    steps: int = 20
    pairs: int = 3
    overrides: dict[str, Any] = field(default_factory=dict)
    recipe: str = BASE_RECIPE


@dataclass(frozen=True)
class BenchResult:
    """Each way's speed per round and peak memory, and what was measured where."""

    setup: BenchSetup
    options: BenchOptions
    runs: dict[str, list[float]]  # way → samples/s of each round
    peaks: dict[str, int | None]  # way → the highest CUDA peak of its rounds (None on the CPU)
    process_max_rss: int  # bytes
    data: str
    unique_train_images: int
    params: int

    def samples_per_s(self, way: str) -> float:
        return statistics.median(self.runs[way])

    def ratio(self, way: str, reference: str) -> float:
        """The median over rounds of ``way``'s speed over ``reference``'s in the same round."""
        pairs = zip(self.runs[way], self.runs[reference], strict=True)
        return statistics.median(speed / other for speed, other in pairs)

    @property
    def memory_measure(self) -> str:
        if self.setup.device.type == "cuda":
            return "torch.cuda.max_memory_allocated, per way"
        return "process max RSS (getrusage), one figure for the whole process: CPU memory is not told apart by way"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object."""
        setup, runtime = self.setup, self.setup.runtime
        ways = {name: {"label": way.label, "description": way.description,
                       "samples_per_s": round(self.samples_per_s(name), 1),
                       "runs": [round(value, 1) for value in self.runs[name]],
                       "peak_memory_mb": None if self.peaks[name] is None else round(self.peaks[name] / MIB, 1)}
                for name, way in WAYS.items()}
        known = versions()
        return {
            "model": setup.recipe.model.name, "recipe": self.options.recipe, "width": setup.recipe.model.width,
            "params": self.params, "data": self.data, "image_shape": list(setup.bundle.image_shape),
            "classes": len(setup.bundle.classes), "unique_train_images": self.unique_train_images,
            "batch_size": setup.batch_size, "steps": setup.steps, "warmup_steps": setup.steps,
            "pairs": self.options.pairs, "order": "course, plain, trainer in even rounds; the reverse in odd ones",
            "device": runtime.device_name, "accelerator": runtime.accelerator, "precision": runtime.precision,
            "channels_last": runtime.channels_last,
            "compile": runtime.compile,
            "ways": ways,
            "ratios": {f"{way}_vs_{reference}": round(self.ratio(way, reference), 3) for way, reference in RATIOS},
            "ratios_of": "median of per-round ratios",
            "peak_memory": {"measure": self.memory_measure, "process_max_rss_mb": round(self.process_max_rss / MIB, 1)},
            "versions": {name: known[name] for name in ("torch", "lightning", "trainlab", "python")},
            "overrides": {key: _jsonable(value) for key, value in self.options.overrides.items()},
        }


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | list | dict | None) else str(value)


def check_options(options: BenchOptions) -> None:
    """One line for a bad option, before any data is read."""
    check_int("--steps", options.steps, 1, 1_000_000)
    check_int("--pairs", options.pairs, 1, 1000)
    if options.batch_size is not None:
        check_int("--batch-size", options.batch_size, 1, 1 << 20)
    if options.model not in model_names():
        raise TrainlabError(f"unknown model {options.model!r}; image models: {', '.join(model_names('image'))}")
    if model_input(options.model) != "image":
        raise TrainlabError(f"trainlab bench measures image models; {options.model!r} reads "
                            f"{INPUT_NAMES[model_input(options.model)]}: {TEXT_AND_FORECAST}")


def bench_recipe(options: BenchOptions) -> tuple[Recipe, Runtime]:
    """The recipe every way trains and the trainer's runtime.

    Layers, later ones winning: the base recipe; the CPU sizing (on the CPU only); the data (digits unless ``--data``);
    ``--model`` (keeping the base's model options the new model takes); ``--width``, ``--image-size``,
    ``--batch-size``; the ``--set`` overrides; and what the bench fixes (its base variant alone, two epochs, no early
    stopping or progress bar).
    """
    base = load_recipe(options.recipe)
    data = DIGITS if options.data is None else {"data.source": "image_folder", "data.path": str(options.data)}
    model: dict[str, Any] = {}
    if options.model != base.model.name:
        accepted = model_options(options.model)
        options_kept = {key: value for key, value in base.model.options.items() if key in accepted}
        model = {"model.name": options.model, "model.options": options_kept}
    chosen = {key: value for key, value in (("model.width", options.width), ("data.image_size", options.image_size),
                                            ("training.batch_size", options.batch_size)) if value is not None}
    fixed = {"training.epochs": 2, "training.progress_bar": False, "study.mode": "single", "study.repeats": 1,
             "regularization.early_stopping": None}
    layers = {**data, **model, **chosen, **options.overrides, **fixed}
    runtime = resolve_runtime(load_recipe(options.recipe, layers).training)
    sizing = CPU_SIZING if runtime.accelerator == "cpu" else {}
    return load_recipe(options.recipe, {**sizing, **layers}), runtime


def _spread(split: TensorSplit | FileSplit, count: int) -> TensorSplit:
    """``count`` images of ``split`` (all of them if it has fewer) at evenly spaced indices, in memory, ids kept.

    Evenly spaced, not the first ones: an image folder's splits are in class order. Data too large for memory (a
    FileSplit) has just these decoded, since every way must train on the same in-memory tensors.
    """
    total = len(split)
    index = torch.arange(total) if count >= total else torch.arange(count) * total // count
    if isinstance(split, TensorSplit):
        ids = tuple(split.ids[i] for i in index.tolist()) if split.ids else ()
        return TensorSplit(split.images[index], split.labels[index], ids)
    if len(index) == 0:
        return TensorSplit.empty(*split.image_shape)
    images = torch.stack([split.read(i) for i in index.tolist()])
    return TensorSplit(images, split.labels[index], tuple(split.ids[i] for i in index.tolist()) if split.ids else ())


def bench_bundle(bundle: DataBundle, steps: int, batch_size: int) -> DataBundle:
    """The bundle every way trains on: a train split of exactly ``steps × batch_size`` images (train images spread
    over the split, repeated when there are fewer) and one batch each of validation and test images, in memory."""
    if not bundle.is_image:
        raise TrainlabError(f"trainlab bench measures images; this data gives {bundle.input_spec.kind}: "
                            f"{TEXT_AND_FORECAST}")
    assert isinstance(bundle.train, TensorSplit | FileSplit) and isinstance(bundle.val, TensorSplit | FileSplit)
    assert isinstance(bundle.test, TensorSplit | FileSplit), "image bundles hold tensors or files"
    wanted = steps * batch_size
    unique = _spread(bundle.train, wanted)
    if len(unique) == 0:
        raise TrainlabError("the data's train split is empty; trainlab bench needs images to train on")
    index = torch.arange(wanted) % len(unique)
    train = TensorSplit(unique.images[index], unique.labels[index])
    return replace(bundle, train=train, val=_spread(bundle.val, batch_size), test=_spread(bundle.test, batch_size))


def max_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_bench(options: BenchOptions, notify: Callable[[str], None] = lambda line: None) -> BenchResult:
    """Set up, then measure every way once per round in ABC / CBA order; ``notify`` gets one line per measurement."""
    check_options(options)
    recipe, runtime = bench_recipe(options)
    full = build_dataset(recipe.data, recipe.output.cache_dir)
    bundle = bench_bundle(full, options.steps, recipe.training.batch_size)
    setup = BenchSetup(recipe=recipe, bundle=bundle, runtime=runtime, steps=options.steps)
    with torch.device("meta"):
        params = sum(p.numel() for p in build_recipe_model(recipe, len(bundle.classes), bundle.input_spec).parameters())
    order = list(WAYS)
    runs: dict[str, list[float]] = {name: [] for name in order}
    peaks: dict[str, int | None] = {name: None for name in order}
    for round_index in range(options.pairs):
        for name in order if round_index % 2 == 0 else order[::-1]:
            measured = measure(name, setup)
            runs[name].append(measured.samples_per_s)
            if measured.peak_memory_bytes is not None:
                peaks[name] = max(peaks[name] or 0, measured.peak_memory_bytes)
            notify(f"round {round_index + 1}/{options.pairs}: {WAYS[name].label} "
                   f"{measured.samples_per_s:,.1f} samples/s")
    data = "digits (packaged with scikit-learn)" if options.data is None else str(options.data)
    return BenchResult(setup=setup, options=options, runs=runs, peaks=peaks, process_max_rss=max_rss_bytes(),
                       data=data, unique_train_images=min(len(full.train), options.steps * setup.batch_size),
                       params=params)
