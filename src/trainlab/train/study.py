"""Run every variant of a recipe's study, once per seed, and render the report.

The data is built once and shared by all variants; a variant may change the model and how it is trained, nothing
else. The run folder is created only after the recipe, the variants, their model options and Lightning settings, the
output folders (before the data is loaded), the data and every variant's model have all been checked, so a user
mistake leaves no folder. A run whose ``metrics.json`` (or ``failure.json``) exists is skipped and one that finds
``checkpoints/last.ckpt`` continues from it, which is how ``--resume`` continues an interrupted study. With
``study.repeats`` > 1 each variant gets one sub-folder per seed (``base/seed-0``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_only

from trainlab.artifacts import (
    BASELINES_FILE,
    FAILURE_FILE,
    METRICS_FILE,
    RECIPE_FILE,
    STUDY_FILE,
    DataFigure,
    RegressionTestScore,
    StudyRecord,
    VariantMetrics,
)
from trainlab.config import Recipe, Variant
from trainlab.data import DataBundle, build_dataset
from trainlab.errors import StudyInterrupted, TrainlabError
from trainlab.io import atomic_write_text, check_writable_dir
from trainlab.models import check_model_options, model_input, model_names
from trainlab.models.recipe import build_recipe_model
from trainlab.models.transfer import TRANSFER_OPTIONS
from trainlab.report import render
from trainlab.report.eda import plot_data_figures
from trainlab.report.formats import fmt_amount
from trainlab.train.fit import check_training_settings, fit_variant, quiet_lightning
from trainlab.train.loggers import check_loggers, log_study_artifacts, mlflow_store
from trainlab.train.plan import StudyClock, StudyPlan, estimate_study
from trainlab.train.resume import LAST_CHECKPOINT
from trainlab.train.rundir import check_resume, check_same_data, new_run_dir
from trainlab.train.runtime import Runtime, resolve_runtime, versions
from trainlab.train.tasks import baseline_registry, fit_baselines, primary_metric, primary_record, target_kind

Notify = Callable[[str], None]


def seeded_runs(recipe: Recipe, variant: Variant) -> list[tuple[str, Variant]]:
    """``(folder, variant with its seed set)`` for each seed of the study; one seed keeps the plain variant folder."""
    seeds = recipe.seeds
    if len(seeds) == 1:
        return [(variant.folder, variant)]
    return [
        (f"{variant.folder}/seed-{seed}", variant.model_copy(update={"recipe": variant.recipe.with_overrides(
            {"seed": seed}, origin=f"seed {seed} of variant {variant.name!r}")}))
        for seed in seeds
    ]


def check_settings(recipe: Recipe, variants: list[Variant], resume: Path | None = None) -> dict[str, Runtime]:
    """Before the data is loaded: baseline names, output folders, and each variant's model options, runtime and
    Lightning settings."""
    quiet_lightning()
    known = baseline_registry(recipe.task)
    unknown = [name for name in recipe.baselines if name not in known]
    if unknown:
        raise TrainlabError(f"study.baselines: unknown baseline {unknown[0]!r} for task {recipe.task!r}; known: "
                            f"{', '.join(known.names())} (or [] for none)")
    check_writable_dir(resume if resume is not None else recipe.output.dir, "--resume" if resume else "output.dir")
    check_writable_dir(recipe.output.cache_dir, "output.cache_dir")
    check_loggers(recipe)
    runtimes = {}
    for variant in variants:
        check_model_options(variant.recipe.model.name, variant.recipe.model.options)
        check_pretrained(variant)
        runtimes[variant.name] = resolve_runtime(variant.recipe.training)
        check_training_settings(variant.recipe, runtimes[variant.name])
    return runtimes


def check_pretrained(variant: Variant) -> None:
    """Before the data is loaded: an image model's pretrained weights exist and fit it (read, and built on the meta
    device with two placeholder classes: the output layer's fit is never an error)."""
    options = variant.recipe.model.options
    if model_input(variant.recipe.model.name) != "image" or not set(options) & set(TRANSFER_OPTIONS):
        return
    try:
        with torch.device("meta"):
            build_recipe_model(variant.recipe, 2)
    except TrainlabError as error:
        if not variant.techniques:
            raise
        raise TrainlabError(f"variant {variant.name!r}: {error}") from None


