"""Argument checks and parsers shared across trainlab; this module imports nothing of trainlab but the error type."""

from __future__ import annotations

import math
import re

from trainlab.errors import TrainlabError

MAX_WIDTH = 4.0  # model.width: 4x the reference channel counts is already far past what any lab here trains
MAX_IMAGE_SIZE = 1024  # data.image_size: a full-size VGG-13 activation map at 1024² is already 256 MiB per image
MAX_IN_CHANNELS = 1024  # a model's input channels: images have 1 or 3, hyperspectral ones a few hundred
MAX_NUM_CLASSES = 1_000_000  # a model's output classes: ImageNet-21k has 21,843
MAX_VOCAB_SIZE = 10_000_000  # a text model's vocabulary: GloVe 840B has 2.2 million words


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int ``>= minimum`` (and ``<= maximum`` when given), or a TrainlabError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TrainlabError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise TrainlabError(f"{name} must be {expected}, got {_int_text(value, '')}")
    if maximum is not None and value > maximum:
        raise TrainlabError(f"{name} must be at most {maximum:,}, got {_int_text(value, ',')}")
    return value


def _int_text(value: int, separator: str) -> str:
    """``value`` for a message; one of more than 30 digits as its digit count (Python will not print 4,300 digits)."""
    if abs(value) < 10**30:
        return format(value, separator)
    digits = int(abs(value).bit_length() * math.log10(2)) + 1  # exact, or one too many
    if abs(value) < 10 ** (digits - 1):
        digits -= 1
    return f"a {'negative ' if value < 0 else ''}number of {digits:,} digits"


def check_float(name: str, value: object, minimum: float, maximum: float, *, min_inclusive: bool = True,
                max_inclusive: bool = True) -> float:
    """``value`` as a finite float in the interval from ``minimum`` to ``maximum``, or a TrainlabError naming ``name``.

    Ints count as numbers, bools do not. The bounds are included unless ``min_inclusive`` / ``max_inclusive`` is
    False; the message writes the interval as ``(0, 4]`` or ``[0, 1)``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TrainlabError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number):
        raise TrainlabError(f"{name} must be a finite number, got {number}")
    above = number >= minimum if min_inclusive else number > minimum
    below = number <= maximum if max_inclusive else number < maximum
    if not (above and below):
        interval = f"{'[' if min_inclusive else '('}{minimum:g}, {maximum:g}{']' if max_inclusive else ')'}"
        raise TrainlabError(f"{name} must be in {interval}, got {number:g}")
    return number


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
