"""The LSTM step calculator: every gate of every step of a small LSTM, and the loss, from weights in a YAML file.

Weights file (YAML read by :func:`trainlab.io.load_yaml`, so ``1e-3`` is a number), one key per gate
k ∈ {i, f, g, o} (``c`` is accepted as an alias of ``g``)::

    W_i, W_f, W_g, W_o   input weights      [hidden, input]     (W_c = W_g)
    U_i, U_f, U_g, U_o   recurrent weights  [hidden, hidden]    (U_c = U_g)
    b_i, b_f, b_g, b_o   biases             [hidden]            (b_c = b_g)

each a number (hidden = input = 1) or a nested list. A one-row matrix may be written as a flat list when hidden = 1,
and a bias as a number when hidden = 1. hidden is read from ``b_i`` and input from ``W_i``; every other key is
checked against them. The forward pass is the NumPy LSTM of :mod:`trainlab.scratch.lstm` (W_x = W, W_h = U), so the
printed numbers are those of the checked net. Loss: MSE = (1 / (T·hidden)) Σ_t Σ_j (h_tj − y_tj)², the mean over the
steps and the units; the per-step "squared error" is (h_tj − y_tj)² per unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Group
from rich.table import Table

from trainlab.errors import TrainlabError
from trainlab.io import load_yaml, read_user_text
from trainlab.scratch.lstm import GATES, GateParams, LSTMCell, LSTMParams
from trainlab.validate import parse_numbers

Array = NDArray[np.float64]
KINDS = {"W": "input weights [hidden, input]", "U": "recurrent weights [hidden, hidden]", "b": "bias [hidden]"}
ALIASES = {"c": "g"}
ACCEPTED_KEYS = tuple(f"{kind}_{gate}" for kind in KINDS for gate in (*GATES, "c"))
STEPS_EXAMPLE = '1,0.5 (scalars) or "1 2;0.5 0" (vectors)'


def _to_array(value: Any, key: str, source: str) -> Array:
    def numeric(item: Any) -> bool:
        if isinstance(item, list):
            return all(numeric(x) for x in item)
        return isinstance(item, int | float) and not isinstance(item, bool)

    if not numeric(value):
        raise TrainlabError(f"{source}: {key} = {value!r} is not a number or a nested list of numbers")
    if _depth(value) > 2:
        raise TrainlabError(f"{source}: {key} is nested {_depth(value)} lists deep; expected a number, a list or a "
                            "list of lists")
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:  # an integer beyond float64, e.g. 10**400
        raise TrainlabError(f"{source}: {key} holds a number too large for float64; expected finite numbers") from None
    except ValueError as exc:
        raise TrainlabError(f"{source}: {key} is a ragged list; expected rows of equal length") from exc
    if not np.all(np.isfinite(array)):
        raise TrainlabError(f"{source}: {key} holds a non-finite value; expected finite numbers")
    return array


def _depth(value: Any) -> int:
    """How many lists deep ``value`` is: 0 for a number, 1 for a flat list, 2 for a list of lists, ..."""
    return 1 + max((_depth(item) for item in value), default=0) if isinstance(value, list) else 0


def _shape(array: Array) -> str:
    return "scalar" if array.ndim == 0 else str(tuple(array.shape))


def lstm_params_from_mapping(data: Any, source: str = "weights") -> LSTMParams:
    """Validate a mapping of the keys above and build the :class:`LSTMParams` (W → W_x, U → W_h)."""
    if not isinstance(data, dict):
        raise TrainlabError(f"{source} is not a mapping of weight names to values; expected keys like W_i, U_i, b_i")
    values: dict[str, Array] = {}
    origin: dict[str, str] = {}
    for key, value in data.items():
        if key not in ACCEPTED_KEYS:
            raise TrainlabError(f"{source}: unknown key {key!r}; accepted keys: {', '.join(ACCEPTED_KEYS)}")
        kind, gate = key.split("_")
        canonical = f"{kind}_{ALIASES.get(gate, gate)}"
        if canonical in values:
            raise TrainlabError(f"{source}: {origin[canonical]} and {key} both given; {kind}_c is an alias of "
                                f"{kind}_g, give one of them")
        values[canonical] = _to_array(value, key, source)
        origin[canonical] = key
    missing = [f"{kind}_{gate}" for kind in KINDS for gate in GATES if f"{kind}_{gate}" not in values]
    if missing:
        raise TrainlabError(f"{source}: missing key(s) {', '.join(missing)} (g may be written c); expected "
                            + "; ".join(f"{kind}_i/f/g/o: {what}" for kind, what in KINDS.items()))
    b_i, w_i = values["b_i"], values["W_i"]
    if b_i.ndim > 1:
        raise TrainlabError(f"{source}: b_i has shape {_shape(b_i)}; expected a number or a list [hidden]")
    hidden = 1 if b_i.ndim == 0 else b_i.shape[0]
    if hidden == 0:
        raise TrainlabError(f"{source}: b_i is empty; expected at least one unit")
    input_size = 1 if w_i.ndim == 0 else w_i.shape[-1] if w_i.ndim <= 2 else 0
    if input_size == 0 or (w_i.ndim == 1 and hidden != 1) or (w_i.ndim == 2 and w_i.shape[0] != hidden):
        raise TrainlabError(f"{source}: W_i has shape {_shape(w_i)}; expected ({hidden}, input) "
                            f"(hidden={hidden} from b_i)")
    expected = {"W": (hidden, input_size), "U": (hidden, hidden), "b": (hidden,)}
    for key, array in values.items():
        want = expected[key[0]]
        flat_row = array.ndim == 1 and want[0] == 1
        if array.size == math.prod(want) and (array.ndim == 0 or flat_row or array.shape == want):
            values[key] = array.reshape(want)
        else:
            raise TrainlabError(f"{source}: {key} has shape {_shape(array)}; expected {want} ({KINDS[key[0]]}, "
                                f"hidden={hidden} from b_i, input={input_size} from W_i)")
    return LSTMParams(*(GateParams(values[f"W_{k}"], values[f"U_{k}"], values[f"b_{k}"]) for k in GATES))


def load_lstm_weights(path: str | Path) -> LSTMParams:
    """Read and validate a weights YAML file (see the module docstring); ``1e-3`` reads as a number, as in YAML 1.2."""
    data = load_yaml(read_user_text(path, "weights file"), f"weights file {path}")
    return lstm_params_from_mapping(data, str(path))


def parse_steps(text: str, option: str = "--x") -> Array:
    """A sequence [T, n]: ``;`` separates steps when present (components by spaces or commas), else ``,`` does."""
    separator = ";" if ";" in text else ","
    chunks = text.split(separator) if text.strip() else []
    steps = [parse_numbers(chunk, option, STEPS_EXAMPLE, whole=text) for chunk in chunks]
    if not steps:
        raise TrainlabError(f"{option} is empty; expected steps such as {STEPS_EXAMPLE}")
    if len({len(s) for s in steps}) != 1:
        sizes = ", ".join(str(len(s)) for s in steps)
        raise TrainlabError(f"{option} {text!r} has steps of different sizes ({sizes}); expected equal sizes")
    return np.array(steps, dtype=np.float64)


def parse_state(text: str, option: str, hidden: int) -> Array:
    """A state [hidden]: one number (used for every unit) or ``hidden`` numbers."""
    values = parse_numbers(text, option, "0 (every unit) or one per unit, e.g. 0.1,0.2")
    if len(values) == 1:
        return np.full(hidden, values[0])
    if len(values) != hidden:
        raise TrainlabError(f"{option} {text!r} has {len(values)} values; expected 1 or hidden={hidden}")
    return np.array(values)


@dataclass(frozen=True)
class StepRecord:
    """One step: the inputs, every gate's pre-activation and value, c_t, h_t and, with a target, the squared error."""

    t: int
    x: Array
    z: dict[str, Array]
    gates: dict[str, Array]
    c: Array
    h: Array
    target: Array | None
    squared_error: Array | None


