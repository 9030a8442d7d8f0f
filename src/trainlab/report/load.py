"""Read a run folder (``study.json`` + one folder per variant) into plain dicts and lists for the templates.

Every JSON file is validated against its schema in :mod:`trainlab.artifacts`, the same classes the trainer wrote it
with. Nothing here renders: numbers stay numbers (accuracies as fractions, differences in percentage points, other
metrics in their units); the one sentence made here is the forecasting verdict against the naive baselines.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from trainlab.artifacts import (
    BASELINES_FILE,
    FAILURE_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    PREDICTIONS_FILE,
    STUDY_FILE,
    SUMMARY_FILE,
    BaselineResult,
    BaselineResults,
    ClassificationScore,
    DataSummary,
    SeedRun,
    StudyRecord,
    VariantEntry,
    VariantFailure,
    VariantMetrics,
    read_predictions,
    read_record,
)
from trainlab.errors import TrainlabError
from trainlab.report.forecast import forecast_verdict
from trainlab.report.metric import judge, metric_descriptor, relative_gain, sort_key
from trainlab.report.plots import read_history
from trainlab.report.stats import SIGNIFICANCE, bonferroni_min, mcnemar_exact, mean_interval, paired_difference

SPLITS = ("train", "val", "test")
# The scalar results averaged over the seeds of a repeated study (the plots show one seed).
AVERAGED = ("train_accuracy", "val_accuracy", "test_accuracy", "test_loss", "precision_macro", "recall_macro",
            "f1_macro", "epochs_run", "best_epoch", "wall_time_s", "train_images_per_s")
PER_CLASS_AVERAGED = ("precision", "recall", "f1")
# Every task's scalars: the primary metric on each split (``score``: test) and the cost of training.
GENERIC_AVERAGED = ("score", "train_score", "val_score")
COST_AVERAGED = ("test_loss", "epochs_run", "best_epoch", "wall_time_s", "train_images_per_s")
REGRESSION_INTERVALS = ("wmae", "rmse", "r2")
# The baselines a forecast must beat to be worth anything; the others (a linear model) are learned.
NAIVE_BASELINES = ("last_value", "seasonal_naive", "mean_last_4")
NOT_RUN = "not run"
FAILED = "failed"
DONE = "done"


def _data_summary(data: DataSummary) -> dict[str, Any]:
    classes = list(data.classes)
    for split in SPLITS:
        classes += [name for name in data.counts.get(split, {}) if name not in classes]
    rows = []
    for name in classes:
        row: dict[str, Any] = {"class": name}
        for split in SPLITS:
            row[split] = data.counts.get(split, {}).get(name, 0)
        row["total"] = sum(row[split] for split in SPLITS)
        rows.append(row)
    totals = {split: sum(row[split] for row in rows) for split in (*SPLITS, "total")}
    return {
        "source": data.source,
        "kind": data.input.get("kind", "image"),
        "input": dict(data.input),
        "profile": dict(data.profile),
        "figures": [figure.model_dump() for figure in data.figures],
        "classes": classes,
        "counts": rows,
        "totals": totals,
        "image_shape": data.image_shape,
        "mean": data.mean,
        "std": data.std,
        "fingerprint": data.fingerprint,
        "split_note": data.split_note,
        "skipped": [item.model_dump() for item in data.skipped],
    }


def _classification_results(metrics: VariantMetrics, test: ClassificationScore) -> dict[str, Any]:
    return {
        "train_accuracy": metrics.train.accuracy,
        "val_accuracy": metrics.val.accuracy,
        "test_accuracy": test.accuracy,
        "precision_macro": test.precision_macro,
        "recall_macro": test.recall_macro,
        "f1_macro": test.f1_macro,
        "per_class": [{"class": name, **score.model_dump()} for name, score in test.per_class.items()],
        "confusion_matrix": [list(row) for row in test.confusion_matrix],
    }


def _variant_results(variant_dir: Path, metric: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one finished run, read from its ``metrics.json``, ``history.csv`` and ``summary.txt``."""
    metrics = read_record(variant_dir / METRICS_FILE, VariantMetrics, "the metrics of one variant")
    test, name = metrics.test, metric["name"]
    summary_path = variant_dir / SUMMARY_FILE
    results = {
        "status": DONE,
        "classes": list(metrics.classes),
        "model": metrics.model,
        "input_kind": metrics.input_kind,
        "notes": dict(metrics.notes),
        "trainable_params": metrics.trainable_params,
        "params": metrics.params,
        "epochs_run": metrics.epochs_run,
        "best_epoch": metrics.best_epoch,
        "stopped_early": metrics.stopped_early,
        "wall_time_s": metrics.wall_time_s,
        "train_images_per_s": metrics.train_images_per_s,
        "test_loss": test.loss,
        "score": getattr(test, name, None),
        "train_score": metrics.train.value(name),
        "val_score": metrics.val.value(name),
        "history": read_history(variant_dir / HISTORY_FILE, name).to_dict(orient="records"),
        "summary": summary_path.read_text(encoding="utf-8") if summary_path.is_file() else None,
    }
    if isinstance(test, ClassificationScore):
        results.update(_classification_results(metrics, test))
    else:
        results["regression"] = test.model_dump(exclude={"loss"})
    return results


