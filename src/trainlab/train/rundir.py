"""The run folder of a study: made atomically, found again by a distributed job, and checked before a resume.

A resume continues a study only with the recipe it ran with (compared key by key, so keys added to trainlab since keep
their defaults) and the data it ran with (``study.json`` records the data's fingerprint and per-split counts), so that
every variant of one report is trained and tested on the same images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from trainlab.artifacts import RECIPE_FILE, STUDY_FILE, StudyRecord, read_record
from trainlab.config import Recipe, validate_recipe
from trainlab.data import DataBundle
from trainlab.errors import TrainlabError
from trainlab.io import load_yaml, new_stamped_dir, read_user_text

# Settings that change how a run looks, where it is logged or where its cache lives, never its results: a resume may
# change them. data.path is among them because the data itself is compared (by its fingerprint), not the path it was
# given by.
RESUME_FREE_KEYS = ("training.progress_bar", "training.num_workers", "output.dir", "output.cache_dir",
                    "output.loggers", "output.mlflow_uri", "data.path")
# Keys older trainlab versions wrote and that had no effect; a resumed folder's recipe may hold them.
RETIRED_KEYS = (("study", "seeds"),)


def job_id() -> str | None:
    """The id every process of one distributed launch shares (torchrun's run id, SLURM's job id), else None.

    A single process ignores SLURM_JOB_ID: two studies inside one batch job must not share a folder.
    """
    world = max(int(os.environ.get("WORLD_SIZE", "1") or 1), int(os.environ.get("SLURM_NTASKS", "1") or 1))
    found = os.environ.get("TORCHELASTIC_RUN_ID") or (os.environ.get("SLURM_JOB_ID") if world > 1 else None)
    return found if found and found != "none" else None


def new_run_dir(recipe: Recipe) -> Path:
    """Create and return ``runs/<study>/<timestamp>`` (``-2``, ``-3``, ... when taken); in a distributed launch the
    job id names it, so every rank agrees on one folder.

    The folder is made with ``mkdir`` without ``exist_ok``, which the file system does atomically: of several runs
    started in the same second, each gets a folder of its own.
    """
    parent = recipe.output.dir / recipe.name
    launch = job_id()
    if launch:
        folder = parent / f"job-{launch}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return new_stamped_dir(parent)


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value and not prefix.startswith("study.techniques"):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _saved_recipe(run_dir: Path) -> Recipe:
    recipe_file = run_dir / RECIPE_FILE
    try:
        raw = load_yaml(read_user_text(recipe_file, "recipe file"), f"recipe {recipe_file}")
        for section, key in RETIRED_KEYS:
            if isinstance(raw, dict) and isinstance(raw.get(section), dict):
                raw[section].pop(key, None)
        return validate_recipe(raw, str(recipe_file))
    except TrainlabError as error:
        raise TrainlabError(f"cannot resume {run_dir}: its recipe no longer validates ({error})") from None


def check_resume(run_dir: Path, recipe: Recipe) -> StudyRecord:
    """The saved study record, once the run folder's recipe is shown to equal ``recipe`` key by key.

    The saved recipe is validated again, so keys added to trainlab since (with their defaults) do not block a resume.
    """
    if not (run_dir / STUDY_FILE).is_file() or not (run_dir / RECIPE_FILE).is_file():
        raise TrainlabError(f"cannot resume {run_dir}: it is not a trainlab run folder ({STUDY_FILE} or {RECIPE_FILE} "
                            "is missing)")
    before, now = _flatten(_saved_recipe(run_dir).to_dict()), _flatten(recipe.to_dict())
    changed = [key for key in sorted(before.keys() | now.keys())
               if before.get(key) != now.get(key) and key not in RESUME_FREE_KEYS]
    if changed:
        shown = "; ".join(f"{key}: {before.get(key)!r} then, {now.get(key)!r} now" for key in changed[:5])
        raise TrainlabError(f"cannot resume {run_dir}: the recipe differs from the one it ran with ({shown}); "
                            "run it with the same recipe and --set values, or start a new run")
    return read_record(run_dir / STUDY_FILE, StudyRecord, "the study description written by the trainer")


def _count_changes(then: dict[str, dict[str, int]], now: dict[str, dict[str, int]]) -> list[str]:
    """``"test: 18 images then, 15 now (dogs 6 then, 3 now)"`` for each split whose counts differ."""
    changes = []
    for split in sorted(then.keys() | now.keys()):
        old, new = then.get(split, {}), now.get(split, {})
        if old == new:
            continue
        classes = [f"{name} {old.get(name, 0)} then, {new.get(name, 0)} now"
                   for name in sorted(old.keys() | new.keys()) if old.get(name, 0) != new.get(name, 0)]
        changes.append(f"{split}: {sum(old.values())} images then, {sum(new.values())} now ({'; '.join(classes)})")
    return changes


def check_same_data(record: StudyRecord, bundle: DataBundle, run_dir: Path) -> None:
    """Refuse to resume ``run_dir`` on data other than the data its finished variants were trained and tested on."""
    then = record.data
    changes = _count_changes(then.counts, bundle.counts())
    if list(then.classes) and list(then.classes) != list(bundle.classes):
        changes.insert(0, f"classes {list(then.classes)} then, {list(bundle.classes)} now")
    if not changes and then.fingerprint is not None and then.fingerprint != bundle.fingerprint():
        changes.append("the same number of images per split and class, but not the same images")
    if changes:
        raise TrainlabError(f"cannot resume {run_dir}: the data differs from the data it ran with "
                            f"({'; '.join(changes)}); resume with the same data, or start a new run")
