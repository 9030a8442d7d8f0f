"""Render a run folder into ``report.html`` (self-contained) and ``report.md``, and compare two runs.

Everything comes from the files on disk (see :func:`trainlab.report.load.load_run`); numbers are never recomputed
here, only formatted. Both reports are rendered in memory before either is written, and each write is atomic, so a
failure never leaves a half-written report behind.
"""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from trainlab.artifacts import MISCLASSIFIED_FILE, SAMPLES_FILE
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text
from trainlab.report.load import DONE, FAILED, load_run, pp_difference
from trainlab.report.plots import PLOT_NAMES, plot_study_comparison, plot_variant
from trainlab.report.stats import SIGNIFICANCE
from trainlab.report.text import SKIPPED_SHOWN, fmt_notes, input_facts, text_mistakes

COMPARISON_PLOT = Path("plots") / "comparison.png"
DASH = "—"


def fmt_pct(value: float | None) -> str:
    """A fraction as a percentage with 2 decimals: ``0.825`` → ``"82.50%"``."""
    if value is None:
        return DASH
    return "n/a" if not math.isfinite(value) else f"{100.0 * value:.2f}%"


def fmt_pp(value: float | None) -> str:
    """Percentage points with their sign: ``2.5`` → ``"+2.50 pp"``; ``None`` → ``"—"``."""
    if value is None:
        return DASH
    return "n/a" if not math.isfinite(value) else f"{value + 0.0:+.2f} pp"