def _averaged(result: dict[str, Any]) -> tuple[str, ...]:
    """The keys of a run's results that are averaged over seeds."""
    return (*AVERAGED, *GENERIC_AVERAGED) if "test_accuracy" in result else (*GENERIC_AVERAGED, *COST_AVERAGED)


def _mean(values: list[Any]) -> float | None:
    return None if any(value is None for value in values) else statistics.fmean(values)


def pp_difference(value: float) -> float:
    """A difference of fractions in percentage points, rounded to 2 decimals (never ``-0.0``)."""
    return round(100.0 * value, 2) + 0.0


def _baseline_row(entry: BaselineResult, metric: dict[str, Any]) -> dict[str, Any]:
    test = entry.test
    row: dict[str, Any] = {"name": entry.name, "description": entry.description}
    if isinstance(test, ClassificationScore):
        row.update(train_accuracy=entry.train_accuracy, accuracy=test.accuracy, f1_macro=test.f1_macro)
    else:
        row.update(test.model_dump(), naive=entry.name in NAIVE_BASELINES)
    return {**row, "fit_time_s": entry.fit_time_s, "score": getattr(test, metric["name"], None)}


def _baselines(run_dir: Path, metric: dict[str, Any]) -> dict[str, Any] | None:
    """The non-deep baselines of ``baselines.json`` (absent in runs with ``study.baselines: []``), best first by the
    primary metric. Forecasting rows say whether they are ``naive`` (:data:`NAIVE_BASELINES`; where none of those
    names occurs, every baseline but a linear one)."""
    path = run_dir / BASELINES_FILE
    if not path.is_file():
        return None
    payload = read_record(path, BaselineResults, "the baselines fitted on the study's split")
    rows = [_baseline_row(entry, metric) for entry in payload.baselines]
    rows.sort(key=lambda row: sort_key(row["score"], metric))
    if rows and "naive" in rows[0] and not any(row["naive"] for row in rows):
        for row in rows:
            row["naive"] = "linear" not in row["name"]
    return {"features": payload.features, "rows": rows}


