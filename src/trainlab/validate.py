"""Argument checks and parsers shared across trainlab; this module imports nothing of trainlab but the error type."""

from __future__ import annotations

import math
import re

from trainlab.errors import TrainlabError

MAX_WIDTH = 4.0  # model.width: 4x the reference channel counts is already far past what any lab here trains
MAX_IMAGE_SIZE = 1024  # data.image_size: a full-size VGG-13 activation map at 1024² is already 256 MiB per image


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int ``>= minimum``, or a TrainlabError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TrainlabError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise TrainlabError(f"{name} must be {expected}, got {value}")
    return value


def parse_numbers(text: str, option: str, example: str, whole: str | None = None) -> list[float]:
    """Finite numbers separated by commas and/or whitespace, e.g. ``"1,2,4,6"`` or ``"1 2"``.

    Errors name ``option`` and end with ``expected ... such as {example}``. When ``text`` is one step of a longer
    option value (``"1 2;0.5 0"`` split at ``;``), pass that value as ``whole``: errors then quote it, not the step.
    """
    shown = text if whole is None else whole
    parts = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    if not parts:
        where = "is empty" if whole is None else f"{whole!r} has an empty step"
        raise TrainlabError(f"{option} {where}; expected numbers such as {example}")
    try:
        values = [float(part) for part in parts]
    except ValueError as exc:
        raise TrainlabError(f"{option} {shown!r} holds a non-number; expected numbers such as {example}") from exc
    if not all(math.isfinite(value) for value in values):
        raise TrainlabError(f"{option} {shown!r} holds a non-finite number; expected finite numbers such as {example}")
    return values
