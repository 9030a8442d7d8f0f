"""The plan before the work: the estimate's arithmetic, the timed steps, the CPU warning and the study clock."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
import torch

from trainlab.config import Recipe, load_recipe
from trainlab.data import DataBundle, TensorSplit, build_dataset
from trainlab.train import plan as plan_module
from trainlab.train.plan import (
    CPU_WARNING_S,
    StepTiming,
    StudyClock,
    StudyPlan,
    VariantPlan,
    duration,
    estimate_study,
    time_steps,
)
from trainlab.train.runtime import Runtime, resolve_runtime
from trainlab.train.study import run_study

CPU = Runtime(accelerator="cpu", precision="32-true", channels_last=False, deterministic=True,
              device_name="cpu: x86_64 (2 threads)")
GPU = Runtime(accelerator="gpu", precision="bf16-mixed", channels_last=True, deterministic=False,
              device_name="cuda: NVIDIA H100")
README_CPU_SIZING = ("--set model.width=0.125 --set model.options.batch_norm=true --set data.image_size=32 "
                     "--set study.repeats=1")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0.0 s"), (-3.0, "0.0 s"), (4.24, "4.2 s"), (9.96, "10 s"), (42.4, "42 s"), (59.6, "1 min"),
    (70, "1 min 10 s"), (120, "2 min"), (599.6, "10 min"), (725, "12 min"), (3599.7, "1 h"), (7800, "2 h 10 min"),
    (6000, "1 h 40 min"), (86_399, "1 day"), (90_000, "1 day 1 h"), (172_800, "2 days"), (273_600, "3 days 4 h"),
])
def test_durations_read_as_a_person_would_say_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def _variant(name: str, *, step: float = 1.0, eval_s: float = 0.5, epochs: int = 3, seeds: int = 2) -> VariantPlan:
    return VariantPlan(name=name, techniques=(), params=1000, timing=StepTiming(step, eval_s, 3), train_steps=10,
                       val_batches=2, final_batches=4, epochs=epochs, batch_size=64, seeds=seeds)


def _plan(variants: list[VariantPlan], runtime: Runtime = CPU, done: frozenset[tuple[str, int]] = frozenset(),
          seeds: tuple[int, ...] = (0, 1)) -> StudyPlan:
    return StudyPlan(name="s", mode="cumulative", seeds=list(seeds), variants=variants,
                     counts={"train": 640, "val": 128, "test": 128}, data="d", image_shape=(3, 8, 8),
                     device=runtime.device_name, accelerator=runtime.accelerator, precision=runtime.precision,
                     settings=1, done=done)


def test_estimate_arithmetic_with_a_fake_step_time() -> None:
    variant = _variant("base", step=0.5, eval_s=0.1, epochs=3, seeds=2)
    assert variant.epoch_s == pytest.approx(10 * 0.5 + 2 * 0.1)  # train steps + validation batches
    assert variant.final_s == pytest.approx(4 * 0.1)  # train, val and test evaluated once after training
    assert variant.run_s() == pytest.approx(5.2 * 3 + 0.4)
    assert variant.run_s(1) == pytest.approx(5.2 + 0.4)  # a run that stopped early after one epoch
    assert variant.total_s == pytest.approx(16.0 * 2)
    plan = _plan([variant, _variant("+l2", step=1.0, eval_s=0.5, epochs=3, seeds=2)])
    assert plan.total_s == pytest.approx(32.0 + 2 * (11.0 * 3 + 2.0))
    assert plan.summary().startswith("plan: 2 variants × 2 seeds × 3 epochs, about 1 min 42 s on cpu (")


def _tiny_digits(*overrides: str) -> tuple[Recipe, DataBundle]:
    recipe = load_recipe("digits-demo", ["data.max_per_class=20", "training.epochs=2", *overrides])
    return recipe, build_dataset(recipe.data, Path("unused"))


def test_each_distinct_setting_is_timed_once_and_counted_on_the_real_splits() -> None:
    recipe, bundle = _tiny_digits()
    variants = recipe.variants()
    timed: list[str] = []

    def fake_timer(variant_recipe: Recipe, data: DataBundle, runtime: Runtime) -> StepTiming:
        assert data is bundle and runtime is CPU
        timed.append(f"dropout={variant_recipe.regularization.dropout} "
                     f"augment={variant_recipe.regularization.augmentation is not None}")
        return StepTiming(0.5, 0.2, 4)

    plan = estimate_study(recipe, variants, bundle, dict.fromkeys((v.name for v in variants), CPU), timer=fake_timer)
    # weight decay and early stopping do not change a step's cost: 3 settings for 5 variants
    assert timed == ["dropout=0.0 augment=False", "dropout=0.3 augment=False", "dropout=0.3 augment=True"]
    assert plan.settings == 3 and plan.counts == {"train": 140, "val": 30, "test": 30}
    assert [v.name for v in plan.variants] == [v.name for v in variants]
    assert [v.setting for v in plan.variants] == [0, 0, 1, 1, 2]
    for v in plan.variants:
        assert (v.params, v.train_steps, v.val_batches, v.final_batches) == (449_122, 3, 1, 5)  # ⌈140/64⌉, ⌈30/64⌉
    # (3 × 0.5 + 1 × 0.2) × 2 epochs + 5 × 0.2, for 5 variants and one seed
    assert plan.total_s == pytest.approx(5 * (1.7 * 2 + 1.0))
    assert plan.summary() == ("plan: 5 variants × 1 seed × 2 epochs, about 22 s on cpu (from timed steps of 3 "
                              "settings; training and evaluation only, early stopping can end a variant sooner)")
    lines = plan.lines()
    assert "technique dropout: regularization.dropout=0.3" in lines
    assert "technique early_stopping: regularization.early_stopping={patience: 2}" in lines
    assert sum(line.startswith(v.name + " ") and "449,122" in line for v in variants for line in lines) == 5


def test_time_steps_measures_real_steps_and_restores_the_deterministic_setting() -> None:
    recipe, bundle = _tiny_digits("regularization.augmentation={hflip: 0.5}")
    torch.use_deterministic_algorithms(False)
    timing = time_steps(recipe, bundle, resolve_runtime(recipe.training), budget_s=60.0, max_steps=3)
    assert not torch.are_deterministic_algorithms_enabled()
    assert timing.timed_steps == 3
    assert 0 < timing.eval_batch_s < 5 and 0 < timing.train_step_s < 5
    assert math.isfinite(timing.train_step_s)
    assert time_steps(recipe, bundle, CPU, budget_s=0.0).timed_steps == 1  # a spent budget still times one step


def _course_sized_bundle() -> DataBundle:
    """As many 3×64×64 images as the course archive gives each split (6,300 / 1,350 / 1,350), without the pixels."""
    def split(count: int) -> TensorSplit:
        images = torch.zeros((1, 3, 64, 64), dtype=torch.uint8).expand(count, -1, -1, -1)
        return TensorSplit(images, torch.arange(count) % 3)

    return DataBundle(train=split(6300), val=split(1350), test=split(1350), classes=["dogs", "food", "vehicles"],
                      source="course-sized")


def _vgg13_plan(*overrides: str, runtime: Runtime = CPU, step: float = 3.0) -> StudyPlan:
    recipe = load_recipe("vgg13-ablation", ["data.path=/unused", *overrides])
    variants = recipe.variants()
    return estimate_study(recipe, variants, _course_sized_bundle(), dict.fromkeys((v.name for v in variants), runtime),
                          timer=lambda *_: StepTiming(step, step / 3, 1))


def test_a_full_width_vgg13_on_a_cpu_warns_in_one_line_how_to_size_it() -> None:
    """3 s a step is what two CPU cores take for the full-width VGG-13 on 64×64 batches of 64 (measured by hand)."""
    plan = _vgg13_plan()
    first = plan.variants[0]
    assert (first.params, first.train_steps, first.val_batches, first.final_batches) == (34_591_299, 99, 22, 143)
    # (99 × 3 s + 22 × 1 s) × 15 epochs + 143 × 1 s, × 3 seeds × 5 variants
    assert plan.total_s == pytest.approx(((99 * 3 + 22) * 15 + 143) * 3 * 5)
    assert plan.warning() == ("warning: this study would take about 20 h 32 min on cpu: x86_64 (2 threads); to size "
                              f"it for a CPU, add {README_CPU_SIZING} (or train it on a GPU)")
    assert plan.lines()[-1] == plan.warning()
    assert _vgg13_plan(runtime=GPU).warning() is None  # the CPU sizing is no advice for a GPU
    sized = _vgg13_plan(*README_CPU_SIZING.replace("--set ", "").split(), step=0.02)
    assert sized.total_s < CPU_WARNING_S and sized.warning() is None


def test_the_warning_threshold_is_twelve_hours() -> None:
    just_under = _plan([_variant("base", step=(CPU_WARNING_S - 10) / 60 / 10, eval_s=0.0, epochs=30, seeds=2)])
    assert just_under.total_s == pytest.approx(CPU_WARNING_S - 10) and just_under.warning() is None
    over = _plan([_variant("base", step=(CPU_WARNING_S + 60) / 60 / 10, eval_s=0.0, epochs=30, seeds=2)])
    assert over.warning() is not None and "about 12 h 1 min on cpu" in over.warning()


class _FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_re_estimates_the_time_left_from_finished_runs() -> None:
    now = _FakeTime()
    plan = _plan([_variant("base"), _variant("+l2")])  # each run: (10 × 1 + 2 × 0.5) × 3 + 4 × 0.5 = 35 s
    clock = StudyClock(plan, now=now)
    assert clock.remaining_s() == pytest.approx(4 * 35) and clock.status() == "elapsed 0.0 s, about 2 min 20 s left"
    now.now = 70.0
    clock.finished("base", 0, 70.0, epochs=3)  # twice as slow as planned
    assert clock.ratio() == pytest.approx(2.0)
    assert clock.status() == "elapsed 1 min 10 s, about 3 min 30 s left"  # 2 × 3 runs × 35 s
    now.now = 96.0
    clock.finished("base", 1, 26.0, epochs=1)  # stopped early: compared with one epoch's plan (13 s), still 2×
    assert clock.ratio() == pytest.approx(2.0)
    assert clock.status() == "elapsed 1 min 36 s, about 2 min 20 s left"
    now.now = 101.0
    clock.finished("+l2", 0, 5.0, epochs=None)  # a failed (or continued) run leaves the ratio alone
    assert clock.ratio() == pytest.approx(2.0) and clock.remaining_s() == pytest.approx(70.0)
    clock.finished("+l2", 1, 70.0, epochs=3)
    assert clock.status() == "elapsed 1 min 41 s"  # nothing left to estimate


def test_the_clock_corrects_each_timed_setting_by_its_own_runs() -> None:
    """A setting whose timing caught the machine busy (planned 4× too long) does not shrink the other's estimate."""
    slow_timing = dataclasses.replace(_variant("+aug", step=4.0, eval_s=2.0), setting=1)  # each run: 140 s planned
    clock = StudyClock(_plan([_variant("base"), slow_timing]), now=_FakeTime())
    clock.finished("+aug", 0, 35.0, epochs=3)  # took a quarter of its plan
    assert (clock.ratio(1), clock.ratio(0), clock.ratio()) == pytest.approx((0.25, 0.25, 0.25))
    clock.finished("base", 0, 35.0, epochs=3)  # as planned
    assert (clock.ratio(1), clock.ratio(0)) == pytest.approx((0.25, 1.0))
    assert clock.remaining_s() == pytest.approx(35.0 + 0.25 * 140.0)  # base seed 1, +aug seed 1


