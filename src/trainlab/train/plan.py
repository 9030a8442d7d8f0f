"""The plan of a study before any work, and its clock while it trains.

:func:`estimate_study` times a few real training steps of each distinct model/training setting (forward, backward and
optimizer step on batches of the real training split, after one warm-up step), with the builders training uses:
:func:`~trainlab.models.recipe.build_recipe_model`, :func:`~trainlab.train.optim.build_optimizer`,
:func:`~trainlab.data.make_loader`, the input adapter and the task module's loss. The estimate of one run is

    (train steps per epoch × step time + validation batches × eval batch time) × epochs
    + (train + val + test batches) × eval batch time                       (the final evaluation)

and the study's is that times the seeds, summed over variants. It covers training and evaluation only (not plots,
checkpoints or the report), and early stopping can end a variant sooner. :class:`StudyClock` re-estimates the time
left from the measured time of the runs that finished, as the ratio of measured to planned time.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import yaml
from lightning.fabric.utilities.apply_func import move_data_to_device

from trainlab.config import Recipe, Variant
from trainlab.data import (
    DataBundle,
    FileSplit,
    Split,
    TensorSplit,
    TokenSpec,
    TokenSplit,
    WindowSpec,
    WindowSplit,
    make_loader,
)
from trainlab.models.recipe import build_recipe_model
from trainlab.train.inputs import build_input_adapter
from trainlab.train.optim import build_optimizer
from trainlab.train.runtime import Runtime
from trainlab.train.tasks import build_task

WARM_UP_STEPS = 1
MAX_TIMED_STEPS = 10  # train steps timed after the warm-up, fewer when they take longer than the budget
MAX_EVAL_BATCHES = 5
TIMING_BUDGET_S = 2.0  # per setting: timing stops once this much was spent on timed steps (at least one is timed)
CPU_WARNING_S = 12 * 3600  # a CPU study planned for longer than this gets a one-line warning with the CPU sizing
CPU_SIZING = ("--set model.width=0.125 --set model.options.batch_norm=true --set data.image_size=32 "
              "--set study.repeats=1")


@dataclass(frozen=True)
class StepTiming:
    """Measured seconds of one training step (one batch of ``training.batch_size``) and of one evaluation batch."""

    train_step_s: float
    eval_batch_s: float
    timed_steps: int = 0


Timer = Callable[[Recipe, DataBundle, Runtime], StepTiming]


@dataclass(frozen=True)
class VariantPlan:
    """One variant's share of the study: its size, its measured step times and how often it runs them."""

    name: str
    techniques: tuple[str, ...]
    params: int
    timing: StepTiming
    train_steps: int  # per epoch
    val_batches: int  # per epoch
    final_batches: int  # once per run, after training: train, val and test evaluated
    epochs: int
    batch_size: int
    seeds: int
    setting: int = 0  # which timed setting (model/training) it shares with other variants, by first appearance

    @property
    def epoch_s(self) -> float:
        return self.train_steps * self.timing.train_step_s + self.val_batches * self.timing.eval_batch_s

    @property
    def final_s(self) -> float:
        return self.final_batches * self.timing.eval_batch_s

    def run_s(self, epochs: int | None = None) -> float:
        """One seed's run: ``epochs`` (default: all of them) plus the final evaluation."""
        return self.epoch_s * (self.epochs if epochs is None else epochs) + self.final_s

    @property
    def total_s(self) -> float:
        return self.run_s() * self.seeds


