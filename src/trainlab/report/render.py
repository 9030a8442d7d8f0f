"""Render a run folder into ``report.html`` (self-contained) and ``report.md``, and compare two runs.

Everything comes from the files on disk (see :func:`trainlab.report.load.load_run`); numbers are never recomputed
here, only formatted. Both reports are rendered in memory before either is written, and each write is atomic, so a
failure never leaves a half-written report behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trainlab.artifacts import MISCLASSIFIED_FILE, PREDICTIONS_FILE, SAMPLES_FILE
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text
from trainlab.report.forecast import split_rows
from trainlab.report.formats import (
    DASH,
    fmt_amount,
    fmt_delta,
    fmt_duration,
    fmt_epochs,
    fmt_int,
    fmt_interval,
    fmt_mcnemar,
    fmt_num,
    fmt_pct,
    fmt_pp,
    fmt_pvalue,
    fmt_r2,
    fmt_reading,
    fmt_span,
    fmt_value,
    fmt_verdict,
    html_breakable,
    md_cell,
    md_code,
    md_text,
    png_data_uri,
    tone,
)
from trainlab.report.load import DONE, FAILED, best_variant, load_run, pp_difference
from trainlab.report.plots import plot_names, plot_study_comparison, plot_variant
from trainlab.report.text import SKIPPED_SHOWN, fmt_notes, input_facts, text_mistakes

COMPARISON_PLOT = Path("plots") / "comparison.png"
SAMPLES_WORDS = {"image": "images", "window": "windows"}


def fmt_stopped(variant: dict[str, Any]) -> str:
    """"yes"/"no" for one seed; "2/3" (seeds that stopped early / finished seeds) for repeated seeds."""
    replicates = variant["replicates"]
    if len(replicates) > 1:
        return f"{sum(r['stopped_early'] for r in replicates)}/{len(replicates)}"
    return "yes" if variant["stopped_early"] else "no"


def fmt_status(variant: dict[str, Any]) -> str:
    """Why a variant has no numbers: "not run", or "failed: <the first failure's reason>"."""
    if variant["status"] == FAILED and variant["failures"]:
        return f"failed: {variant['failures'][0]['reason']}"
    return "not run"


def fmt_seeds_done(variant: dict[str, Any]) -> str:
    """Finished seeds of all, and the failed ones: ``"2/3"``, ``"2/3 (1 failed)"``."""
    failed = len(variant["failures"])
    return f"{len(variant['replicates'])}/{variant['seeds_total']}" + (f" ({failed} failed)" if failed else "")


def report_environment() -> Environment:
    """The Jinja environment of trainlab's reports (the study report, ``trainlab style``'s) with the shared filters.

    Autoescape exactly the HTML templates; the Markdown ones must print class names etc. as they are.
    """
    env = Environment(
        loader=PackageLoader("trainlab.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), disabled_extensions=("md", "md.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=fmt_pct, pp=fmt_pp, num=fmt_num, intc=fmt_int, duration=fmt_duration, mdcell=md_cell,
                       notes=fmt_notes,
                       mdtext=md_text, mdcode=md_code, interval=fmt_interval, reading=fmt_reading,
                       verdict=fmt_verdict, pvalue=fmt_pvalue, mcnemar=fmt_mcnemar, breakable=html_breakable,
                       epochs=fmt_epochs, stopped=fmt_stopped, status=fmt_status, seeds_done=fmt_seeds_done,
                       value=fmt_value, amount=fmt_amount, delta=fmt_delta, r2=fmt_r2, span=fmt_span, tone=tone)
    return env


def _variant_plots(run_dir: Path, run: dict[str, Any], variant: dict[str, Any]) -> dict[str, Path]:
    """A finished variant's PNGs (drawn where missing), by name without ``.png``, relative to ``run_dir``."""
    folder = run_dir / variant["run_folder"]
    names = plot_names(run["task"], run["metric"]["name"], (folder / PREDICTIONS_FILE).is_file())
    plots = Path(variant["run_folder"]) / "plots"
    if not all((run_dir / plots / name).is_file() for name in names):
        plot_variant(folder, run["metric"])
    return {name.removesuffix(".png"): plots / name for name in names}


def _reference(run: dict[str, Any]) -> tuple[str, float] | None:
    """The best naive baseline of a forecasting run, drawn as a line on the comparison chart."""
    rows = (run["baselines"] or {}).get("rows", [])
    naive = [row for row in rows if row.get("naive") and row["score"] is not None]
    return (naive[0]["name"], naive[0]["score"]) if naive else None


def _ensure_plots(run_dir: Path, run: dict[str, Any]) -> tuple[dict[str, dict[str, Path]], Path | None]:
    """Regenerate missing variant plots and redraw the comparison chart.

    Returns the PNG paths relative to ``run_dir``: ``{variant name: {"accuracy"|"loss"|"confusion": path}}`` (for
    forecasting: the primary metric's name, "loss", "forecast" and "residuals") and the comparison chart (``None``
    when no variant has finished).
    """
    done = [v for v in run["variants"] if v["status"] == DONE]
    images = {variant["name"]: _variant_plots(run_dir, run, variant) for variant in done}
    if not done:
        return images, None
    if run["metric"]["name"] == "accuracy":
        plot_study_comparison(done, run_dir / COMPARISON_PLOT)
    else:
        plot_study_comparison(done, run_dir / COMPARISON_PLOT, run["metric"], _reference(run))
    return images, COMPARISON_PLOT


