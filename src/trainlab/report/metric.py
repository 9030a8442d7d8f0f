"""The primary metric of a run: its name, label, direction and unit, and which of two values is better.

A classification study is judged by accuracy (a fraction: shown in %, differences in percentage points, higher is
better); a forecasting study by WMAE in the target's units (thousands separators, lower is better). ``study.json``
names the metric under ``primary``; runs written before that key existed are classification runs judged by accuracy.
:mod:`trainlab.report.formats` writes the values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

FRACTION = "fraction"
DEFAULT_PRIMARY: dict[str, Any] = {"name": "accuracy", "higher_is_better": True, "unit": FRACTION}
LABELS = {"accuracy": "accuracy", "wmae": "WMAE", "rmse": "RMSE", "mae": "MAE", "r2": "R²", "f1_macro": "macro F1",
          "loss": "loss", "bleu": "BLEU"}


def metric_descriptor(primary: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"name", "label", "higher_is_better", "unit", "fraction", "header"}`` of a ``study.json`` ``primary``
    (empty or None: accuracy). ``header`` is the label with its unit, for table headings: ``"WMAE (sales)"``."""
    merged = dict(primary) if primary and primary.get("name") else DEFAULT_PRIMARY
    name, unit = str(merged["name"]), str(merged.get("unit") or "")
    label = LABELS.get(name, name)
    shown_unit = "" if unit == FRACTION else unit
    return {"name": name, "label": label, "higher_is_better": bool(merged.get("higher_is_better", True)), "unit": unit,
            "fraction": unit == FRACTION, "header": f"{label} ({shown_unit})" if shown_unit else label}


def is_better(value: float, other: float, metric: Mapping[str, Any]) -> bool:
    """Whether ``value`` is strictly better than ``other`` in the metric's direction."""
    return value > other if metric["higher_is_better"] else value < other


def sort_key(value: float | None, metric: Mapping[str, Any]) -> tuple[bool, float]:
    """A key that sorts values best first (missing ones last) in the metric's direction."""
    if value is None or not math.isfinite(value):
        return True, 0.0
    return False, -value if metric["higher_is_better"] else value


def relative_gain(value: float, reference: float, metric: Mapping[str, Any]) -> float | None:
    """How much better ``value`` is than ``reference``, as a fraction of ``reference`` (negative: worse)."""
    if reference == 0 or not math.isfinite(reference) or not math.isfinite(value):
        return None
    change = (value - reference) / abs(reference)
    return change if metric["higher_is_better"] else -change


def judge(interval: Mapping[str, Any] | None, metric: Mapping[str, Any]) -> bool | None:
    """True / False when a paired interval of a difference excludes 0 on the better / worse side; None otherwise."""
    if not interval or not interval.get("excludes_zero"):
        return None
    return (interval["low"] > 0) == bool(metric["higher_is_better"])
