"""A Keras ``Sequential`` description → output shapes and Keras parameter counts, as ``model.summary()`` prints them.

The description is layers separated by ``;``, each ``Name(args)`` with positional and keyword arguments that are
literals: ints, floats, strings, tuples (or lists), True/False/None; e.g.
``"Embedding(1000, 16, input_length=200); LSTM(32); Dense(256, activation='relu'); Dense(1)"``. Each layer is parsed
with :func:`ast.parse` in ``eval`` mode and only Call, Constant, Tuple/List, keyword and unary-minus nodes are read;
nothing is evaluated. Arguments bind as in Keras (positional order included); ones that change neither shape nor count
(``activation``, initializers, regularizers, ``name``, ...) are accepted and ignored.

Shapes are Keras' ``(None, ...)`` with the batch first and channels last. The first layer needs an input shape:
``Input(shape=(...))``, ``input_shape=(...)`` / ``input_dim=`` on the layer, or an ``Embedding`` (its input is the
token sequence, of ``input_length`` or unknown length). Counts use the Keras formulas of :mod:`trainlab.calc.params`;
Conv2D ``'same'`` gives ``⌈n / s⌉`` and ``'valid'`` ``⌊(n − d·(k − 1) − 1) / s⌋ + 1``; pools likewise with d = 1.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from trainlab.calc.keras_layers import SPECS, Shape, bind, check_trainable, first_shape, format_shape
from trainlab.calc.params import ParamCount
from trainlab.calc.shapes import check_int
from trainlab.errors import TrainlabError

__all__ = ["KerasLayer", "KerasSummary", "format_shape", "keras_summary", "parse_layer", "split_layers"]

MAX_DESCRIPTION = 10_000
"""Characters in a description: a hundred layers of a hundred characters; Python's parser is not fed more."""
MAX_NESTING = 32
"""Brackets ``(`` / ``[`` open at once; a literal argument needs a handful."""
SHOWN = 60
"""Characters of a layer's text quoted in an error message."""


@dataclass(frozen=True)
class KerasLayer:
    """One row of the summary: 1-based position, layer class, its text, output shape (batch first) and count."""

    position: int
    name: str
    text: str
    output_shape: Shape
    params: ParamCount


@dataclass(frozen=True)
class KerasSummary:
    """The rows and the totals of ``model.summary()``: total = trainable + non-trainable."""

    layers: list[KerasLayer] = field(default_factory=list)

    @property
    def trainable(self) -> int:
        return sum(layer.params.trainable for layer in self.layers)

    @property
    def non_trainable(self) -> int:
        return sum(layer.params.non_trainable for layer in self.layers)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


# ---------------------------------------------------------------------------------------------------------- parsing
def split_layers(description: str) -> list[str]:
    """Split on top-level ``;`` (not inside parentheses or quotes); unbalanced parentheses are a TrainlabError, and so
    are a description longer than :data:`MAX_DESCRIPTION` characters and brackets nested deeper than
    :data:`MAX_NESTING`."""
    if len(description) > MAX_DESCRIPTION:
        raise TrainlabError(f"the Keras description is {len(description):,} characters long; expected at most "
                            f"{MAX_DESCRIPTION:,}")
    pieces, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(description):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
            if depth > MAX_NESTING:
                where = f"layer {len(pieces) + 1} {shown(description[start:])}"
                raise TrainlabError(f"{where}: brackets nested more than {MAX_NESTING} deep; expected Name(args) "
                                    "with literal arguments, e.g. Conv2D(32, (3, 3))")
        elif char in ")]":
            depth -= 1
            if depth < 0:
                where = f"layer {len(pieces) + 1} {shown(description[start:].split(';')[0])}"
                raise TrainlabError(f"{where}: unbalanced parentheses, a ')' without its '('")
        elif char == ";" and depth == 0:
            pieces.append(description[start:index])
            start = index + 1
    last = description[start:]
    if depth or quote:
        problem = "unbalanced parentheses, a '(' without its ')'" if depth else f"unclosed quote {quote}"
        raise TrainlabError(f"layer {len(pieces) + 1} {shown(last)}: {problem}")
    if last.strip() or not pieces:
        pieces.append(last)
    if not any(piece.strip() for piece in pieces):
        raise TrainlabError("the Keras description is empty; expected layers like \"Dense(64); Dense(1)\"")
    for position, piece in enumerate(pieces, 1):
        if not piece.strip():
            raise TrainlabError(f"layer {position} is empty (two ';' in a row?); expected Name(args)")
    return [piece.strip() for piece in pieces]