INPUT_NAMES = {"image": "images", "tokens": "token sequences (texts)", "window": "time-series windows"}
TASK_OF_TARGET = {"classes": "classification", "real": "regression"}


def check_task(recipe: Recipe, bundle: DataBundle) -> None:
    """The recipe's task learns the kind of target the data gives (a forecast source needs ``task: regression``)."""
    given = bundle.target.kind
    if target_kind(recipe.task) != given:
        raise TrainlabError(f"task={recipe.task!r} learns {target_kind(recipe.task)}, but data.source="
                            f"{recipe.data.source!r} gives {given} targets; set task: {TASK_OF_TARGET[given]} "
                            "in the recipe")


def check_input_kind(variant: Variant, bundle: DataBundle) -> None:
    """The variant's model reads what the data gives (a CNN cannot read tweets); the message lists those that do."""
    name, kind = variant.recipe.model.name, bundle.input_spec.kind
    if model_input(name) != kind:
        raise TrainlabError(
            f"model.name={name!r} reads {INPUT_NAMES[model_input(name)]}, but data.source="
            f"{variant.recipe.data.source!r} gives {INPUT_NAMES[kind]}"
            + (f" (variant {variant.name!r})" if variant.techniques else "")
            + f"; models for {INPUT_NAMES[kind]}: {', '.join(model_names(kind))}")


def check_training_for_data(variant: Variant, bundle: DataBundle) -> None:
    """Training settings that only some data and tasks use: mirrored test images, smoothed class targets."""
    training, where = variant.recipe.training, f" (variant {variant.name!r})" if variant.techniques else ""
    if training.tta != "none" and not bundle.is_image:
        raise TrainlabError(f"training.tta={training.tta!r} mirrors images, but data.source="
                            f"{variant.recipe.data.source!r} gives {INPUT_NAMES[bundle.input_spec.kind]}{where}; "
                            "set training.tta: none")
    if training.label_smoothing > 0 and variant.recipe.task != "classification":
        raise TrainlabError(f"training.label_smoothing smooths class targets; task {variant.recipe.task!r} has none"
                            f"{where}; set training.label_smoothing: 0")


def check_models(variants: list[Variant], bundle: DataBundle, runtimes: dict[str, Runtime]) -> None:
    """Once the data is known: each variant's model (built on the meta device: shapes only, no memory) and loaders."""
    for variant in variants:
        check_task(variant.recipe, bundle)
        check_input_kind(variant, bundle)
        check_training_for_data(variant, bundle)
        training, data = variant.recipe.training, variant.recipe.data
        on_gpu = runtimes[variant.name].accelerator == "gpu"
        if on_gpu and bundle.in_memory and data.device_resident and training.num_workers > 0:
            raise TrainlabError(f"training.num_workers must be 0 when in-memory data lives on the GPU "
                                f"(data.device_resident); got {training.num_workers} in variant {variant.name!r}")
        try:
            with torch.device("meta"):
                build_recipe_model(variant.recipe, len(bundle.classes), bundle.input_spec)
        except TrainlabError as error:
            if not variant.techniques:
                raise
            raise TrainlabError(f"variant {variant.name!r}: {error} (a technique's key is set with --set "
                                f"study.techniques.{variant.techniques[-1]}.KEY=VALUE)") from None


def study_record(recipe: Recipe, variants: list[Variant], bundle: DataBundle, runtime: Runtime,
                 figures: list[dict[str, str]] | None = None) -> StudyRecord:
    return StudyRecord.model_validate({
        "task": recipe.task,
        "primary": primary_record(recipe.task, bundle),
        "name": recipe.name,
        "description": recipe.description,
        "mode": recipe.study.mode,
        "base": variants[0].name,
        "seeds": recipe.seeds,
        "variants": [
            {"name": v.name, "folder": v.folder, "techniques": list(v.techniques),
             "runs": [{"seed": run.recipe.seed, "folder": folder} for folder, run in seeded_runs(recipe, v)]}
            for v in variants
        ],
        "started": datetime.now().isoformat(timespec="seconds"),
        "seed": recipe.seed,
        "versions": versions(),
        "device": runtime.device_name,
        "precision": runtime.precision,
        "runtime": runtime.to_dict(),
        "data": {**bundle.summary(), "figures": figures or []},
    })