def fmt_num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return DASH
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def fmt_int(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def fmt_duration(seconds: float | None) -> str:
    """``75.3`` → ``"1 min 15.3 s"``; ``3725`` → ``"1 h 02 min 05 s"``."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    if round(seconds, 1) < 3600:  # round first, so 59.96 s reads "1 min 00.0 s", never "60.0 s"
        minutes, secs = divmod(round(seconds, 1), 60)
        return f"{int(minutes)} min {secs:04.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s"


def fmt_interval(interval: dict[str, Any] | None, unit: str = "pp") -> str:
    """A 95% interval: ``[-0.40, +2.80] pp`` for differences, ``[81.20%, 84.70%]`` for accuracies (fractions)."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return DASH
    if unit == "%":
        return f"[{fmt_pct(interval['low'])}, {fmt_pct(interval['high'])}]"
    return f"[{interval['low'] + 0.0:+.2f}, {interval['high'] + 0.0:+.2f}] pp"


def fmt_reading(interval: dict[str, Any] | None) -> str:
    """What a paired interval of a difference says, in words a student can act on."""
    if not interval or interval.get("low") is None:
        return DASH
    if not interval["excludes_zero"]:
        return "within seed noise"
    return "better than base" if interval["low"] > 0 else "worse than base"


def fmt_verdict(variant: dict[str, Any]) -> str:
    """The technique-impact reading: does the change survive retraining (the seed interval of Δ excludes 0), and
    does it survive the test sample (McNemar's p < 0.05)? Says which of the two holds."""
    if variant.get("is_base"):
        return "base"
    interval, mcnemar = variant.get("delta_interval"), variant.get("mcnemar")
    seeds = None if not interval or interval.get("low") is None else bool(interval["excludes_zero"])
    sample = None if not mcnemar else mcnemar["p_value"] < SIGNIFICANCE
    if sample is None:
        return fmt_reading(interval)
    if sample and not mcnemar["consistent"]:
        return "differs from base on the test sample, better with one seed and worse with another"
    direction = "better than base" if (variant.get("delta_pp") or 0.0) > 0 else "worse than base"
    if sample:  # the direction the significant seeds agree on
        direction = "better than base" if mcnemar["direction"] > 0 else "worse than base"
    if seeds is None:  # one seed: only the test sample can be judged
        return f"{direction} on this test sample (one seed)" if sample else "not significant on this test sample"
    if seeds and sample:
        return f"{direction} (survives retraining and the test sample)"
    if seeds:
        return f"{direction} over seeds, not significant on this test sample"
    if sample:
        return f"{direction} on this test sample, within seed noise"
    return "within noise (seeds and test sample)"


def fmt_pvalue(value: float | None) -> str:
    """A p-value: ``0.031``, ``< 0.001``; ``—`` for none."""
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt_mcnemar(variant: dict[str, Any]) -> str:
    """``p = 0.031 (12 vs 25)``: McNemar's p and the discordant examples (base right only vs variant right only)."""
    mcnemar = variant.get("mcnemar")
    if not mcnemar:
        return DASH
    return f"{fmt_pvalue(mcnemar['p_value'])} ({mcnemar['base_only']} vs {mcnemar['variant_only']})"


def fmt_epochs(value: float | None) -> str:
    """Epoch counts: whole numbers as integers, means over seeds with one decimal."""
    if value is None:
        return DASH
    return f"{int(value)}" if float(value).is_integer() else f"{value:.1f}"


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


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#])")


def html_breakable(name: Any) -> Markup:
    """A variant name (``+l2+dropout+early_stopping``) that a narrow table cell may break before each ``+``."""
    return Markup("<wbr>+").join(escape(part) for part in str(name).split("+"))


def md_text(value: Any) -> str:
    """Plain text in Markdown: no emphasis, links, headings or HTML from a class or file name; one line."""
    text = " ".join(str(value).splitlines())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: :func:`md_text` with pipes escaped."""
    return md_text(value).replace("|", "\\|")


def md_code(value: Any, cell: bool = False) -> str:
    """An inline code span that holds any text: the fence is one backtick longer than any run inside it.

    ``cell=True`` for a span inside a table cell, where a pipe must be escaped even within code (GitHub's rule).
    """
    text = " ".join(str(value).splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    span = f"{fence}{padding}{text}{padding}{fence}"
    return span.replace("|", "\\|") if cell else span


def _environment() -> Environment:
    # Autoescape exactly the HTML template; the Markdown one must print class names etc. as they are.
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
                       epochs=fmt_epochs, stopped=fmt_stopped, status=fmt_status, seeds_done=fmt_seeds_done)
    return env


def _ensure_plots(run_dir: Path, run: dict[str, Any]) -> tuple[dict[str, dict[str, Path]], Path | None]:
    """Regenerate missing variant plots and redraw the comparison chart.

    Returns the PNG paths relative to ``run_dir``: ``{variant name: {"accuracy"|"loss"|"confusion": path}}`` and the
    comparison chart (``None`` when no variant has finished).
    """
    images: dict[str, dict[str, Path]] = {}
    done = [v for v in run["variants"] if v["status"] == DONE]
    for variant in done:
        plots = Path(variant["run_folder"]) / "plots"
        if not all((run_dir / plots / name).is_file() for name in PLOT_NAMES):
            plot_variant(run_dir / variant["run_folder"])
        images[variant["name"]] = {name.removesuffix(".png"): plots / name for name in PLOT_NAMES}
    if not done:
        return images, None
    plot_study_comparison(done, run_dir / COMPARISON_PLOT)
    return images, COMPARISON_PLOT


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _galleries(run_dir: Path, run: dict[str, Any]) -> tuple[Path | None, list[dict[str, Any]]]:
    """The training-sample gallery, and the misclassified-example galleries of the base and of the best variant (by
    test accuracy), as paths relative to ``run_dir``; galleries a run did not write (older runs) are left out."""
    samples = SAMPLES_FILE if (run_dir / SAMPLES_FILE).is_file() else None
    done = [v for v in run["variants"] if v["status"] == DONE]
    shown = [v for v in done if v["is_base"]]
    best = max(done, key=lambda v: v["test_accuracy"], default=None)
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
    env = _environment()
    outputs = []
    for template, link in (("report.html.j2", lambda path: _data_uri(run_dir / path)),
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
            samples_word="images" if run["data"]["kind"] == "image" else "samples",
            models_differ=len({(v["model"], v["params"]) for v in run["variants"] if v["status"] == DONE}) > 1,
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


def compare(run_a: Path, run_b: Path) -> str:
    """A Markdown table of the test metrics of the variants that both runs share (by name), B against A.

    Runs over different classes cannot be compared (a TrainlabError names them); runs over different data of the same
    classes are compared under a warning that says what differs, since a difference then mixes model and data.
    """
    a, b = load_run(Path(run_a)), load_run(Path(run_b))
    if a["data"]["classes"] != b["data"]["classes"]:
        raise TrainlabError(f"{run_a} and {run_b} are over different classes ({a['data']['classes']} vs "
                            f"{b['data']['classes']}): their accuracies measure different tasks")
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
    lines += [
        "| Variant | Test acc A | Test acc B | Δ acc (B − A) | Macro F1 A | Macro F1 B | Δ F1 (B − A) "
        "| Test loss A | Test loss B | Epochs A | Epochs B |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_compare_row(va, vb) for va, vb in shared]
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
