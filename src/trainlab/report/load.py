"""Read a run folder (``study.json`` + one folder per variant) into plain dicts and lists, checking the contract.

Nothing here formats or renders: numbers stay numbers (accuracies as fractions, differences in percentage points).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path, PurePosixPath
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.io import read_json
from trainlab.report.plots import read_history
from trainlab.report.stats import mean_interval, paired_difference

SPLITS = ("train", "val", "test")
BASELINES_FILE = "baselines.json"
# The scalar results averaged over the seeds of a repeated study (the per-class table and plots show one seed).
AVERAGED = ("train_accuracy", "val_accuracy", "test_accuracy", "test_loss", "precision_macro", "recall_macro",
            "f1_macro", "epochs_run", "best_epoch", "wall_time_s", "train_images_per_s")
NOT_RUN = "not run"
DONE = "done"


def read_json_object(path: Path, expected: str) -> dict[str, Any]:
    try:
        payload = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrainlabError(f"{path} is not readable JSON ({exc}): expected {expected}") from exc
    if not isinstance(payload, dict):
        raise TrainlabError(f"{path} holds a JSON {type(payload).__name__}: expected an object with {expected}")
    return payload


def _field(mapping: Any, keys: tuple[str, ...], kind: type, path: Path) -> Any:
    """``mapping[keys[0]][keys[1]]...``, checked to be a ``kind``; a missing key or wrong type names ``path``."""
    value = mapping
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise TrainlabError(f"{path} is malformed: the key {'.'.join(keys)!r} is missing")
        value = value[key]
    if kind in (int, float):
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not is_number or (kind is int and not float(value).is_integer()):
            raise TrainlabError(f"{path} is malformed: {'.'.join(keys)!r} is {value!r}, expected a number")
        return kind(value)
    if not isinstance(value, kind):
        raise TrainlabError(f"{path} is malformed: {'.'.join(keys)!r} is {value!r}, expected a {kind.__name__}")
    return value


def _check_folder(folder: str, path: Path, depth: int = 1) -> str:
    """A relative folder of at most ``depth`` plain names (``base``, or ``base/seed-1`` for one seed's run)."""
    parts = PurePosixPath(folder).parts
    plain = all(part not in (".", "..") for part in parts) and 1 <= len(parts) <= depth
    if not folder or "\\" in folder or folder.startswith("/") or not plain:
        raise TrainlabError(f"{path} is malformed: variant folder {folder!r} must be a plain relative folder name")
    return folder


def _data_summary(study: dict[str, Any], path: Path) -> dict[str, Any]:
    data = study.get("data") or {}
    if not isinstance(data, dict):
        raise TrainlabError(f"{path} is malformed: 'data' must be an object")
    classes = [str(name) for name in data.get("classes") or []]
    counts = data.get("counts") or {}
    if not isinstance(counts, dict) or not all(isinstance(counts.get(s, {}), dict) for s in SPLITS):
        raise TrainlabError(f"{path} is malformed: 'data.counts' must map each split to {{class: count}}")
    for split in SPLITS:
        classes += [str(name) for name in counts.get(split, {}) if str(name) not in classes]
    rows = []
    for name in classes:
        row: dict[str, Any] = {"class": name}
        for split in SPLITS:
            row[split] = int(counts.get(split, {}).get(name, 0))
        row["total"] = sum(row[split] for split in SPLITS)
        rows.append(row)
    totals = {split: sum(row[split] for row in rows) for split in (*SPLITS, "total")}
    skipped = data.get("skipped") or []
    if not isinstance(skipped, list) or not all(isinstance(item, dict) for item in skipped):
        raise TrainlabError(f"{path} is malformed: 'data.skipped' must be a list of {{path, reason}} objects")
    return {
        "source": data.get("source"),
        "classes": classes,
        "counts": rows,
        "totals": totals,
        "image_shape": data.get("image_shape"),
        "mean": data.get("mean"),
        "std": data.get("std"),
        "skipped": [{"path": str(item.get("path", "")), "reason": str(item.get("reason", ""))} for item in skipped],
    }


def _variant_results(variant_dir: Path) -> dict[str, Any]:
    """The numbers of one finished variant, read from its ``metrics.json``, ``history.csv`` and ``summary.txt``."""
    path = variant_dir / "metrics.json"
    metrics = read_json_object(path, "the metrics of one variant")
    classes = [str(name) for name in _field(metrics, ("classes",), list, path)]
    matrix = _field(metrics, ("test", "confusion_matrix"), list, path)
    n = len(classes)
    if len(matrix) != n or not all(
        isinstance(row, list) and len(row) == n and all(isinstance(v, int) and not isinstance(v, bool) for v in row)
        for row in matrix
    ):
        raise TrainlabError(f"{path} is malformed: 'test.confusion_matrix' must be {n}x{n} integers (one per class)")
    per_class_raw = _field(metrics, ("test", "per_class"), dict, path)
    per_class = []
    for name in classes:
        if name not in per_class_raw:
            raise TrainlabError(f"{path} is malformed: 'test.per_class' has no entry for class {name!r}")
        entry: dict[str, Any] = {"class": name}
        for key in ("precision", "recall", "f1"):
            entry[key] = _field(metrics, ("test", "per_class", name, key), float, path)
        entry["support"] = _field(metrics, ("test", "per_class", name, "support"), int, path)
        per_class.append(entry)
    summary_path = variant_dir / "summary.txt"
    return {
        "status": DONE,
        "classes": classes,
        "params": _field(metrics, ("params",), int, path),
        "epochs_run": _field(metrics, ("epochs_run",), int, path),
        "best_epoch": _field(metrics, ("best_epoch",), int, path),
        "stopped_early": _field(metrics, ("stopped_early",), bool, path),
        "wall_time_s": float(metrics.get("wall_time_s") or 0.0),
        "train_images_per_s": float(metrics.get("train_images_per_s") or 0.0),
        "train_accuracy": _field(metrics, ("train", "accuracy"), float, path),
        "val_accuracy": _field(metrics, ("val", "accuracy"), float, path),
        "test_accuracy": _field(metrics, ("test", "accuracy"), float, path),
        "test_loss": _field(metrics, ("test", "loss"), float, path),
        "precision_macro": _field(metrics, ("test", "precision_macro"), float, path),
        "recall_macro": _field(metrics, ("test", "recall_macro"), float, path),
        "f1_macro": _field(metrics, ("test", "f1_macro"), float, path),
        "per_class": per_class,
        "confusion_matrix": matrix,
        "history": read_history(variant_dir / "history.csv").to_dict(orient="records"),
        "summary": summary_path.read_text(encoding="utf-8") if summary_path.is_file() else None,
    }


def pp_difference(value: float) -> float:
    """A difference of fractions in percentage points, rounded to 2 decimals (never ``-0.0``)."""
    return round(100.0 * value, 2) + 0.0


def _baselines(run_dir: Path) -> dict[str, Any] | None:
    """The non-deep baselines of ``baselines.json`` (absent in runs with ``study.baselines: []``), best first."""
    path = run_dir / BASELINES_FILE
    if not path.is_file():
        return None
    payload = read_json_object(path, "the baselines fitted on the study's split")
    rows = []
    for index, entry in enumerate(_field(payload, ("baselines",), list, path)):
        if not isinstance(entry, dict):
            raise TrainlabError(f"{path} is malformed: baselines[{index}] must be an object")
        rows.append({
            "name": str(_field(entry, ("name",), str, path)),
            "description": str(entry.get("description") or ""),
            "train_accuracy": _field(entry, ("train_accuracy",), float, path),
            **{key: _field(entry, ("test", key), float, path) for key in ("accuracy", "f1_macro")},
            "fit_time_s": float(entry.get("fit_time_s") or 0.0),
        })
    rows.sort(key=lambda row: row["accuracy"], reverse=True)
    return {"features": str(payload.get("features") or ""), "rows": rows}


def _runs_of(entry: dict[str, Any], folder: str, seed: Any, path: Path) -> list[dict[str, Any]]:
    """The (seed, folder) runs of one variant; runs written before repeated seeds existed are one run in ``folder``."""
    runs = entry.get("runs") or [{"seed": seed if isinstance(seed, int) else 0, "folder": folder}]
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise TrainlabError(f"{path} is malformed: 'runs' of variant {entry.get('name')!r} must be a list of objects")
    return [{"seed": _field(run, ("seed",), int, path), "folder": _check_folder(str(run.get("folder")), path, 2)}
            for run in runs]


def _load_variant(run_dir: Path, entry: dict[str, Any], seed: Any, path: Path) -> dict[str, Any]:
    """One variant: the first finished seed's full results, with the scalars averaged over every finished seed."""
    name = str(_field(entry, ("name",), str, path))
    folder = _check_folder(str(entry.get("folder", name)), path)
    runs = _runs_of(entry, folder, seed, path)
    variant: dict[str, Any] = {
        "name": name, "folder": folder, "techniques": [str(t) for t in entry.get("techniques") or []],
        "status": NOT_RUN, "seeds_total": len(runs), "replicates": [],
    }
    finished = [(run, _variant_results(run_dir / run["folder"])) for run in runs
                if (run_dir / run["folder"] / "metrics.json").is_file()]
    if not finished:
        return variant
    (first_run, first), *_ = finished
    variant.update(first)
    variant["shown_seed"], variant["run_folder"] = first_run["seed"], first_run["folder"]
    variant["replicates"] = [{"seed": run["seed"], "stopped_early": result["stopped_early"],
                              **{k: result[k] for k in AVERAGED}} for run, result in finished]
    if len(finished) > 1:
        for key in AVERAGED:
            variant[key] = statistics.fmean(result[key] for _, result in finished)
    interval = mean_interval([result["test_accuracy"] for _, result in finished]).to_dict()
    if interval["low"] is not None:  # an accuracy lies in [0, 1], whatever t says for n = 2
        interval["low"], interval["high"] = max(0.0, interval["low"]), min(1.0, interval["high"])
    variant["test_accuracy_interval"] = interval
    return variant


def _compare_with_base(variant: dict[str, Any], base: dict[str, Any] | None) -> None:
    """Add ``gap_pp``, ``delta_pp`` and, for repeated seeds, ``delta_interval`` (paired, percentage points)."""
    variant["gap_pp"] = pp_difference(variant["train_accuracy"] - variant["test_accuracy"])
    variant["delta_pp"], variant["delta_interval"] = None, None
    if base is None or base["status"] != DONE or variant is base:
        return
    by_seed = {r["seed"]: r["test_accuracy"] for r in variant["replicates"]}
    interval = paired_difference(by_seed, {r["seed"]: r["test_accuracy"] for r in base["replicates"]})
    # Over the seeds both have finished, so Δ and its interval agree while a study is still partial.
    difference = interval.mean if interval is not None else variant["test_accuracy"] - base["test_accuracy"]
    variant["delta_pp"] = pp_difference(difference)
    if interval is not None and interval.n > 1:
        variant["delta_interval"] = interval.scaled(100.0).to_dict()


def load_run(run_dir: Path) -> dict[str, Any]:
    """Read ``run_dir`` into ``{"run_dir", "study", "data", "variants", "base", "shared_summary", "repeated",
    "baselines"}`` (``baselines``: None, or ``{"features", "rows"}`` best first and ``base_lift_pp``).

    ``variants`` lists every variant of ``study.json`` in order, each with ``name``, ``folder``, ``techniques``,
    ``status`` ("done" or "not run") and, when done, its numbers (accuracies as fractions), ``delta_pp`` (test
    accuracy minus the base's in percentage points; ``None`` for the base or when the base has not run) and ``gap_pp``
    (train minus test accuracy in percentage points). With repeated seeds the numbers are means over the finished
    seeds, ``replicates`` lists each seed's, ``test_accuracy_interval`` and ``delta_interval`` hold 95% intervals, and
    the per-class table, history and plots are those of seed ``shown_seed`` (folder ``run_folder``).
    """
    run_dir = Path(run_dir)
    study_path = run_dir / "study.json"
    if not study_path.is_file():
        raise TrainlabError(f"{run_dir} is not a trainlab run folder: study.json is missing")
    study = read_json_object(study_path, "the study description written by the trainer")
    variants = []
    for index, entry in enumerate(_field(study, ("variants",), list, study_path)):
        if not isinstance(entry, dict):
            raise TrainlabError(f"{study_path} is malformed: variants[{index}] must be an object")
        variants.append(_load_variant(run_dir, entry, study.get("seed"), study_path))

    base_key = study.get("base") or (variants[0]["name"] if variants else None)
    base = next((v for v in variants if v["name"] == base_key), None) or next(
        (v for v in variants if v["folder"] == base_key), None
    )
    for variant in variants:
        variant["is_base"] = variant is base
        if variant["status"] == DONE:
            _compare_with_base(variant, base)

    done = [v for v in variants if v["status"] == DONE]
    shared_summary = None
    if done and len({v["params"] for v in done}) == 1:
        first = base if base in done else done[0]
        shared_summary = first["summary"]
    baselines = _baselines(run_dir)
    if baselines is not None:
        comparable = baselines["rows"] and base is not None and base["status"] == DONE
        lift = base["test_accuracy"] - baselines["rows"][0]["accuracy"] if comparable else None
        baselines["base_lift_pp"] = None if lift is None else pp_difference(lift)
    meta_keys = ("description", "mode", "seed", "started", "finished", "wall_time_s", "device", "precision")
    seeds = study.get("seeds") if isinstance(study.get("seeds"), list) else [study.get("seed")]
    return {
        "run_dir": str(run_dir),
        "study": {
            "name": str(study.get("name") or run_dir.name),
            **{key: study.get(key) for key in meta_keys},
            "seeds": seeds,
            "versions": study.get("versions") if isinstance(study.get("versions"), dict) else {},
        },
        "data": _data_summary(study, study_path),
        "variants": variants,
        "base": base["name"] if base else None,
        "shared_summary": shared_summary,
        "repeated": len(seeds) > 1,
        "baselines": baselines,
    }
