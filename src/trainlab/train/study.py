"""Run every variant of a recipe's study, once per seed, and render the report.

The data is built once and shared by all variants; a variant may change anything but the data. The run folder is
created only after the recipe, the variants, their Lightning settings (before the data is loaded), the data and every
variant's model have all been checked, so a user mistake leaves no folder. A run whose ``metrics.json`` exists is
skipped, which is how ``--resume`` continues an interrupted study. With ``study.repeats`` > 1 each variant gets one
sub-folder per seed (``base/seed-0``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch.utilities import rank_zero_only

from trainlab.config import Recipe, Variant, validate_recipe
from trainlab.data import DataBundle, build_dataset
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text, write_json
from trainlab.report import render
from trainlab.report.load import BASELINES_FILE, read_json_object
from trainlab.train.baselines import BASELINES, run_baselines
from trainlab.train.fit import build_variant_model, check_training_settings, fit_variant, quiet_lightning
from trainlab.train.runtime import Runtime, resolve_runtime, versions

Notify = Callable[[str], None]


def check_variants(recipe: Recipe) -> list[Variant]:
    variants = recipe.variants()
    for variant in variants:
        if variant.recipe.data != recipe.data:
            raise TrainlabError(
                f"study variant {variant.name!r} changes data settings; all variants must share one dataset "
                "(move data.* overrides out of study.techniques)"
            )
    return variants


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


def check_settings(recipe: Recipe, variants: list[Variant]) -> dict[str, Runtime]:
    """Before the data is loaded: baseline names, and each variant's runtime and Lightning settings."""
    quiet_lightning()
    unknown = [name for name in recipe.study.baselines if name not in BASELINES]
    if unknown:
        raise TrainlabError(f"study.baselines: unknown baseline {unknown[0]!r}; known: {', '.join(BASELINES.names())}"
                            " (or [] for none)")
    runtimes = {}
    for variant in variants:
        runtimes[variant.name] = resolve_runtime(variant.recipe.training)
        check_training_settings(variant.recipe, runtimes[variant.name])
    return runtimes


def check_models(variants: list[Variant], bundle: DataBundle, runtimes: dict[str, Runtime]) -> None:
    """Once the data is known: each variant's model (built on the meta device: shapes only, no memory) and loaders."""
    for variant in variants:
        training, data = variant.recipe.training, variant.recipe.data
        on_gpu = runtimes[variant.name].accelerator == "gpu"
        if on_gpu and bundle.in_memory and data.device_resident and training.num_workers > 0:
            raise TrainlabError(f"training.num_workers must be 0 when in-memory data lives on the GPU "
                                f"(data.device_resident); got {training.num_workers} in variant {variant.name!r}")
        with torch.device("meta"):
            build_variant_model(variant.recipe, bundle)


def _job_id() -> str | None:
    """The id every process of one distributed launch shares (torchrun's run id, SLURM's job id), else None.

    A single process ignores SLURM_JOB_ID: two studies inside one batch job must not share a folder.
    """
    world = max(int(os.environ.get("WORLD_SIZE", "1") or 1), int(os.environ.get("SLURM_NTASKS", "1") or 1))
    job_id = os.environ.get("TORCHELASTIC_RUN_ID") or (os.environ.get("SLURM_JOB_ID") if world > 1 else None)
    return job_id if job_id and job_id != "none" else None


def new_run_dir(recipe: Recipe) -> Path:
    """``runs/<study>/<timestamp>``; in a distributed launch the job id names it, so every rank agrees."""
    job_id = _job_id()
    if job_id:
        return recipe.output.dir / recipe.name / f"job-{job_id}"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = recipe.output.dir / recipe.name / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = recipe.output.dir / recipe.name / f"{stamp}-{suffix}"
    return run_dir


def study_record(recipe: Recipe, variants: list[Variant], bundle: DataBundle, runtime: Runtime) -> dict[str, Any]:
    return {
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
        "finished": None,
        "wall_time_s": None,
        "seed": recipe.seed,
        "versions": versions(),
        "device": runtime.device_name,
        "precision": runtime.precision,
        "runtime": runtime.to_dict(),
        "data": bundle.summary(),
    }