def _mean_per_class(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-class precision / recall / F1 averaged over seeds, so the table agrees with its macro-average row
    (the mean over seeds of a macro average is the macro average of the per-class means)."""
    rows = [dict(row) for row in results[0]["per_class"]]
    for index, row in enumerate(rows):
        for key in PER_CLASS_AVERAGED:
            row[key] = statistics.fmean(result["per_class"][index][key] for result in results)
    return rows


def _score_interval(scores: list[float | None], metric: dict[str, Any]) -> dict[str, Any] | None:
    """The 95% t-interval of the test scores over seeds (a fraction's clipped to [0, 1], whatever t says for n = 2)."""
    if not scores or any(score is None for score in scores):
        return None
    interval = mean_interval([float(score) for score in scores if score is not None]).to_dict()
    if metric["fraction"] and interval["low"] is not None:
        interval["low"], interval["high"] = max(0.0, interval["low"]), min(1.0, interval["high"])
    return interval


def _average_regression(variant: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """``regression``: the test metrics' means over seeds; ``regression_interval``: 95% intervals of some of them."""
    seeds = [result["regression"] for result in results]
    variant["regression"] = {key: statistics.fmean(seed[key] for seed in seeds) if key != "count" else value
                             for key, value in seeds[0].items()}
    variant["regression_interval"] = {key: mean_interval([seed[key] for seed in seeds]).to_dict()
                                      for key in REGRESSION_INTERVALS}


def _load_variant(run_dir: Path, entry: VariantEntry, seed: int | None, metric: dict[str, Any]) -> dict[str, Any]:
    """One variant: the first finished seed's curves and matrix, the scalars averaged over every finished seed."""
    runs = list(entry.runs) or [SeedRun(seed=seed or 0, folder=entry.folder)]
    variant: dict[str, Any] = {
        "name": entry.name, "folder": entry.folder, "techniques": list(entry.techniques),
        "status": NOT_RUN, "seeds_total": len(runs), "replicates": [], "failures": [],
    }
    for run in runs:
        failure_path = run_dir / run.folder / FAILURE_FILE
        if failure_path.is_file() and not (run_dir / run.folder / METRICS_FILE).is_file():
            failure = read_record(failure_path, VariantFailure, "why a run of this variant failed")
            variant["failures"].append({"seed": run.seed, "folder": run.folder, "reason": failure.reason})
    finished = [(run, _variant_results(run_dir / run.folder, metric)) for run in runs
                if (run_dir / run.folder / METRICS_FILE).is_file()]
    if not finished:
        variant["status"] = FAILED if variant["failures"] else NOT_RUN
        return variant
    (first_run, first), *_ = finished
    averaged = _averaged(first)
    variant.update(first)
    variant["shown_seed"], variant["run_folder"] = first_run.seed, first_run.folder
    variant["replicates"] = [{"seed": run.seed, "folder": run.folder, "stopped_early": result["stopped_early"],
                              **{k: result[k] for k in averaged}} for run, result in finished]
    results = [result for _, result in finished]
    if len(finished) > 1:
        for key in averaged:
            variant[key] = _mean([result[key] for result in results])
        if "per_class" in first:
            variant["per_class"] = _mean_per_class(results)
    if "regression" in first:
        _average_regression(variant, results)
    variant["score_interval"] = _score_interval([result["score"] for result in results], metric)
    if "test_accuracy" in first:
        variant["test_accuracy_interval"] = _score_interval([result["test_accuracy"] for result in results],
                                                            metric_descriptor(None))
    return variant


def _compare_with_base(variant: dict[str, Any], base: dict[str, Any] | None, metric: dict[str, Any]) -> None:
    """Add ``delta`` (test score minus the base's, in display units: percentage points for fractions), for repeated
    seeds ``delta_interval`` (paired, same units) and ``better`` (whether that interval excludes 0, and on which
    side); classifiers also get ``gap_pp`` (train minus test accuracy) and ``delta_pp`` (their ``delta``)."""
    classifier = "test_accuracy" in variant
    if classifier:
        variant["gap_pp"] = pp_difference(variant["train_accuracy"] - variant["test_accuracy"])
        variant["delta_pp"] = None
    variant["delta"], variant["delta_interval"], variant["better"] = None, None, None
    if base is None or base["status"] != DONE or variant is base or variant["score"] is None or base["score"] is None:
        return
    by_seed = {r["seed"]: r["score"] for r in variant["replicates"] if r["score"] is not None}
    interval = paired_difference(by_seed, {r["seed"]: r["score"] for r in base["replicates"] if r["score"] is not None})
    # Over the seeds both have finished, so Δ and its interval agree while a study is still partial.
    difference = interval.mean if interval is not None else variant["score"] - base["score"]
    variant["delta"] = pp_difference(difference) if metric["fraction"] else difference + 0.0
    if classifier and metric["name"] == "accuracy":
        variant["delta_pp"] = variant["delta"]
    if interval is not None and interval.n > 1:
        variant["delta_interval"] = interval.scaled(100.0 if metric["fraction"] else 1.0).to_dict()
    variant["better"] = judge(variant["delta_interval"], metric)


Correctness = tuple[list[str], list[bool]] | None


def _correct_by_example(run_dir: Path, folder: str, classes: list[str]) -> Correctness:
    """(example ids, whether each was predicted right) from a run's predictions.csv; None for runs without one."""
    path = run_dir / folder / PREDICTIONS_FILE
    if not path.is_file():
        return None
    table = read_predictions(path, classes)
    return [f"{i}:{name}" for i, name in zip(table["index"], table["id"], strict=True)], list(
        table["true"] == table["predicted"])


def _add_mcnemar(run_dir: Path, variant: dict[str, Any], base: dict[str, Any] | None,
                 base_results: dict[str, Correctness]) -> None:
    """``mcnemar``: the exact test of the variant against the base on the same test examples, per shared seed, and
    over seeds as the Bonferroni-adjusted smallest p (``method`` names it); None without predictions to compare."""
    variant["mcnemar"] = None
    if base is None or base["status"] != DONE or variant is base:
        return
    base_runs = {run["seed"]: run["folder"] for run in base["replicates"]}
    per_seed = []
    for run in variant["replicates"]:
        if run["seed"] not in base_runs:
            continue
        ours = _correct_by_example(run_dir, run["folder"], variant["classes"])
        folder = base_runs[run["seed"]]
        if folder not in base_results:  # the base's files are read once, whatever the number of variants
            base_results[folder] = _correct_by_example(run_dir, folder, variant["classes"])
        theirs = base_results[folder]
        if ours is None or theirs is None or ours[0] != theirs[0]:  # missing, or not the same test examples
            continue
        per_seed.append({"seed": run["seed"], **mcnemar_exact(theirs[1], ours[1]).to_dict()})
    if not per_seed:
        return
    p_value = bonferroni_min([entry["p_value"] for entry in per_seed])
    method = "exact" if len(per_seed) == 1 else f"exact, Bonferroni over {len(per_seed)} seeds"
    # The signs of the seeds whose difference is significant: two signs mean the direction depends on the seed.
    directions = {(entry["variant_only"] > entry["base_only"]) - (entry["variant_only"] < entry["base_only"])
                  for entry in per_seed if entry["p_value"] < SIGNIFICANCE}
    variant["mcnemar"] = {"p_value": p_value, "method": method, "per_seed": per_seed,
                          "consistent": len(directions) <= 1,
                          "direction": sum(directions) if len(directions) == 1 else 0,
                          "base_only": sum(entry["base_only"] for entry in per_seed),
                          "variant_only": sum(entry["variant_only"] for entry in per_seed)}


def _find_base(variants: list[dict[str, Any]], key: str | None) -> dict[str, Any] | None:
    key = key or (variants[0]["name"] if variants else None)
    return next((v for v in variants if v["name"] == key), None) or next(
        (v for v in variants if v["folder"] == key), None)


def best_variant(variants: list[dict[str, Any]], metric: dict[str, Any]) -> dict[str, Any] | None:
    """The finished variant with the best test score in the metric's direction (the first of equals)."""
    done = [v for v in variants if v["status"] == DONE and v.get("score") is not None]
    return min(done, key=lambda v: sort_key(v["score"], metric), default=None)


def _lift(base: dict[str, Any] | None, baselines: dict[str, Any], metric: dict[str, Any]) -> None:
    """``base_lift``: the base's test score minus the best baseline's (display units), ``base_lift_relative`` as a
    fraction of the baseline's (positive: the base is better); classifiers keep ``base_lift_pp``."""
    best = baselines["rows"][0] if baselines["rows"] else None
    comparable = best is not None and base is not None and base["status"] == DONE and None not in (
        base["score"], best["score"])
    lift = base["score"] - best["score"] if comparable else None
    baselines["base_lift"] = None if lift is None else (pp_difference(lift) if metric["fraction"] else lift + 0.0)
    baselines["base_lift_relative"] = relative_gain(base["score"], best["score"], metric) if comparable else None
    if metric["name"] == "accuracy":
        baselines["base_lift_pp"] = baselines["base_lift"]


def _verdict(variants: list[dict[str, Any]], baselines: dict[str, Any] | None, metric: dict[str, Any]) -> str:
    naive = [row for row in (baselines or {}).get("rows", []) if row.get("naive") and row["score"] is not None]
    return forecast_verdict(best_variant(variants, metric), naive[0] if naive else None, metric)


def load_run(run_dir: Path) -> dict[str, Any]:
    """Read ``run_dir`` into ``{"run_dir", "study", "task", "metric", "data", "variants", "base", "shared_summary",
    "repeated", "baselines", "verdict"}``.

    ``metric`` describes the primary metric (:func:`~trainlab.report.metric.metric_descriptor`: name, label,
    direction, unit). ``baselines``: None, or ``{"features", "rows", "base_lift", "base_lift_relative"}`` with the rows
    best first (classifiers: also ``base_lift_pp``). ``verdict``: for forecasting, the sentence saying whether the
    best deep variant beats the best naive baseline; None for classification.

    ``variants`` lists every variant of ``study.json`` in order, each with ``name``, ``folder``, ``techniques``,
    ``status`` ("done", "failed" or "not run"), ``failures`` (seed, folder and reason of each run whose loss diverged)
    and, when done, its numbers: ``score``, ``train_score``, ``val_score`` (the primary metric on each split),
    ``score_interval``, ``delta`` (test score minus the base's, percentage points for fractions, else the metric's
    units; None for the base or when the base has not run), ``delta_interval`` and ``better``. Classifiers also
    carry accuracies as fractions, ``delta_pp`` and ``gap_pp`` (train minus test accuracy in percentage points), the
    per-class table, confusion matrix and ``mcnemar``; forecasters ``regression`` (RMSE, MAE, R², WMAE, scaled
    metrics and count) and ``regression_interval``. With repeated seeds the numbers and the per-class table are means
    over the finished seeds, ``replicates`` lists each seed's, the ``*_interval`` keys hold 95% intervals, and the
    history, confusion matrix and plots are those of seed ``shown_seed`` (folder ``run_folder``).
    """
    run_dir = Path(run_dir)
    study_path = run_dir / STUDY_FILE
    if not study_path.is_file():
        raise TrainlabError(f"{run_dir} is not a trainlab run folder: {STUDY_FILE} is missing")
    study = read_record(study_path, StudyRecord, "the study description written by the trainer")
    metric = metric_descriptor(study.primary)
    variants = [_load_variant(run_dir, entry, study.seed, metric) for entry in study.variants]
    base = _find_base(variants, study.base)
    base_results: dict[str, Correctness] = {}
    for variant in variants:
        variant["is_base"] = variant is base
        if variant["status"] == DONE:
            _compare_with_base(variant, base, metric)
            if "test_accuracy" in variant:
                _add_mcnemar(run_dir, variant, base, base_results)

    done = [v for v in variants if v["status"] == DONE]
    shared_summary = None
    if done and len({v["params"] for v in done}) == 1:
        first = base if base in done else done[0]
        shared_summary = first["summary"]
    baselines = _baselines(run_dir, metric)
    if baselines is not None:
        _lift(base, baselines, metric)
    seeds = study.seeds if study.seeds is not None else [study.seed]
    return {
        "run_dir": str(run_dir),
        "study": {
            "name": study.name or run_dir.name,
            **study.model_dump(include={"description", "mode", "seed", "started", "finished", "wall_time_s",
                                        "device", "precision", "versions"}),
            "seeds": seeds,
        },
        "task": study.task,
        "metric": metric,
        "data": _data_summary(study.data),
        "variants": variants,
        "base": base["name"] if base else None,
        "shared_summary": shared_summary,
        "repeated": len(seeds) > 1,
        "baselines": baselines,
        "verdict": _verdict(variants, baselines, metric) if study.task == "regression" else None,
    }