def _open_run_dir(recipe: Recipe, resume: Path | None, variants: list[Variant], bundle: DataBundle,
                  runtime: Runtime, record: StudyRecord | None) -> tuple[Path, StudyRecord]:
    """The run folder and its record: a resumed folder (its data checked), or a new folder with its first files."""
    # A new study's record is made before its folder, so that a failure here leaves no folder behind.
    fresh = study_record(recipe, variants, bundle, runtime) if record is None else None
    run_dir = resume if resume is not None else new_run_dir(recipe)
    if fresh is not None and (run_dir / STUDY_FILE).is_file():  # a requeued distributed job finds its own folder
        record, fresh = check_resume(run_dir, recipe), None
    if fresh is None:
        assert record is not None
        check_same_data(record, bundle, run_dir)
        return run_dir, record
    if rank_zero_only.rank == 0:
        atomic_write_text(run_dir / RECIPE_FILE, recipe.to_yaml())
        figures = plot_data_figures(bundle, run_dir, seed=recipe.seed)
        data = fresh.data.model_copy(update={"figures": [DataFigure.model_validate(f) for f in figures]})
        fresh = fresh.model_copy(update={"data": data})
        fresh.write(run_dir / STUDY_FILE)
    return run_dir, fresh


def _checked_inputs(recipe: Recipe, resume: Path | None, notify: Notify
                    ) -> tuple[list[Variant], dict[str, Runtime], DataBundle, StudyRecord | None]:
    """The variants, their runtimes, the data and a resumed folder's record, every one checked; nothing written but
    the data cache."""
    variants = recipe.variants()  # validated: a technique changes only model, training, regularization
    record = check_resume(resume, recipe) if resume is not None else None
    runtimes = check_settings(recipe, variants, resume)
    notify(f"loading data: {recipe.data.source}" + (f" from {recipe.data.path}" if recipe.data.path else ""))
    bundle = build_dataset(recipe.data, recipe.output.cache_dir)
    check_models(variants, bundle, runtimes)
    return variants, runtimes, bundle, record


def _plan(recipe: Recipe, variants: list[Variant], bundle: DataBundle, runtimes: dict[str, Runtime],
          resume: Path | None) -> StudyPlan:
    """The study's plan; in a resumed folder, the runs that already ended are marked done."""
    done = frozenset(
        (variant.name, run.recipe.seed) for variant in variants for folder, run in seeded_runs(recipe, variant)
        if resume is not None and _ended(resume / folder))
    return estimate_study(recipe, variants, bundle, runtimes, done=done)


def plan_study(recipe: Recipe, *, resume: Path | None = None, notify: Notify = print) -> StudyPlan:
    """``trainlab run --dry-run``: every check of :func:`run_study`, the data loaded and a few training steps timed,
    and the plan returned. No run folder is made; only the data cache may be written (as a run would write it)."""
    variants, runtimes, bundle, record = _checked_inputs(recipe, resume, notify)
    if resume is not None and record is not None:
        check_same_data(record, bundle, resume)
    return _plan(recipe, variants, bundle, runtimes, resume)


def run_study(recipe: Recipe, *, resume: Path | None = None, notify: Notify = print) -> Path:
    """Run all variants of ``recipe`` and return the run folder holding report.html and report.md.

    Ctrl-C once the run folder exists raises :class:`StudyInterrupted` naming it (finished runs are kept; an
    interrupted variant continues from its last finished epoch on ``--resume``).
    """
    if rank_zero_only.rank != 0:  # under torchrun / SLURM every rank runs this; one speaks
        notify = _silent
    variants, runtimes, bundle, record = _checked_inputs(recipe, resume, notify)
    plan = _plan(recipe, variants, bundle, runtimes, resume) if rank_zero_only.rank == 0 else None
    runtime = runtimes[variants[0].name]
    run_dir, record = _open_run_dir(recipe, resume, variants, bundle, runtime, record)
    seeds = f", seeds {recipe.seeds[0]}..{recipe.seeds[-1]}" if len(recipe.seeds) > 1 else ""
    notify(f"run folder: {run_dir}  ({len(variants)} variant(s){seeds} on {runtime.device_name}, {runtime.precision})")
    if plan is not None:
        notify(plan.summary())
        if (warning := plan.warning()) is not None:
            notify(warning)
    try:
        _train_and_report(recipe, variants, bundle, runtimes, run_dir, record, notify, plan)
    except KeyboardInterrupt:
        raise StudyInterrupted(run_dir) from None
    return run_dir