def shown(text: str) -> str:
    """``text`` stripped and quoted for a message, cut to :data:`SHOWN` characters with ``...``."""
    text = text.strip()
    return repr(text if len(text) <= SHOWN else text[: SHOWN - 3] + "...")


def _literal(node: ast.AST, where: str) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool | int | float | str)):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float) and not isinstance(node.operand.value, bool)):
        return -node.operand.value
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_literal(element, where) for element in node.elts)
    raise TrainlabError(f"{where}: bad argument {shown(ast.unparse(node))}; expected a number, string, tuple, "
                        "True/False or None")


def _layer_name(func: ast.expr, where: str) -> str:
    """``Dense``, ``layers.Dense`` or ``keras.layers.Dense`` → ``"Dense"`` (a dotted name; nothing is looked up)."""
    node = func
    while isinstance(node, ast.Attribute):
        node = node.value
    if not isinstance(node, ast.Name):
        raise TrainlabError(f"{where}: expected a layer name before '(', got {shown(ast.unparse(func))}")
    return func.attr if isinstance(func, ast.Attribute) else node.id


def parse_layer(text: str, position: int) -> tuple[str, list[Any], dict[str, Any]]:
    """``"Dense(256, activation='relu')"`` → ``("Dense", [256], {"activation": "relu"})``."""
    where = f"layer {position} {shown(text)}"
    try:
        return _parse_call(text, where)
    except (RecursionError, MemoryError):  # e.g. thousands of '-' signs: Python's parser gives up
        raise TrainlabError(f"{where}: too deeply nested to read; expected Name(args) with literal arguments, "
                            "e.g. Dense(64)") from None


def _parse_call(text: str, where: str) -> tuple[str, list[Any], dict[str, Any]]:
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        raise TrainlabError(f"{where}: malformed ({error.msg}); expected Name(args), e.g. Dense(64)") from None
    if not isinstance(node, ast.Call):
        raise TrainlabError(f"{where}: expected a layer call Name(args), e.g. Dense(64) or Flatten()")
    name = _layer_name(node.func, where)
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
        raise TrainlabError(f"{where}: *args and **kwargs are not supported; write the arguments out")
    args = [_literal(arg, where) for arg in node.args]
    kwargs = {kw.arg: _literal(kw.value, where) for kw in node.keywords if kw.arg is not None}
    return name, args, kwargs


def keras_summary(description: str) -> KerasSummary:
    """Parse a Sequential description and compute every layer's output shape and Keras parameter count."""
    rows: list[KerasLayer] = []
    shape: Shape | None = None
    batch: int | None = None
    for position, text in enumerate(split_layers(description), 1):
        name, args, kwargs = parse_layer(text, position)
        try:
            if name not in SPECS:
                close = [known for known in SPECS if known.lower() == name.lower()]
                hint = f"did you mean {close[0]}? " if close else ""
                raise TrainlabError(f"unknown layer {name!r}; {hint}supported: {', '.join(sorted(SPECS))}")
            bound = bind(name, args, kwargs)
            if name == "Input":
                if shape is not None:
                    raise TrainlabError("Input(shape=...) must be the first layer")
                batch = None if bound["batch_size"] is None else check_int("batch_size", bound["batch_size"], 1)
                shape = ()
            elif shape is None:
                shape = first_shape(name, bound)
                if shape is None:
                    raise TrainlabError(f"{name} needs an input shape first; start with Input(shape=(...)) "
                                        "or give it input_shape=(...)")
            out, count = SPECS[name][2](bound, shape)
            if not check_trainable(bound):
                count = ParamCount(0, count.total, count.formula)
        except TrainlabError as error:
            raise TrainlabError(f"layer {position} {shown(text)}: {error}") from None
        rows.append(KerasLayer(position, name, text, (batch, *out), count))
        shape = out
    return KerasSummary(rows)