@dataclass(frozen=True)
class StudyPlan:
    """What a study will do and about how long it will take on this machine."""

    name: str
    mode: str
    seeds: list[int]
    variants: list[VariantPlan]
    counts: dict[str, int]  # split → samples
    data: str
    image_shape: tuple[int, int, int] | None  # None: the samples are not images (see ``inputs``)
    device: str
    accelerator: str
    precision: str
    settings: int  # distinct model/training settings that were timed
    techniques: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → its dotted overrides
    done: frozenset[tuple[str, int]] = field(default_factory=frozenset)  # (variant, seed) finished earlier
    inputs: str = ""  # what a sample is, when it is not an image (e.g. "texts, vocabulary 5,000, up to 40 tokens")

    @property
    def total_s(self) -> float:
        return sum(variant.total_s for variant in self.variants)

    @property
    def runs(self) -> int:
        return len(self.variants) * len(self.seeds)

    @property
    def remaining_s(self) -> float:
        return sum(v.run_s() for v in self.variants for seed in self.seeds if (v.name, seed) not in self.done)

    def summary(self) -> str:
        """The one line a run prints before training."""
        epochs = {variant.epochs for variant in self.variants}
        epoch_text = plural(max(epochs), "epoch") if len(epochs) == 1 else f"up to {max(epochs)} epochs"
        shape = (f"{plural(len(self.variants), 'variant')} × {plural(len(self.seeds), 'seed')} × {epoch_text}")
        left = ""
        if self.done:
            left = f", {len(self.done)} of {self.runs} runs already finished, about {duration(self.remaining_s)} left"
        return (f"plan: {shape}, about {duration(self.total_s)} on {self.accelerator}{left} (from timed steps of "
                f"{plural(self.settings, 'setting')}; training and evaluation only, early stopping can end a "
                "variant sooner)")

    def warning(self) -> str | None:
        """One line when a CPU study would take longer than :data:`CPU_WARNING_S`, saying how to size it down."""
        if self.accelerator != "cpu" or self.remaining_s <= CPU_WARNING_S:
            return None
        return (f"warning: this study would take about {duration(self.remaining_s)} on {self.device}; to size it "
                f"for a CPU, add {CPU_SIZING} (or train it on a GPU)")

    def lines(self) -> list[str]:
        """The whole plan, as ``trainlab run --dry-run`` prints it."""
        counts = " / ".join(f"{split} {count:,}" for split, count in self.counts.items())
        if self.image_shape is not None:
            channels, height, width = self.image_shape
            samples = f"images, {channels}×{height}×{width}"
        else:
            samples = self.inputs
        out = [
            f"study: {self.name} ({self.mode}), {plural(len(self.variants), 'variant')}, "
            f"seeds {', '.join(str(seed) for seed in self.seeds)}",
            f"data: {self.data}; {counts} {samples}",
            f"device: {self.device}, precision {self.precision}",
        ]
        used = {name for variant in self.variants for name in variant.techniques}
        for name, overrides in self.techniques.items():
            if name not in used:
                continue
            out.append(f"technique {name}: " + ", ".join(f"{key}={flow(value)}" for key, value in overrides.items()))
        width = max(len("variant"), *(len(v.name) for v in self.variants))
        out.append(f"{'variant':<{width}} {'params':>12} {'epochs':>6} {'batch':>5} {'step':>9} {'epoch':>11} "
                   f"{'run':>11} {'all seeds':>11}")
        for v in self.variants:
            done = sum((v.name, seed) in self.done for seed in self.seeds)
            out.append(f"{v.name:<{width}} {v.params:>12,} {v.epochs:>6} {v.batch_size:>5} "
                       f"{step_text(v.timing.train_step_s):>9} {duration(v.epoch_s):>11} {duration(v.run_s()):>11} "
                       f"{duration(v.total_s):>11}" + (f"  ({done} finished)" if done else ""))
        first = self.variants[0]
        out.append(f"per epoch: {first.train_steps:,} train steps + {first.val_batches:,} validation batches "
                   f"({first.name}); after training, {first.final_batches:,} batches evaluate train, val and test")
        out.append(self.summary())
        warning = self.warning()
        return [*out, warning] if warning else out


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def flow(value: Any) -> str:
    """A technique's value as ``--set`` would take it: ``0.0005``, ``{patience: 2}``."""
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip().removesuffix("\n...").strip()


def duration(seconds: float) -> str:
    """``4.2 s`` (under 10 s), ``42 s``, ``1 min 10 s`` (under 10 min), ``12 min``, ``2 h 10 min``, ``3 days 4 h``:
    precise enough for a plan."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(round(seconds / 3600), 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


def step_text(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def timing_key(recipe: Recipe) -> tuple[object, ...]:
    """What sets the cost of a step: the model, the input shape, the batch and how it is trained. Learning rate,
    schedule, weight decay (one more element-wise term) and early stopping do not; dropout's rate does not either."""
    data, training, reg = recipe.data, recipe.training, recipe.regularization
    return (recipe.model.model_dump_json(), data.channels, data.image_size, training.batch_size, training.optimizer,
            training.accelerator, training.precision, training.channels_last, training.num_workers,
            reg.dropout > 0, reg.augmentation.model_dump_json() if reg.augmentation else None)


def _batches(count: int, batch_size: int) -> int:
    return math.ceil(count / batch_size) if count else 0