def _train_and_report(recipe: Recipe, variants: list[Variant], bundle: DataBundle, runtimes: dict[str, Runtime],
                      run_dir: Path, record: StudyRecord, notify: Notify, plan: StudyPlan | None = None) -> None:
    started = time.perf_counter()
    clock = StudyClock(plan) if plan is not None else None
    for index, variant in enumerate(variants, start=1):
        for folder, seeded in seeded_runs(recipe, variant):
            label = f"[{index}/{len(variants)}] {variant.name}"
            label += f" seed {seeded.recipe.seed}" if len(recipe.seeds) > 1 else ""
            _run_one(run_dir / folder, seeded, bundle, runtimes[variant.name], label, notify, clock)
    if rank_zero_only.rank != 0:
        return
    # After training, on rank 0 alone: before it, the other ranks would wait for rank 0 at DDP's first barrier.
    if recipe.baselines and not (run_dir / BASELINES_FILE).is_file():
        notify(f"baselines: {', '.join(recipe.baselines)}")
        fit_baselines(recipe.task, recipe.baselines, bundle, recipe.seed).write(run_dir / BASELINES_FILE)
    finished = record.model_copy(update={
        "finished": datetime.now().isoformat(timespec="seconds"),
        "wall_time_s": (record.wall_time_s or 0.0) + time.perf_counter() - started,
    })
    finished.write(run_dir / STUDY_FILE)
    html, _ = render(run_dir)
    notify(f"report: {html}")
    if parent := log_study_artifacts(run_dir, recipe):
        notify(f"mlflow: run {parent} in {mlflow_store(recipe).uri}")


def _ended(out_dir: Path) -> bool:
    """The run in ``out_dir`` finished (metrics.json) or failed (failure.json) in an earlier session."""
    return (out_dir / METRICS_FILE).is_file() or (out_dir / FAILURE_FILE).is_file()


def _run_one(out_dir: Path, variant: Variant, bundle: DataBundle, runtime: Runtime, label: str,
             notify: Notify, clock: StudyClock | None = None) -> None:
    if (out_dir / METRICS_FILE).is_file():
        notify(f"{label}: already done, skipped")
        return
    if (out_dir / FAILURE_FILE).is_file():
        notify(f"{label}: failed in an earlier session, skipped (delete {out_dir / FAILURE_FILE} to train it again)")
        return
    resumed = (out_dir / "checkpoints" / LAST_CHECKPOINT).is_file()
    notify(f"{label}: " + ("continuing from its last finished epoch" if resumed else "training"))
    started = time.perf_counter()
    result = fit_variant(variant, bundle, out_dir, runtime)
    if result is None:  # a non-zero rank of a distributed run: rank 0 writes the files
        return
    times = ""
    if clock is not None:  # a continued run or a failed one says nothing about the plan's step times
        epochs = result.metrics.epochs_run if result.metrics is not None and not resumed else None
        clock.finished(variant.name, variant.recipe.seed, time.perf_counter() - started, epochs)
        times = f" ({clock.status()})"
    if result.failure is not None:
        notify(f"{label}: FAILED, {result.failure.reason}; the study goes on without it{times}")
    elif result.metrics is not None:
        unit = "images" if result.metrics.input_kind == "image" else "samples"
        notify(f"{label}: {test_headline(result.metrics)}, "
               f"{result.metrics.train_images_per_s:.0f} train {unit}/s{times}")


def test_headline(metrics: VariantMetrics) -> str:
    """``test accuracy 91.20%`` or ``test WMAE 1,523 (RMSE 3,410, R² 0.9741)``: the run's line on the console."""
    test = metrics.test
    if isinstance(test, RegressionTestScore):
        name = primary_metric(metrics.task).name
        return f"test {name.upper()} {fmt_amount(getattr(test, name))} (RMSE {fmt_amount(test.rmse)}, R² {test.r2:.4f})"
    return f"test accuracy {test.accuracy:.2%}"


def _silent(_: str) -> None:
    """The notify of non-zero ranks in a distributed run."""