# Settings that change how a run looks or where its cache lives, never its results: a resume may change them.
RESUME_FREE_KEYS = ("training.progress_bar", "training.num_workers", "output.dir", "output.cache_dir")
# Keys older trainlab versions wrote and that had no effect; a resumed folder's recipe may hold them.
RETIRED_KEYS = (("study", "seeds"),)


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value and not prefix.startswith("study.techniques"):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_resume(run_dir: Path, recipe: Recipe) -> dict[str, Any]:
    """The saved study record, once the run folder's recipe is shown to equal ``recipe`` key by key.

    The saved recipe is validated again, so keys added to trainlab since (with their defaults) do not block a resume.
    """
    study_file, recipe_file = run_dir / "study.json", run_dir / "recipe.yaml"
    if not study_file.is_file() or not recipe_file.is_file():
        raise TrainlabError(f"cannot resume {run_dir}: it is not a trainlab run folder (study.json or recipe.yaml "
                            "is missing)")
    try:
        raw = yaml.safe_load(recipe_file.read_text(encoding="utf-8"))
        for section, key in RETIRED_KEYS:
            if isinstance(raw, dict) and isinstance(raw.get(section), dict):
                raw[section].pop(key, None)
        saved = validate_recipe(raw, str(recipe_file))
    except (TrainlabError, yaml.YAMLError) as error:
        raise TrainlabError(f"cannot resume {run_dir}: its recipe no longer validates ({error})") from None
    before, now = _flatten(saved.to_dict()), _flatten(recipe.to_dict())
    changed = [key for key in sorted(before.keys() | now.keys())
               if before.get(key) != now.get(key) and key not in RESUME_FREE_KEYS]
    if changed:
        shown = "; ".join(f"{key}: {before.get(key)!r} then, {now.get(key)!r} now" for key in changed[:5])
        raise TrainlabError(f"cannot resume {run_dir}: the recipe differs from the one it ran with ({shown}); "
                            "run it with the same recipe and --set values, or start a new run")
    return read_json_object(study_file, "the study description written by the trainer")


def run_study(recipe: Recipe, *, resume: Path | None = None, notify: Notify = print) -> Path:
    """Run all variants of ``recipe`` and return the run folder holding report.html and report.md."""
    variants = check_variants(recipe)
    if rank_zero_only.rank != 0:  # under torchrun / SLURM every rank runs this; one speaks
        notify = _silent
    record = _check_resume(resume, recipe) if resume is not None else None
    runtimes = check_settings(recipe, variants)
    notify(f"loading data: {recipe.data.source}" + (f" from {recipe.data.path}" if recipe.data.path else ""))
    bundle = build_dataset(recipe.data, recipe.output.cache_dir)
    check_models(variants, bundle, runtimes)
    run_dir = resume if resume is not None else new_run_dir(recipe)
    if record is None and (run_dir / "study.json").is_file():  # a requeued distributed job finds its own folder
        record = _check_resume(run_dir, recipe)
    is_rank_zero = rank_zero_only.rank == 0
    runtime = runtimes[variants[0].name]
    if record is None:
        record = study_record(recipe, variants, bundle, runtime)
    if is_rank_zero and not (run_dir / "study.json").is_file():
        atomic_write_text(run_dir / "recipe.yaml", recipe.to_yaml())
        write_json(run_dir / "study.json", record)
    seeds = f", seeds {recipe.seeds[0]}..{recipe.seeds[-1]}" if len(recipe.seeds) > 1 else ""
    notify(f"run folder: {run_dir}  ({len(variants)} variant(s){seeds} on {runtime.device_name}, {runtime.precision})")
    started = time.perf_counter()
    for index, variant in enumerate(variants, start=1):
        for folder, seeded in seeded_runs(recipe, variant):
            label = f"[{index}/{len(variants)}] {variant.name}" + (f" seed {seeded.recipe.seed}" if seeds else "")
            _run_one(run_dir / folder, seeded, bundle, runtimes[variant.name], label, notify)
    if not is_rank_zero:
        return run_dir
    # After training, on rank 0 alone: before it, the other ranks would wait for rank 0 at DDP's first barrier.
    if recipe.study.baselines and not (run_dir / BASELINES_FILE).is_file():
        notify(f"baselines: {', '.join(recipe.study.baselines)}")
        write_json(run_dir / BASELINES_FILE, run_baselines(recipe.study.baselines, bundle, recipe.seed))
    record["finished"] = datetime.now().isoformat(timespec="seconds")
    record["wall_time_s"] = (record.get("wall_time_s") or 0.0) + time.perf_counter() - started
    write_json(run_dir / "study.json", record)
    html, _ = render(run_dir)
    notify(f"report: {html}")
    return run_dir


def _run_one(out_dir: Path, variant: Variant, bundle: DataBundle, runtime: Runtime, label: str,
             notify: Notify) -> None:
    if (out_dir / "metrics.json").is_file():
        notify(f"{label}: already done, skipped")
        return
    notify(f"{label}: training")
    result = fit_variant(variant, bundle, out_dir, runtime)
    if result is not None:  # None on a non-zero rank of a distributed run: rank 0 writes the files
        notify(f"{label}: test accuracy {result.metrics['test']['accuracy']:.2%}, "
               f"{result.metrics['train_images_per_s']:.0f} train images/s")


def _silent(_: str) -> None:
    """The notify of non-zero ranks in a distributed run."""
