"""How numbers and names are written in the reports: percentages, percentage points, values in a metric's units,
durations, intervals, readings of a difference, and text made safe for Markdown and HTML."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from trainlab.report.stats import SIGNIFICANCE

DASH = "—"


def png_data_uri(path: Path) -> str:
    """A PNG file as a ``data:`` URI, so a self-contained HTML report embeds it."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


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


def fmt_reading(interval: dict[str, Any] | None, higher_is_better: bool = True) -> str:
    """What a paired interval of a difference says, in words a student can act on (``higher_is_better``: the
    direction of the metric the difference is of)."""
    if not interval or interval.get("low") is None:
        return DASH
    if not interval["excludes_zero"]:
        return "within seed noise"
    return "better than base" if (interval["low"] > 0) == higher_is_better else "worse than base"


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


def fmt_amount(value: float | None) -> str:
    """A measured value in its own units: thousands separators for large values (``1,452``), four significant
    digits for smaller ones (``12.35``, ``0.5321``)."""
    if value is None:
        return DASH
    if not math.isfinite(value):
        return "n/a"
    size = abs(value)
    if size >= 1000 or size == 0:
        return f"{value + 0.0:,.0f}"
    if size < 1e-3:
        return f"{value:.3g}"
    return f"{value:,.{3 - math.floor(math.log10(size))}f}"


def fmt_value(value: float | None, metric: Mapping[str, Any], unit: bool = False) -> str:
    """A value of the metric: fractions in % with 2 decimals, others by :func:`fmt_amount` (``unit``: with the
    unit after it, ``1,452 sales``)."""
    if value is None:
        return DASH
    if metric["fraction"]:
        return "n/a" if not math.isfinite(value) else f"{100.0 * value:.2f}%"
    text = fmt_amount(value)
    return f"{text} {metric['unit']}" if unit and metric["unit"] and math.isfinite(value) else text


def fmt_delta(value: float | None, metric: Mapping[str, Any]) -> str:
    """A difference in display units with its sign: ``+2.50 pp`` for fractions, ``-217.4`` otherwise."""
    if value is None:
        return DASH
    if not math.isfinite(value):
        return "n/a"
    if metric["fraction"]:
        return f"{value + 0.0:+.2f} pp"
    text = fmt_amount(abs(value))
    return f"+{text}" if value >= 0 else f"-{text}"


def fmt_r2(value: float | None) -> str:
    """R² with 4 decimals (it is at most 1, and a good forecast sits close to it)."""
    if value is None:
        return DASH
    return "n/a" if not math.isfinite(value) else f"{value + 0.0:.4f}"


def fmt_span(interval: Mapping[str, Any] | None, metric: Mapping[str, Any], signed: bool = False) -> str:
    """A 95% interval in display units: of a value (``[1,402, 1,502]``; fractions in %) or, ``signed``, of a
    difference (``[-120.3, +15.20]``; fractions in percentage points)."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return DASH
    if metric["fraction"]:
        return fmt_interval(dict(interval), "pp" if signed else "%")
    write = (lambda value: fmt_delta(value, metric)) if signed else fmt_amount
    return f"[{write(interval['low'])}, {write(interval['high'])}]"


def tone(delta: float | None, metric: Mapping[str, Any]) -> str:
    """The CSS class of a difference against the base: ``pos`` where it is an improvement, ``neg`` where worse."""
    if delta is None or delta == 0 or not math.isfinite(delta):
        return ""
    return "pos" if (delta > 0) == bool(metric["higher_is_better"]) else "neg"


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