def test_a_resumed_plan_counts_only_the_runs_left() -> None:
    plan = _plan([_variant("base"), _variant("+l2")], done=frozenset({("base", 0), ("base", 1)}))
    assert plan.total_s == pytest.approx(140.0) and plan.remaining_s == pytest.approx(70.0)
    assert ", 2 of 4 runs already finished, about 1 min 10 s left (" in plan.summary()
    assert StudyClock(plan).remaining_s() == pytest.approx(70.0)
    assert any(line.startswith("base ") and line.endswith("(2 finished)") for line in plan.lines())


def test_a_run_prints_the_plan_and_the_time_left_after_each_run(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "time_steps", lambda *_: StepTiming(0.01, 0.005, 1))
    recipe = load_recipe("digits-demo", ["data.max_per_class=20", "training.epochs=1", "study.mode=single",
                                         "study.repeats=2", "study.baselines=[]", "training.progress_bar=false",
                                         f"output.dir={tmp_path / 'runs'}", f"output.cache_dir={tmp_path / 'c'}"])
    lines: list[str] = []
    run_study(recipe, notify=lines.append)
    plan_line = next(i for i, line in enumerate(lines) if line.startswith("plan: "))
    assert lines[plan_line].startswith("plan: 1 variant × 2 seeds × 1 epoch, about 0.1 s on cpu (")
    assert plan_line < lines.index("[1/1] base seed 0: training")
    first, second = (line for line in lines if "test accuracy" in line)
    assert re.search(r"train images/s \(elapsed [\d.]+ s, about [\d.]+ s left\)$", first), first
    assert re.search(r"train images/s \(elapsed [\d.]+ s\)$", second), second