def _galleries(run_dir: Path, run: dict[str, Any]) -> tuple[Path | None, list[dict[str, Any]]]:
    """The training-sample gallery, and the misclassified-example galleries of the base and of the best variant (by
    test score), as paths relative to ``run_dir``; galleries a run did not write (older runs) are left out."""
    samples = SAMPLES_FILE if (run_dir / SAMPLES_FILE).is_file() else None
    done = [v for v in run["variants"] if v["status"] == DONE]
    shown = [v for v in done if v["is_base"]]
    best = best_variant(done, run["metric"])
    if best is not None and best not in shown:
        shown.append(best)
    misclassified = [{"name": v["name"], "seed": v["shown_seed"], "best": v is best,
                      "path": Path(v["run_folder"]) / MISCLASSIFIED_FILE}
                     for v in shown if (run_dir / v["run_folder"] / MISCLASSIFIED_FILE).is_file()]
    return samples, misclassified


def render(run_dir: Path) -> tuple[Path, Path]:
    """Write ``run_dir/report.html`` and ``run_dir/report.md`` from the run folder; return their paths.

    The HTML embeds every figure (self-contained); the Markdown links to the PNG files beside it.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    images, comparison = _ensure_plots(run_dir, run)
    samples, misclassified = _galleries(run_dir, run)
    text_examples = text_mistakes(run_dir, run)
    env = report_environment()
    outputs = []
    for template, link in (("report.html.j2", lambda path: png_data_uri(run_dir / path)),
                           ("report.md.j2", lambda path: quote(path.as_posix()))):
        outputs.append(env.get_template(template).render(
            run=run,
            images={name: {kind: link(path) for kind, path in group.items()} for name, group in images.items()},
            comparison=link(comparison) if comparison else None,
            samples=link(samples) if samples else None,
            misclassified=[{**entry, "path": link(entry["path"])} for entry in misclassified],
            facts=input_facts(run["data"]),
            figures=[{**figure, "link": link(Path(figure["path"]))} for figure in run["data"]["figures"]
                     if (run_dir / figure["path"]).is_file()],
            text_examples=text_examples,
            samples_word=SAMPLES_WORDS.get(run["data"]["kind"], "samples"),
            regression=run["task"] == "regression",
            splits=split_rows(run["data"]) if run["data"]["kind"] == "window" else [],
            models_differ=len({(v["model"], v["params"], v["trainable_params"]) for v in run["variants"]
                               if v["status"] == DONE}) > 1,
            skipped_shown=SKIPPED_SHOWN,
        ))
    html_path = atomic_write_text(run_dir / "report.html", outputs[0])
    md_path = atomic_write_text(run_dir / "report.md", outputs[1])
    return html_path, md_path


def _done_value(variant: dict[str, Any], key: str) -> Any:
    return variant[key] if variant["status"] == DONE else None


def _data_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """How the test data of two loaded runs differ; empty when it is the same data (or nothing tells them apart)."""
    data_a, data_b = a["data"], b["data"]
    notes = []
    if data_a["totals"] != data_b["totals"]:
        notes.append("split sizes (train/val/test) " + " vs ".join(
            "/".join(str(data["totals"][split]) for split in ("train", "val", "test")) for data in (data_a, data_b)))
    if data_a["source"] != data_b["source"]:
        notes.append(f"source {data_a['source']!r} vs {data_b['source']!r}")
    if data_a["image_shape"] != data_b["image_shape"]:
        notes.append(f"image shape {data_a['image_shape']} vs {data_b['image_shape']}")
    both = data_a["fingerprint"] and data_b["fingerprint"]
    if not notes and both and data_a["fingerprint"] != data_b["fingerprint"]:
        notes.append("the same split sizes but not the same images (data fingerprints differ)")
    return notes


def _check_comparable(run_a: Path, run_b: Path, a: dict[str, Any], b: dict[str, Any]) -> None:
    """Refuse, in one TrainlabError, two runs whose numbers do not measure the same thing."""
    if a["task"] != b["task"]:
        raise TrainlabError(f"{run_a} is a {a['task']} run and {run_b} a {b['task']} run: their metrics measure "
                            "different tasks, so they cannot be compared")
    metric_a, metric_b = a["metric"], b["metric"]
    if (metric_a["name"], metric_a["unit"]) != (metric_b["name"], metric_b["unit"]):
        raise TrainlabError(f"{run_a} and {run_b} are judged by different metrics ({metric_a['header']} vs "
                            f"{metric_b['header']}): their numbers cannot be compared")
    if a["data"]["classes"] != b["data"]["classes"]:
        raise TrainlabError(f"{run_a} and {run_b} are over different classes ({a['data']['classes']} vs "
                            f"{b['data']['classes']}): their accuracies measure different tasks")


def compare(run_a: Path, run_b: Path) -> str:
    """A Markdown table of the test metrics of the variants that both runs share (by name), B against A.

    Runs of different tasks or metrics, or over different classes, cannot be compared (a TrainlabError names them);
    runs over different data of the same classes are compared under a warning that says what differs, since a
    difference then mixes model and data. Forecasting runs are compared by their primary metric (e.g. WMAE, in the
    target's units, lower is better), RMSE and R².
    """
    a, b = load_run(Path(run_a)), load_run(Path(run_b))
    _check_comparable(run_a, run_b, a, b)
    variants_b = {v["name"]: v for v in b["variants"]}
    shared = [(v, variants_b[v["name"]]) for v in a["variants"] if v["name"] in variants_b]
    if not shared:
        raise TrainlabError(f"{run_a} and {run_b} have no variant names in common: nothing to compare")
    lines = [f"Comparing A = {md_code(run_a)} ({md_cell(a['study']['name'])}) with B = {md_code(run_b)} "
             f"({md_cell(b['study']['name'])}).", ""]
    differences = _data_differences(a, b)
    if differences:
        lines += [f"**Warning: the runs used different data** ({md_text('; '.join(differences))}): a difference "
                  "below mixes the change of model or training with the change of data.", ""]
    if a["metric"]["name"] == "accuracy":
        lines += [
            "| Variant | Test acc A | Test acc B | Δ acc (B − A) | Macro F1 A | Macro F1 B | Δ F1 (B − A) "
            "| Test loss A | Test loss B | Epochs A | Epochs B |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [_compare_row(va, vb) for va, vb in shared]
    else:
        lines += _score_table(a["metric"], shared)
    only = sorted({v["name"] for v in a["variants"]} ^ set(variants_b))
    if only:
        lines += ["", "Variants in only one run (not compared): " + ", ".join(md_cell(name) for name in only) + "."]
    return "\n".join(lines) + "\n"


def _compare_row(va: dict[str, Any], vb: dict[str, Any]) -> str:
    both = va["status"] == DONE and vb["status"] == DONE
    d_acc = pp_difference(vb["test_accuracy"] - va["test_accuracy"]) if both else None
    d_f1 = pp_difference(vb["f1_macro"] - va["f1_macro"]) if both else None
    cells = [
        md_cell(va["name"]),
        fmt_pct(va["test_accuracy"]) if va["status"] == DONE else md_cell(fmt_status(va)),
        fmt_pct(vb["test_accuracy"]) if vb["status"] == DONE else md_cell(fmt_status(vb)),
        fmt_pp(d_acc),
        fmt_pct(_done_value(va, "f1_macro")),
        fmt_pct(_done_value(vb, "f1_macro")),
        fmt_pp(d_f1),
        fmt_num(_done_value(va, "test_loss")),
        fmt_num(_done_value(vb, "test_loss")),
        fmt_epochs(_done_value(va, "epochs_run")),
        fmt_epochs(_done_value(vb, "epochs_run")),
    ]
    return "| " + " | ".join(cells) + " |"


def _score_table(metric: dict[str, Any], shared: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    """The comparison table of runs judged by a metric in its own units (forecasting: WMAE, RMSE, R²)."""
    label, better = metric["label"], "higher" if metric["higher_is_better"] else "lower"
    sign = "positive" if metric["higher_is_better"] else "negative"
    unit = f" in {metric['unit']}" if metric["unit"] and not metric["fraction"] else ""
    return [f"{label} and RMSE{unit}; {better} is better, so a {sign} Δ means B is better.", "",
            f"| Variant | Test {label} A | Test {label} B | Δ {label} (B − A) | RMSE A | RMSE B | R² A | R² B "
            "| Test loss A | Test loss B | Epochs A | Epochs B |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(_score_row(metric, va, vb) for va, vb in shared)]


def _regression_value(variant: dict[str, Any], key: str) -> float | None:
    return variant.get("regression", {}).get(key) if variant["status"] == DONE else None


def _score_row(metric: dict[str, Any], va: dict[str, Any], vb: dict[str, Any]) -> str:
    both = va["status"] == DONE and vb["status"] == DONE and None not in (va["score"], vb["score"])
    cells = [
        md_cell(va["name"]),
        fmt_value(va["score"], metric) if va["status"] == DONE else md_cell(fmt_status(va)),
        fmt_value(vb["score"], metric) if vb["status"] == DONE else md_cell(fmt_status(vb)),
        fmt_delta(vb["score"] - va["score"], metric) if both else DASH,
        fmt_amount(_regression_value(va, "rmse")),
        fmt_amount(_regression_value(vb, "rmse")),
        fmt_r2(_regression_value(va, "r2")),
        fmt_r2(_regression_value(vb, "r2")),
        fmt_num(_done_value(va, "test_loss")),
        fmt_num(_done_value(vb, "test_loss")),
        fmt_epochs(_done_value(va, "epochs_run")),
        fmt_epochs(_done_value(vb, "epochs_run")),
    ]
    return "| " + " | ".join(cells) + " |"