def _world_size(recipe: Recipe) -> int:
    devices = recipe.training.devices
    return (devices if isinstance(devices, int) else 1) * recipe.training.num_nodes


def estimate_study(recipe: Recipe, variants: list[Variant], bundle: DataBundle, runtimes: dict[str, Runtime],
                   *, done: frozenset[tuple[str, int]] = frozenset(), timer: Timer | None = None) -> StudyPlan:
    """The study's plan: every variant's parameters and measured step times (each distinct setting timed once by
    ``timer``, default :func:`time_steps`), and the estimate."""
    timer = timer or time_steps
    timings: dict[tuple[object, ...], StepTiming] = {}
    plans = []
    counts = {name: len(split) for name, split in bundle.splits().items()}
    for variant in variants:
        vr = variant.recipe
        key = timing_key(vr)
        if key not in timings:
            timings[key] = timer(vr, bundle, runtimes[variant.name])
            if runtimes[variant.name].accelerator == "gpu":
                torch.cuda.empty_cache()  # the timed model and optimizer are gone; give their memory back to training
        with torch.device("meta"):
            params = sum(p.numel() for p in build_recipe_model(vr, len(bundle.classes), bundle.input_spec).parameters())
        world, batch = _world_size(vr), vr.training.batch_size
        per_rank = {name: math.ceil(count / world) for name, count in counts.items()}
        plans.append(VariantPlan(
            name=variant.name, techniques=variant.techniques, params=params, timing=timings[key],
            train_steps=_batches(per_rank["train"], batch), val_batches=_batches(per_rank["val"], batch),
            final_batches=sum(_batches(count, batch) for count in per_rank.values()),
            epochs=vr.training.epochs, batch_size=batch, seeds=len(recipe.seeds), setting=list(timings).index(key),
        ))
    runtime = runtimes[variants[0].name]
    return StudyPlan(name=recipe.name, mode=recipe.study.mode, seeds=recipe.seeds, variants=plans, counts=counts,
                     data=bundle.source or recipe.data.source,
                     image_shape=bundle.image_shape if bundle.is_image else None, inputs=_inputs_text(bundle),
                     device=runtime.device_name, accelerator=runtime.accelerator, precision=runtime.precision,
                     settings=len(timings), techniques=dict(recipe.study.techniques), done=done)


def _inputs_text(bundle: DataBundle) -> str:
    spec = bundle.input_spec
    if isinstance(spec, TokenSpec):
        return f"texts, vocabulary {spec.vocab_size:,}, at most {spec.max_len} tokens"
    if isinstance(spec, WindowSpec):
        return f"windows of {spec.window} weeks × {spec.n_features} features, horizon {spec.horizon}"
    return "images"


def _head(split: Split, count: int) -> Split:
    """The first ``count`` samples of ``split``: enough batches to time, without copying the whole split."""
    if isinstance(split, FileSplit):
        return FileSplit(split.paths[:count], split.labels[:count], split.channels, split.image_size)
    if isinstance(split, TokenSplit):
        return TokenSplit(split.tokens[:count], split.lengths[:count], split.labels[:count])
    if isinstance(split, WindowSplit):
        return split.head(count)
    return TensorSplit(split.images[:count], split.labels[:count])