@dataclass(frozen=True)
class LSTMStepResult:
    hidden: int
    input: int
    steps: tuple[StepRecord, ...]
    loss: float | None


def run_lstm_steps(params: LSTMParams, xs: Array, h0: Array, c0: Array, targets: Array | None = None) -> LSTMStepResult:
    """Run the NumPy LSTM over xs [T, input] and collect every step; the loss is the MSE over steps and units."""
    hidden, input_size = params.hidden, params.input
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 2 or xs.shape[1] != input_size:
        raise TrainlabError(f"--x has {xs.shape[-1]} value(s) per step; the weights expect input={input_size}")
    if targets is not None:
        targets = np.asarray(targets, dtype=np.float64)
        if targets.shape[0] != xs.shape[0]:
            raise TrainlabError(f"--target has {targets.shape[0]} step(s) but --x has {xs.shape[0]}; "
                                "expected one target per step")
        if targets.shape[1] != hidden:
            raise TrainlabError(f"--target has {targets.shape[1]} value(s) per step; expected hidden={hidden}")
    _, _, caches = LSTMCell(params).forward_sequence(xs, h0, c0)
    records = []
    for t, cache in enumerate(caches):
        target = None if targets is None else targets[t]
        error = None if target is None else (cache.h - target) ** 2
        records.append(StepRecord(t + 1, cache.x, cache.z, cache.gates, cache.c, cache.h, target, error))
    loss = None if targets is None else float(np.mean([r.squared_error for r in records]))
    return LSTMStepResult(hidden, input_size, tuple(records), loss)


GATE_ROWS = {"i": "σ", "f": "σ", "g": "tanh", "o": "σ"}


def render_lstm_steps(result: LSTMStepResult) -> Group:
    """One Rich table per step and a closing loss line."""

    def cells(values: Array) -> list[str]:
        return [f"{v:.6f}" for v in values]

    parts: list[Any] = []
    units = ["value"] if result.hidden == 1 else [f"unit {j + 1}" for j in range(result.hidden)]
    for r in result.steps:
        table = Table(title=f"step {r.t}: x_{r.t} = {', '.join(f'{v:g}' for v in r.x)}", title_justify="left")
        table.add_column("quantity", no_wrap=True)
        for unit in units:
            table.add_column(unit, justify="right", no_wrap=True)
        for k in GATES:
            table.add_row(f"z_{k} = W_{k} x + U_{k} h + b_{k}", *cells(r.z[k]))
            table.add_row(f"{k} = {GATE_ROWS[k]}(z_{k})", *cells(r.gates[k]))
        table.add_row(f"c_{r.t} = f·c_{r.t - 1} + i·g", *cells(r.c))
        table.add_row(f"h_{r.t} = o·tanh(c_{r.t})", *cells(r.h))
        if r.target is not None and r.squared_error is not None:
            table.add_row("target", *cells(r.target))
            table.add_row(f"(h_{r.t} − target)²", *cells(r.squared_error))
        parts.append(table)
    if result.loss is not None:
        parts.append(f"loss (MSE over {len(result.steps)} step(s) × {result.hidden} unit(s)) = {result.loss:.8f}")
    return Group(*parts)