@contextlib.contextmanager
def _timing_mode(runtime: Runtime) -> Iterator[None]:
    """Deterministic kernels as the Trainer sets them (``deterministic=True`` on the CPU), restored afterwards."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(runtime.deterministic)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    if precision.startswith(("bf16", "16")) and precision.endswith("mixed"):
        dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16
        return torch.autocast(device.type, dtype=dtype)
    return contextlib.nullcontext()


def time_steps(recipe: Recipe, bundle: DataBundle, runtime: Runtime, *, budget_s: float = TIMING_BUDGET_S,
               max_steps: int = MAX_TIMED_STEPS) -> StepTiming:
    """Seconds per training step and per evaluation batch of ``recipe``'s model on real batches of the train split.

    The model, optimizer, loader and batch preparation are built as training builds them; one warm-up step, then up to
    ``max_steps`` timed steps (fewer once ``budget_s`` is spent; at least one), then the same for evaluation batches
    (forward only, in inference mode). The median step is kept.
    """
    gpu = runtime.accelerator == "gpu"
    device = torch.device("cuda" if gpu else "cpu")
    training, data = recipe.training, recipe.data
    resident = gpu and bundle.in_memory and data.device_resident
    split = _head(bundle.train, training.batch_size * (WARM_UP_STEPS + max_steps))
    loader = make_loader(split, batch_size=training.batch_size, shuffle=True, seed=recipe.seed,
                         device=device if resident else "cpu", num_workers=0 if resident else training.num_workers,
                         drop_last=len(split) >= training.batch_size)
    model = build_recipe_model(recipe, len(bundle.classes), bundle.input_spec).to(device)
    channels_last = runtime.channels_last and bundle.is_image
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, training, recipe.regularization.weight_decay)
    inputs = build_input_adapter(bundle, recipe, channels_last, model).to(device)
    task = build_task(model, inputs, bundle, recipe)
    batches = _repeat(loader)

    def clock() -> float:
        if gpu:
            torch.cuda.synchronize(device)
        return time.perf_counter()

    def train_step() -> None:
        batch = inputs.prepare(move_data_to_device(next(batches), device), training=True)
        with _autocast(device, runtime.precision):
            loss, _ = task.loss_and_outputs(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def eval_batch() -> None:
        batch = inputs.prepare(move_data_to_device(next(batches), device), training=False)
        with torch.inference_mode(), _autocast(device, runtime.precision):
            task(batch)

    with _timing_mode(runtime):
        model.train()
        train_times = _timed(train_step, clock, max_steps, budget_s)
        model.eval()
        eval_times = _timed(eval_batch, clock, MAX_EVAL_BATCHES, budget_s / 2)
    return StepTiming(statistics.median(train_times), statistics.median(eval_times), len(train_times))


def _repeat(loader: torch.utils.data.DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from loader


def _timed(step: Callable[[], None], clock: Callable[[], float], count: int, budget_s: float) -> list[float]:
    """Seconds of each of up to ``count`` calls of ``step`` after :data:`WARM_UP_STEPS` untimed ones."""
    for _ in range(WARM_UP_STEPS):
        step()
    times: list[float] = []
    while len(times) < count and (not times or sum(times) < budget_s):
        start = clock()
        step()
        times.append(clock() - start)
    return times


class StudyClock:
    """Elapsed and remaining time of a study while it trains.

    The time left is the plan's time for the runs still to do, scaled by how long the finished runs took against their
    plan (for the epochs they actually ran, so an early stop does not shrink the estimate of the runs after it): the
    ratio of the runs of the same timed setting where some finished (a timing that caught the machine busy is
    corrected for its own setting alone), else the ratio of all finished runs.
    """

    def __init__(self, plan: StudyPlan, now: Callable[[], float] = time.perf_counter) -> None:
        self.plan = plan
        self.now = now
        self.started = now()
        self._variants = {variant.name: variant for variant in plan.variants}
        self._left = {(v.name, seed) for v in plan.variants for seed in plan.seeds} - set(plan.done)
        self._measured_s: dict[int, float] = {}  # setting → seconds of its comparable finished runs
        self._planned_s: dict[int, float] = {}  # setting → the plan's seconds for the same runs

    def finished(self, variant: str, seed: int, seconds: float, epochs: int | None) -> None:
        """A run ended after ``seconds``; ``epochs`` trained in it (None: not comparable to the plan, e.g. a run
        continued from a checkpoint or one that failed)."""
        self._left.discard((variant, seed))
        if epochs is not None and epochs > 0:
            plan = self._variants[variant]
            self._measured_s[plan.setting] = self._measured_s.get(plan.setting, 0.0) + seconds
            self._planned_s[plan.setting] = self._planned_s.get(plan.setting, 0.0) + plan.run_s(epochs)

    def ratio(self, setting: int | None = None) -> float:
        """Measured over planned time of the comparable finished runs of ``setting`` (None: of all settings); the
        ratio of all of them for a setting with none, and 1 before any."""
        if setting is not None and self._planned_s.get(setting, 0.0) > 0:
            return self._measured_s[setting] / self._planned_s[setting]
        planned = sum(self._planned_s.values())
        return sum(self._measured_s.values()) / planned if planned > 0 else 1.0

    def remaining_s(self) -> float:
        return sum(self.ratio(self._variants[name].setting) * self._variants[name].run_s() for name, _ in self._left)

    def status(self) -> str:
        elapsed = f"elapsed {duration(self.now() - self.started)}"
        return f"{elapsed}, about {duration(self.remaining_s())} left" if self._left else elapsed
